import type { Alert } from "../intake/alertmanager.ts";
import type { Node } from "../base/node.ts";
import { clip } from "../base/clip.ts";
import { ANNOTATIONS } from "./node_state.ts";
import type { Policy } from "./policy.ts";
import type { DrainOptions } from "./drain_plan.ts";
import type { Gate } from "./gates.ts";
import type { ReplaceView } from "./replacements.ts";
import type { Tally } from "./tally.ts";
import type { BreakerView } from "./breaker.ts";
import type { OutcomeBounds, OutcomeRecord } from "./outcomes.ts";

/**
 * The writes a decision can make. `hold`, `release` and `refresh` only change which alerts hold
 * a Node; `disown` drops node-heal's claim on a Node someone uncordoned; `forget` clears state;
 * `drain-progress` records a running drain's progress and heartbeat, `drain-end` its end,
 * `drain-halt` a drain the policy in force no longer allows (halts.ts);
 * `replace` marks a Node whose replacement starts (recorded in the ledger first), `replace-end`
 * one whose replacement failed; `record` records an outcome of a Node still held (outcomes.ts).
 */
export const ACTIONS = [
  "cordon",
  "drain",
  "uncordon",
  "hold",
  "release",
  "refresh",
  "disown",
  "forget",
  "drain-progress",
  "drain-end",
  "drain-halt",
  "replace",
  "replace-end",
  "record",
] as const;

/** A write a decision makes (the `action` label of `nodeheal_actions_total`). */
export type Action = (typeof ACTIONS)[number];

export type { Gate } from "./gates.ts";

/**
 * Why a decision made no change to the Node when no gate blocked it (the gates are in gates.ts
 * and protection.ts):
 * - `policy`: no policy rule gives the alert an action (or its rule says `none`, or no longer
 *   says how to drain or replace);
 * - `notOurs`: cordoned by someone else, so neither cordoned again nor uncordoned;
 * - `manualUncordon`: someone uncordoned a Node node-heal had cordoned for this alert;
 * - `duplicate`: this alert already holds this Node (a repeated delivery);
 * - `notHeld`: a resolved alert that holds nothing on this Node;
 * - `holdLimit`: the Node is held by more alerts than node-heal lists, and that was recorded lately;
 * - `stale`: a firing delivered after the resolution of the same alert (fingerprint and startsAt);
 * - `cluster`: the alert is another cluster's (cluster_guard.ts), decided before it names a Node.
 */
export const SKIP_REASONS = [
  "policy",
  "notOurs",
  "manualUncordon",
  "duplicate",
  "notHeld",
  "holdLimit",
  "stale",
  "cluster",
] as const;

/** A reason to change nothing that is not a gate. */
export type SkipReason = (typeof SKIP_REASONS)[number];

/** What a skip names: the gate that blocked it, or another reason (the `gate` label of metrics). */
export type SkipCause = Gate | SkipReason;

/** Every reason of an Event node-heal records (the `reason` label of `nodeheal_events_total`). */
export const EVENT_REASONS = [
  "NodeHealCordoned",
  "NodeHealUncordoned",
  "NodeHealSkipped",
  "NodeHealDrainStarted",
  "NodeHealDrained",
  "NodeHealDrainFailed",
  "NodeHealDrainHalted",
  "NodeHealReplaceStarted",
  "NodeHealReplaced",
  "NodeHealReplaceFailed",
  "NodeHealPolicyReloaded",
  "NodeHealPolicyRefused",
  "NodeHealUntrustedState",
  "NodeHealBreakerOpen",
  "NodeHealEscalated",
] as const;

/** The Event a decision asks the reporter to record on the Node. */
export interface EventIntent {
  reason: (typeof EVENT_REASONS)[number];
  type: "Normal" | "Warning";
  message: string;
}

/** A JSON merge patch of a Node, carrying the resourceVersion it was computed from. */
export interface NodePatch {
  metadata: { resourceVersion?: string; annotations?: Record<string, string | null> };
  spec?: { unschedulable: boolean | null };
}

