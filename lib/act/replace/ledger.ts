// The replacement ledger as stored: the ConfigMap `node-heal-replacements` in node-heal's
// namespace, one JSON list under `replacements.json`. It outlives the Nodes it names (a replaced
// Node is deleted with its annotations) and node-heal's restarts and failovers, so the
// replacement gates count right after either. Every write carries the resourceVersion read: a
// replica that lost its lead, or two writes at once, meet 409 and decide again on what is stored.
// Anyone with RBAC in node-heal's namespace can write it too: every entry is read through the
// schema (decide/replacements.ts); one that fails it is reported, asks nothing, and counts as a
// replacement in flight until a person repairs or deletes it (docs/replacement.md).
import type { Clock } from "../../base/clock.ts";
import type { KubeClient, KubeObject, ObjectKind } from "../kube/types.ts";
import {
  type EntryProblem,
  MAX_ENTRIES,
  readEntry,
  type Replacement,
} from "../../decide/replacements.ts";
import { log } from "../../base/log.ts";
import { statusOf } from "../../base/retry.ts";
import type { UntrustedSink } from "./provider.ts";

/** The ConfigMap that holds the ledger. */
export const LEDGER_NAME = "node-heal-replacements";

/** Its key. */
export const LEDGER_KEY = "replacements.json";

const CONFIG_MAPS: ObjectKind = { group: "", version: "v1", plural: "configmaps" };

/** How often a write that met a newer ledger (409) is tried again on a fresh read. */
const MAX_CONFLICTS = 5;

/** The most a stored ledger may hold, as the API server bounds a ConfigMap: 1 MiB. */
export const MAX_LEDGER_CHARS = 1 << 20;

/** A stored entry that fails the schema: never followed, written back as it is. */
export interface Unreadable {
  /** How messages name it: its id when that is short and plain, else its place in the list. */
  label: string;
  problem: EntryProblem;
  /** The entry as stored. */
  raw: unknown;
}

/** What a {@link Ledger} works with beyond the client and its namespace. */
export interface LedgerOptions {
  /** This replica's clock: a stored time later than it (beyond a small skew) is refused. */
  now: Clock;
  /** Told of every entry (or whole ledger) that cannot be read. */
  untrusted?: UntrustedSink;
}

/** What a change of the ledger decides: the entries to store (undefined: store nothing), and an answer. */
export interface LedgerChange<T> {
  entries?: Replacement[];
  result: T;
}

/** The ledger of one namespace; see the module comment. */
export class Ledger {
  #client: KubeClient;
  #namespace: string;
  #options: LedgerOptions;
  #entries: Replacement[] = [];
  #unreadable: Unreadable[] = [];
  /** The version read or written last; undefined when the ConfigMap does not exist (yet). */
  #version?: string;
  /** Why the stored ledger cannot be read, if it cannot: nothing is written over it. */
  #damaged?: string;
  /** Changes run one at a time (each reads the result of the last). */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(client: KubeClient, namespace: string, options: LedgerOptions) {
    this.#client = client;
    this.#namespace = namespace;
    this.#options = options;
  }

  /** The replacements as last read or written, oldest first. */
  get entries(): readonly Replacement[] {
    return this.#entries;
  }

  /** The stored entries that fail the schema, as last read: each counts as one in flight. */
  get unreadable(): readonly Unreadable[] {
    return this.#unreadable;
  }

  /**
   * Why the stored ledger cannot be trusted (not JSON, not a list, too long), or undefined. A
   * damaged ledger is neither counted as empty nor written over: the replacement gates stop
   * every new replacement until a person repairs or deletes it.
   */
  get damaged(): string | undefined {
    return this.#damaged;
  }

  /** Reads the ledger again (after the changes under way: a read never overtakes a write). */
  refresh(): Promise<void> {
    const run = this.#tail.then(() => this.#read());
    this.#tail = run.catch(() => {});
    return run;
  }

