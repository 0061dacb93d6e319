// What of a Node's `node-heal.io/*` state the index takes in: what node-heal sealed (seal.ts),
// parsed by its schema (state_schema.ts), times in the future dropped. A Node whose state
// does not carry node-heal's seal (written or edited by someone else, copied from another Node,
// or from before state was sealed) is taken in without it: it is not node-heal's, whatever it
// says. What is dropped is told once (report/untrusted.ts, through `report`); nothing here throws.
// The index (resolve/node_index.ts) takes this in through its `admit` callback; service/ wires it.
import type { Clock } from "../base/clock.ts";
import { holdsState, SEAL, type StateSeal } from "./seal.ts";
import { cleanAnnotations, STATE_KEYS, stateKey } from "./node_state.ts";
import { RecentMap } from "../base/recent.ts";
import { clip } from "../base/clip.ts";

/** The longest state remembered as admitted (a hostile one can be a quarter megabyte). */
const MAX_SOUND_KEY = 4096;
import type { Node } from "../base/node.ts";

/** What admission drops, as report/untrusted.ts's `Finding` takes it. */
export interface StateFinding {
  kind: "node-state";
  /** The Node's name. */
  object: string;
  /** A short fixed word for the metric: `unsealed`, `seal`, `schema`, ... */
  reason: string;
  /** One sentence, never the value whole. */
  message: string;
  /** The Node the Event goes on. */
  node?: string;
}

/** What a {@link StateAdmission} works with. */
export interface AdmissionDeps {
  /** The seal node-heal's state must carry; without one, state is only parsed and bounded. */
  seal?: StateSeal;
  /** Told of what is dropped. */
  report?: (finding: StateFinding) => void;
  now: Clock;
}

/** See the module comment. */
export class StateAdmission {
  #deps: AdmissionDeps;
  /** States admitted whole lately, with their Node's name and uid. */
  #sound = new RecentMap<string, true>(512);

  constructor(deps: AdmissionDeps) {
    this.#deps = deps;
  }

  /**
   * Node `node` as the index should hold it: its state sealed and sound, or without it. A state
   * admitted whole lately, on the same Node, is taken in again unread: what is sound now stays
   * sound (a time in the future only comes nearer).
   */
  admit(node: Node): Node {
    try {
      return this.#admit(node);
    } catch (err) {
      // A bug, never the input's doing: the Node is taken in without node-heal's state, said,
      // and whatever takes Nodes in after it (a list, the watch) goes on.
      const name = node.metadata.name;
      this.#deps.report?.({
        kind: "node-state",
        object: name,
        reason: "error",
        message: `node-heal could not read its state on ${name} (${
          clip(err instanceof Error ? err.message : String(err), 200)
        }): it takes none of it as its own`,
        node: name,
      });
      const annotations = node.metadata.annotations;
      return annotations ? withAnnotations(node, withoutState(annotations)) : node;
    }
  }

  #admit(node: Node): Node {
    const annotations = node.metadata.annotations;
    if (!holdsState(annotations)) return node;
    const name = node.metadata.name;
    const key = JSON.stringify([name, node.metadata.uid ?? "", stateKey(annotations!)]);
    if (this.#sound.has(key)) return node;
    if (this.#deps.seal && !this.#deps.seal.verify(node)) {
      this.#deps.report?.({
        kind: "node-state",
        object: name,
        reason: annotations?.[SEAL] === undefined ? "unsealed" : "seal",
        message: `The node-heal.io annotations on ${name} do not carry node-heal's seal ` +
          `(written or edited by someone else): node-heal takes none of them as its own`,
        node: name,
      });
      return withAnnotations(node, withoutState(annotations!));
    }
    const clean = cleanAnnotations(annotations!, { now: this.#deps.now().getTime() });
    for (const problem of clean.problems) {
      this.#deps.report?.({
        kind: "node-state",
        object: name,
        reason: problem.reason,
        message: `Ignored on ${name}: ${problem.message}`,
        node: name,
      });
    }
    if (clean.problems.length > 0) return withAnnotations(node, clean.annotations);
    if (key.length <= MAX_SOUND_KEY) this.#sound.set(key, true);
    return node;
  }
}

/** `annotations` without node-heal's state and seal. */
function withoutState(annotations: Record<string, string>): Record<string, string> {
  const rest = { ...annotations };
  for (const key of [...STATE_KEYS, SEAL]) delete rest[key];
  return rest;
}

function withAnnotations(node: Node, annotations: Record<string, string>): Node {
  return { ...node, metadata: { ...node.metadata, annotations } };
}