/** What to do about one alert on one Node. */
export type Decision =
  | {
    kind: "act";
    action: Action;
    node: string;
    message: string;
    patch: NodePatch;
    event?: EventIntent;
    /** For `drain`: how to drain once the claim is written. */
    drain?: DrainOptions;
    /** When the Node was cordoned by node-heal (its remediation episode), if it was. */
    cordonedAt?: string;
    /** For `drain-halt`: the gate (or the policy) that halted the drain. */
    gate?: SkipCause;
    /** The outcome of the remediation this write records on the Node (outcomes.ts), if any. */
    outcome?: OutcomeRecord;
    /** For a cordon or hold that escalation (escalation.ts) sends further: where to. */
    escalated?: "drain" | "replace";
  }
  | { kind: "skip"; gate: SkipCause; node: string; message: string; event?: EventIntent };

/**
 * The alert's name as node-heal writes it on a Node and reads it back (state_schema.ts HOLD): at
 * most 253 characters (a label value may be 4 KB), never empty (an empty one, which Alertmanager
 * lets through, is "unnamed"), control characters and lone surrogates replaced by U+FFFD. So its
 * JSON is at most twice as long (`"` and `\\` escaped), and holds of the most alerts node-heal keeps
 * stay within what its reader takes: once, an empty name was written, dropped on reading back, and
 * its Node left cordoned with no hold to release it.
 */
export function alertName(alert: Alert): string {
  const name = alert.labels.alertname || "unnamed";
  return clip(name.toWellFormed().replace(CONTROL, "\uFFFD"), 253);
}

/** Control characters (C0, which JSON writes as six characters each; DEL and C1 with them). */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export function describeAlert(alert: Alert): string {
  const summary = alert.annotations.summary;
  return `alert ${alertName(alert)} (fingerprint ${alert.fingerprint})${
    summary ? `: ${clip(summary, 300)}` : ""
  }`;
}

/** Options of {@link decide} and {@link reconcile}. */
export interface DecideOptions {
  /** When the decision is made (the pipeline's clock). */
  now: Date;
  /** A hold not refreshed by a firing notification for this long is taken as resolved (ms). */
  holdTtlMs: number;
  /** Rules and gates; the default policy when absent. */
  policy?: Policy;
  /** Every Node as node-heal last saw it: the cluster truth the gates count from. */
  nodes?: Iterable<Node>;
  /** The same counted as Nodes change (the index's tally); when given, `nodes` is not scanned. */
  tally?: Tally;
  /** Whether a pause is in force (flag, policy file or the cluster's pause annotation). */
  paused?: boolean;
  /** This replica's name: the drainer it writes in its claims. */
  instance?: string;
  /** Nodes this process is draining now. */
  drainingHere?: ReadonlySet<string>;
  /** The replacements in the ledger (and decided), for the replacement gates. */
  replacements?: ReplaceView;
  /** The correlated-failure breakers (breaker.ts), when the policy sets one. */
  breakers?: BreakerView;
  /** When a Node held is `still-failing`, and a cordon `recurred` (outcomes.ts); defaults unset. */
  outcomeBounds?: OutcomeBounds;
}

/** The default hold TTL: four times the node-heal route's 1-hour `repeat_interval`. */
export const DEFAULT_HOLD_TTL_MS = 4 * 60 * 60 * 1000;

/** A decision to change nothing, because of `gate`; with `withEvent`, told on the Node. */
export function skip(
  gate: SkipCause,
  node: string,
  options: { message: string; withEvent: boolean },
): Decision {
  const { message } = options;
  return {
    kind: "skip",
    gate,
    node,
    message,
    event: options.withEvent ? { reason: "NodeHealSkipped", type: "Normal", message } : undefined,
  };
}

/** What an `act` decision writes: the annotations (and spec) to merge, and what to tell. */
export interface Write {
  message: string;
  annotations: Record<string, string | null>;
  spec?: NodePatch["spec"];
  event?: EventIntent;
  /** The outcome the write records (its annotation is among `annotations`). */
  outcome?: OutcomeRecord;
}

/** A decision to write `write` on `node`, carrying the resourceVersion it was decided on. */
export function act(action: Action, node: Node, write: Write): Decision {
  // The episode: the cordon this write makes, or the one on the Node (an uncordon clears it).
  const key = ANNOTATIONS.cordonedAt;
  const cordonedAt = write.annotations[key] ?? node.metadata.annotations?.[key];
  return {
    kind: "act",
    action,
    node: node.metadata.name,
    ...(cordonedAt ? { cordonedAt } : {}),
    ...(write.outcome ? { outcome: write.outcome } : {}),
    message: write.message,
    patch: {
      metadata: { resourceVersion: node.metadata.resourceVersion, annotations: write.annotations },
      ...(write.spec ? { spec: write.spec } : {}),
    },
    event: write.event,
  };
}