  async #read(): Promise<void> {
    const stored = await this.#client.getObject(CONFIG_MAPS, LEDGER_NAME, this.#namespace);
    this.#take(stored);
  }

  /**
   * Applies `change` to the ledger as stored and writes what it returns, with the
   * resourceVersion read; on a conflict, reads again and applies it again. Resolves with the
   * change's answer. Changes run one at a time.
   */
  update<T>(change: (entries: readonly Replacement[]) => LedgerChange<T>): Promise<T> {
    const run = this.#tail.then(() => this.#update(change));
    this.#tail = run.catch(() => {});
    return run;
  }

  async #update<T>(change: (entries: readonly Replacement[]) => LedgerChange<T>): Promise<T> {
    // Repaired since? Read it again before refusing.
    if (this.#damaged) await this.#read();
    for (let attempt = 0;; attempt++) {
      if (this.#damaged) {
        throw new Error(
          `The replacement ledger ${this.#namespace}/${LEDGER_NAME} is damaged (${this.#damaged}); repair or delete it`,
        );
      }
      const { entries, result } = change(this.#entries);
      if (!entries) return result;
      try {
        this.#take(await this.#write(entries));
        return result;
      } catch (err) {
        const status = statusOf(err);
        if ((status !== 409 && status !== 404) || attempt >= MAX_CONFLICTS) throw err;
        // 409: written meanwhile; 404: deleted meanwhile (then made again, with what this
        // replica knows: the replacements it follows go on being counted).
        if (status === 409) await this.#read();
        else this.#version = undefined;
      }
    }
  }

  #write(entries: Replacement[]): Promise<KubeObject> {
    const object: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: LEDGER_NAME,
        namespace: this.#namespace,
        labels: { "app.kubernetes.io/name": "node-heal" },
        ...(this.#version ? { resourceVersion: this.#version } : {}),
      },
      // The entries this replica cannot read stay as they are, for a person to repair or delete.
      data: { [LEDGER_KEY]: JSON.stringify([...entries, ...this.#unreadable.map((u) => u.raw)]) },
    };
    return this.#version
      ? this.#client.replaceObject(CONFIG_MAPS, object)
      : this.#client.createObject(CONFIG_MAPS, object);
  }

  #take(stored: KubeObject | undefined): void {
    this.#version = stored?.metadata.resourceVersion;
    const object = `${this.#namespace}/${LEDGER_NAME}`;
    const parsed = parseLedger(stored?.data?.[LEDGER_KEY], this.#options.now());
    if ("damaged" in parsed) {
      if (parsed.damaged !== this.#damaged) {
        log("act").error(
          "The replacement ledger {namespace}/{name} is damaged ({error}): no replacement starts until it is repaired or deleted",
          { namespace: this.#namespace, name: LEDGER_NAME, error: parsed.damaged },
        );
      }
      this.#options.untrusted?.report({
        kind: "ledger",
        object,
        reason: "damaged",
        message: `The replacement ledger ${object} is damaged (${parsed.damaged}): no ` +
          "replacement starts until a person repairs or deletes it",
      });
      this.#damaged = parsed.damaged;
      return;
    }
    this.#damaged = undefined;
    this.#entries = parsed.entries;
    this.#unreadable = parsed.unreadable;
    for (const u of parsed.unreadable) {
      this.#options.untrusted?.report({
        kind: "ledger",
        object: `${object}[${u.label}]`,
        reason: u.problem.reason,
        message: `Entry ${u.label} of the replacement ledger ${object} cannot be read ` +
          `(${u.problem.message}): it asks nothing and names no successor, and counts as a ` +
          "replacement in flight until a person repairs or deletes it",
      });
    }
  }
}

/** How messages name a stored entry: its id when short and plain, else `#` and its place. */
function labelOf(raw: unknown, index: number): string {
  const id = (raw as { id?: unknown } | null)?.id;
  return typeof id === "string" && /^[\w.@:-]{1,80}$/.test(id) ? `"${id}"` : `#${index}`;
}

/**
 * The entries of a stored ledger read through the schema, at `now`: those that pass it, and
 * those that do not; or why the whole cannot be read (not JSON, not a list, too long). Never
 * throws.
 */
export function parseLedger(
  raw: string | undefined,
  now: Date,
): { entries: Replacement[]; unreadable: Unreadable[] } | { damaged: string } {
  if (raw === undefined || raw.trim() === "") return { entries: [], unreadable: [] };
  if (raw.length > MAX_LEDGER_CHARS) {
    return { damaged: `${LEDGER_KEY} is longer than ${MAX_LEDGER_CHARS} characters` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return { damaged: `${LEDGER_KEY} is not JSON: ${(err as Error).message.slice(0, 200)}` };
  }
  if (!Array.isArray(parsed)) return { damaged: `${LEDGER_KEY} is not a JSON list` };
  if (parsed.length > MAX_ENTRIES) {
    return { damaged: `${LEDGER_KEY} has ${parsed.length} entries, more than ${MAX_ENTRIES}` };
  }
  const entries: Replacement[] = [];
  const unreadable: Unreadable[] = [];
  for (const [i, r] of parsed.entries()) {
    const read = readEntry(r, now);
    if ("entry" in read) entries.push(read.entry);
    else unreadable.push({ label: labelOf(r, i), problem: read, raw: r });
  }
  return { entries, unreadable };
}
