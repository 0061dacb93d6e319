// What the replacer (replacer.ts) works with and what it tells: its dependencies, the news of a
// replacement (requested, replaced, failed), and the refusal of a start a gate says no to on the
// stored ledger.
import type { Background } from "../../base/background.ts";
import type { Clock } from "../../base/clock.ts";
import type { Policy } from "../../decide/policy.ts";
import type { Replacement } from "../../decide/replacements.ts";
import type { NodeIndex } from "../../resolve/node_index.ts";
import type { KubeClient } from "../kube/types.ts";
import type { ReplaceProvider, UntrustedSink } from "./provider.ts";

/** How a replacement ended, or that it started, as the replacer tells it. */
export type ReplaceNews = { kind: ReplaceOutcome; replacement: Replacement };

/** How a replacement was asked for and ended (the `outcome` label of `nodeheal_replacements_total`). */
export const REPLACE_OUTCOMES = ["requested", "replaced", "failed"] as const;

/** How a replacement was asked for and ended. */
export type ReplaceOutcome = (typeof REPLACE_OUTCOMES)[number];

/** What a {@link Replacer} works with. */
export interface ReplacerDeps {
  client: KubeClient;
  index: NodeIndex;
  /** The policy in force (it may be reloaded). */
  policy: () => Policy;
  /** The provider of each rule that replaces, by rule name, in force. */
  providers: () => ReadonlyMap<string, ReplaceProvider>;
  /** node-heal's namespace: where the ledger is. */
  namespace: string;
  /** This replica's name, recorded as who started a replacement. */
  instance: string;
  now: Clock;
  /** How often a replacement in flight is looked at (ms; default 2 s). */
  pollMs?: number;
  /** Whether a pause is in force (a provider not yet asked waits for its end). */
  paused?: () => boolean;
  /** Told when a replacement was requested of its provider, and when it ended. */
  told: (news: ReplaceNews) => void | Promise<void>;
  /** Told of ledger entries, NodeClaims and Machines found untrusted (report/untrusted.ts). */
  untrusted?: UntrustedSink;
  /** Runs the followers, a failure of one logged and counted (the service's); one that only logs by default. */
  background?: Background;
}

/** A replacement that may not start after all: a gate, as counted on the stored ledger, says no. */
export class ReplaceBlocked extends Error {
  readonly gate: string;
  constructor(gate: string, message: string) {
    super(message);
    this.gate = gate;
  }
}
