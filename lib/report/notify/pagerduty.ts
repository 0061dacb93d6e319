// PagerDuty: Events API v2. A cordon or a failure triggers an alert, the release resolves it;
// both carry the same dedup_key (from the episode), so one remediation is one incident however
// often it worsens, and a restart of node-heal resolves the incident its predecessor opened.
import { createHash } from "node:crypto";
import { post } from "./http.ts";
import {
  type Attempt,
  type NotifyEvent,
  notifyEvent,
  type NotifyKind,
  RESOLVES,
  type Sink,
  TRIGGERS,
} from "./types.ts";
import { clip } from "../../base/clip.ts";

/** PagerDuty's limits on what we send. */
export const PAGERDUTY_LIMITS = { summary: 1024, dedupKey: 255 } as const;

/** The kinds PagerDuty is told: the others (a drain's progress, a gate) are no page's business. */
export const PAGERDUTY_KINDS: ReadonlySet<NotifyKind> = new Set([...TRIGGERS, ...RESOLVES]);

const SEVERITIES = ["info", "warning", "error", "critical"] as const;
type Severity = (typeof SEVERITIES)[number];

/** A failure pages at least as loudly as "error": node-heal could not finish what it started. */
const FAILURES: ReadonlySet<NotifyKind> = new Set(["drainFailed", "replaceFailed"]);

/**
 * The alert's `severity` label as PagerDuty's severity (critical, error, warning, info; anything
 * else or none is warning), raised to error for a failure.
 */
export function severityOf(event: NotifyEvent): Severity {
  const label = event.alert?.labels.severity?.toLowerCase();
  let severity: Severity = (SEVERITIES as readonly string[]).includes(label ?? "")
    ? label as Severity
    : "warning";
  if (FAILURES.has(event.kind) && SEVERITIES.indexOf(severity) < SEVERITIES.indexOf("error")) {
    severity = "error";
  }
  // A domain problem (many nodes at once) pages at the highest severity PagerDuty has.
  if (event.kind === "breakerOpen") severity = "critical";
  return severity;
}

/**
 * `node-heal/<episode>`; an episode too long for PagerDuty's 255 characters keeps its start and
 * gains a digest of the whole, so two long episodes never share a key.
 */
export function dedupKey(episode: string): string {
  const key = `node-heal/${episode}`;
  if (key.length <= PAGERDUTY_LIMITS.dedupKey) return key;
  const digest = createHash("sha256").update(episode).digest("hex").slice(0, 32);
  return `${key.slice(0, PAGERDUTY_LIMITS.dedupKey - digest.length - 1)}~${digest}`;
}

/** An Events API v2 event, as node-heal sends it (a resolve has no payload). */
export interface PagerDutyEvent {
  routing_key: string;
  event_action: "trigger" | "resolve";
  dedup_key: string;
  client?: string;
  payload?: {
    summary: string;
    source: string;
    severity: Severity;
    timestamp: string;
    component: string;
    group: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
}

/** The Events API v2 body for `event`, or undefined for a kind PagerDuty is not told. */
export function pagerDutyEvent(
  event: NotifyEvent,
  routingKey: string,
): PagerDutyEvent | undefined {
  const dedup_key = dedupKey(event.episode);
  if (RESOLVES.has(event.kind)) {
    return { routing_key: routingKey, event_action: "resolve" as const, dedup_key };
  }
  if (!TRIGGERS.has(event.kind)) return undefined;
  // The event as every sink has it, less its time (the payload's timestamp).
  const { at: _at, ...details } = notifyEvent(event);
  const summary = `node-heal: ${event.node} ${event.kind}${
    event.dryRun ? " (dry run)" : ""
  }: ${event.message}`;
  return {
    routing_key: routingKey,
    event_action: "trigger" as const,
    dedup_key,
    client: "node-heal",
    payload: {
      summary: clip(summary, PAGERDUTY_LIMITS.summary),
      source: event.node,
      severity: severityOf(event),
      timestamp: event.at,
      component: "node-heal",
      group: event.alert?.name ?? "node-heal",
      class: event.kind,
      custom_details: details,
    },
  };
}

/** A PagerDuty service's Events API v2 integration; `routingKey` is the secret. */
export class PagerDutySink implements Sink {
  readonly type = "pagerduty" as const;
  readonly kinds = PAGERDUTY_KINDS;
  // #private: no log of the sink object can show the routing key.
  readonly #routingKey: string;
  constructor(readonly name: string, routingKey: string, private readonly url: string) {
    this.#routingKey = routingKey;
  }

  deliver(event: NotifyEvent, signal: AbortSignal): Promise<Attempt> {
    const body = pagerDutyEvent(event, this.#routingKey);
    // The queue takes only `kinds`; should another reach here, it is refused, not faked as sent.
    if (!body) {
      return Promise.resolve({ result: "rejected", why: `PagerDuty is not told of ${event.kind}` });
    }
    return post({
      url: this.url,
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
      signal,
      secrets: [this.#routingKey],
    });
  }
}
