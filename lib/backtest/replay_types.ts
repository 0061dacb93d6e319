// What a replay (replay.ts) is given and gives back: the notifications in time order, the
// policy and the cluster at the start, and what it decided and how far the cluster went out.
import type { Notification } from "../intake/alertmanager.ts";
import type { Node } from "../base/node.ts";
import type { Policy } from "../decide/policy.ts";
import type { BreakerOpening, DomainPeak, ReplayDecision } from "./report_types.ts";

/** One webhook notification, and when Alertmanager would have sent it. */
export interface Delivery {
  at: Date;
  notification: Notification;
}

/** Options of {@link replay}. */
export interface ReplayOptions {
  policy: Policy;
  /** The cluster's Nodes at the start. */
  nodes: Node[];
  /** The replay's window: events after `to` are not replayed. */
  from: Date;
  to: Date;
  /** The service's `--hold-ttl` (default 4h). */
  holdTtlMs?: number;
  /** How long a drain takes (the backtest knows no pods): it ends `drained` after this. */
  drainMs: number;
  /** How long a replacement takes: its Node is gone and a Ready successor has joined after this. */
  replaceMs: number;
  /** A pause in force besides the policy's (the service's `--paused`). */
  paused?: boolean;
  /** The label keys whose peaks out are reported (default: the policy's domains and breaker). */
  domainKeys?: readonly string[];
}

/** Nodes out at one moment: not available (cordoned or NotReady) among those the gates count. */
export interface OutPoint {
  at: string;
  out: number;
  heldByNodeHeal: number;
}

/** What a replay did. */
export interface ReplayResult {
  decisions: ReplayDecision[];
  outOverTime: OutPoint[];
  /** The Nodes at the end. */
  nodes: Node[];
  /** Each opening of a breaker, those not listed, and the peaks per domain: see BacktestRun. */
  breakers: BreakerOpening[];
  breakersLeftOut: number;
  peakOutByDomain: DomainPeak[];
}
