// What node-heal tells people, and where: the events a notification carries, and the sinks that
// deliver them (Slack, PagerDuty, a signed webhook, the log). Delivery is queued per sink and
// never awaited by a remediation (queue.ts).

import { NOTIFY_KINDS, SINK_TYPES } from "../../decide/notify_policy.ts";

export { NOTIFY_KINDS, SINK_TYPES };

/** One of {@link NOTIFY_KINDS}. */
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

/** The kinds that open (or worsen) an episode, and those that end it. */
export const TRIGGERS: ReadonlySet<NotifyKind> = new Set([
  "cordoned",
  "drainFailed",
  "replaceFailed",
  "breakerOpen",
]);
export const RESOLVES: ReadonlySet<NotifyKind> = new Set([
  "released",
  "replaced",
  "breakerClosed",
]);

/** One thing node-heal did (or was kept from doing) to a node. */
export interface NotifyEvent {
  /** Unique per event: receivers may drop a repeat of one they have (`Idempotency-Key`). */
  id: string;
  kind: NotifyKind;
  node: string;
  /** The node's step on node-heal's ladder after the event (`cordoned`, `drained`, ...), if any. */
  step?: string;
  /** One sentence: what happened, as the Kubernetes Event says it. */
  message: string;
  /** For `blocked`: the gate that blocked it. */
  gate?: string;
  /** The alert that drove it, when one did (a drain's end or a replacement's is driven by none). */
  alert?: {
    name: string;
    fingerprint: string;
    labels: Record<string, string>;
    summary?: string;
    /**
     * The alert's own links, the only ones a Slack message links from alert data (a label or a
     * summary holding a URL stays plain text): Prometheus' graph of the rule, and the
     * `runbook_url` annotation.
     */
    generatorURL?: string;
    runbookURL?: string;
  };
  /**
   * The node's remediation episode, from its cordon to its release: `NODE@CORDONED-AT`. Stable
   * across restarts (the cordon time is on the node, or in the replacement ledger), so a
   * PagerDuty incident opened by the cordon is resolved by the release.
   */
  episode: string;
  /** The replica that acted. */
  replica: string;
  /** When it happened (RFC 3339). */
  at: string;
  /** Decided in a dry run: nothing was written. */
  dryRun: boolean;
}

/** How one delivery attempt ended. */
export type Attempt =
  /** Delivered (2xx, or printed). */
  | { result: "sent" }
  /** May pass on a later attempt (network, timeout, 5xx, 429); `afterMs` from `Retry-After`. */
  | { result: "retry"; why: string; afterMs?: number }
  /** Refused for good (another 4xx): not tried again. */
  | { result: "rejected"; why: string };

/** One place notifications go. */
export interface Sink {
  /** The name in the policy (metrics and logs say it; never its secret). */
  readonly name: string;
  readonly type: SinkType;
  /**
   * The kinds this sink can say anything about; all when unset. PagerDuty has no words for a
   * drain's progress, so its sink lists TRIGGERS and RESOLVES, and its queue takes no other kind.
   */
  readonly kinds?: ReadonlySet<NotifyKind>;
  /** One delivery attempt of `event`, given up when `signal` aborts. Never throws. */
  deliver(event: NotifyEvent, signal: AbortSignal): Promise<Attempt>;
}

/** One of {@link SINK_TYPES}. */
export type SinkType = (typeof SINK_TYPES)[number];

/**
 * An event with its fields in the order every sink sends them, the optional ones (`step`, `gate`,
 * `alert`) only when set: the one place an event is built.
 */
export function notifyEvent(fields: NotifyEvent): NotifyEvent {
  const { id, kind, node, step, message, gate, alert, episode, replica, at, dryRun } = fields;
  return {
    id,
    kind,
    node,
    ...(step ? { step } : {}),
    message,
    ...(gate ? { gate } : {}),
    ...(alert ? { alert } : {}),
    episode,
    replica,
    at,
    dryRun,
  };
}
