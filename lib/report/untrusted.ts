// What others wrote where node-heal keeps its state, and node-heal did not take: a `node-heal.io/*`
// annotation that fails its schema, a Lease field, a ledger entry, a NodeClaim or Machine that
// does not match its Node. Whoever found it ignores it for decisions; this tells people, once per
// object and reason: a warning in the log, `nodeheal_untrusted_state_total{kind,reason}`, and an
// Event (on the Node it is about, or on node-heal's namespace). Never throws, never echoes the
// value whole.
import type { Clock } from "../base/clock.ts";
import { clip } from "../base/clip.ts";
import { log } from "../base/log.ts";
import type { EventRecorder } from "./events.ts";
import type { Metrics } from "./metrics.ts";

/** Where the untrusted state was found: the metric's `kind` label. */
export const UNTRUSTED_KINDS = ["node-state", "lease", "ledger", "nodeclaim", "machine"] as const;

/** Where the untrusted state was found. */
export type UntrustedKind = (typeof UNTRUSTED_KINDS)[number];

/** One thing found untrusted, as its reader says it. */
export interface Finding {
  kind: UntrustedKind;
  /** The object it was found on: a Node's name, `namespace/name` of a Lease or ConfigMap. */
  object: string;
  /** A short, fixed word for the metric (`schema`, `future-time`, `too-many`, `signature`, ...). */
  reason: string;
  /** One sentence for the log and the Event; clipped, and never the value whole. */
  message: string;
  /** The Node the Event goes on; without it, node-heal's namespace. */
  node?: string;
}

/** Findings remembered at most, so that a storm of hostile objects cannot grow memory. */
const REMEMBERED = 4096;

/** What an {@link Untrusted} works with. */
export interface UntrustedDeps {
  metrics: Metrics;
  events?: EventRecorder;
  /** node-heal's namespace: where Events about objects that are not Nodes go. */
  namespace: string;
  now: Clock;
}

/** See the module comment. */
export class Untrusted {
  #deps: UntrustedDeps;
  /** Findings told, by kind, object and reason: each is told once until it changes. */
  #told = new Map<string, string>();

  constructor(deps: UntrustedDeps) {
    this.#deps = deps;
  }

  /** Tells `finding`, unless the same was told of the same object before. */
  report(finding: Finding): void {
    const key = `${finding.kind}\u0000${finding.object}\u0000${finding.reason}`;
    const message = clip(finding.message, 512);
    if (this.#told.get(key) === message) return;
    this.#told.delete(key);
    this.#told.set(key, message);
    if (this.#told.size > REMEMBERED) this.#told.delete(this.#told.keys().next().value!);
    const { metrics, events, namespace, now } = this.#deps;
    metrics.untrustedState.inc({ kind: finding.kind, reason: finding.reason });
    log("resolve").warn("Ignored {kind} on {object} that node-heal did not write: {message}", {
      kind: finding.kind,
      object: clip(finding.object, 253),
      reason: finding.reason,
      message,
    });
    const intent = {
      reason: "NodeHealUntrustedState" as const,
      type: "Warning" as const,
      message,
    };
    const at = now();
    if (!events) return;
    if (finding.node) events.record(finding.node, intent, { at });
    else events.record(namespace, intent, { at, kind: "Namespace" });
  }

  /** Forgets what was told of `object`, so that it is told again if it comes back (the Node went). */
  forget(kind: UntrustedKind, object: string): void {
    const prefix = `${kind}\u0000${object}\u0000`;
    for (const key of [...this.#told.keys()]) if (key.startsWith(prefix)) this.#told.delete(key);
  }
}
