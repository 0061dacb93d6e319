// The label values of the metrics the report stage itself counts, each a union exported once:
// the code that counts uses the type, and tests/repo/docs_test.ts checks docs/ names every value.
import type { Counter } from "prom-client";
import type { Action, Decision } from "../decide/decision.ts";
import { DECIDE_ACTIONS } from "../decide/decide.ts";
import { RECONCILE_ACTIONS } from "../decide/reconcile.ts";

/** What happened to an alert when no write was made: the outcomes besides an action. */
export const NOT_ACTED = ["skipped", "unresolved", "otherCluster", "rejected", "failed"] as const;

/**
 * What happened to one alert, or one reconciliation, on one Node: the action written, `skipped`,
 * `unresolved` (no Node matched), `otherCluster` (another cluster's alert, gate `cluster`),
 * `rejected` (the API server refused the write for good) or `failed` (retry).
 */
export type AlertOutcome = Action | (typeof NOT_ACTED)[number];

/** What happened to one alert (the `outcome` label of `nodeheal_alerts_total`). */
export const ALERT_OUTCOMES = [
  ...DECIDE_ACTIONS,
  ...NOT_ACTED,
] as const satisfies readonly AlertOutcome[];

/** What a reconciliation that did something came to (the `outcome` label of `nodeheal_reconciles_total`). */
export const RECONCILE_OUTCOMES = [
  ...RECONCILE_ACTIONS,
  "unresolved",
  "rejected",
  "failed",
] as const;

/** What a reconciliation that did something came to. */
export type ReconcileOutcome = (typeof RECONCILE_OUTCOMES)[number];

/** Whether a decision wrote or skipped (the `outcome` label of `nodeheal_decisions_total`). */
export const DECISION_OUTCOMES = ["act", "skip"] as const satisfies readonly Decision["kind"][];

/** What became of an Event (the `result` label of `nodeheal_events_total`). */
export const EVENT_RESULTS = ["created", "counted", "failure", "dry_run", "dropped"] as const;

/** What became of an Event. */
export type EventResult = (typeof EVENT_RESULTS)[number];

/** How one notification to people went (the `result` label of `nodeheal_notifications_total`). */
export const NOTIFY_RESULTS = ["sent", "retried", "rejected", "dropped", "expired"] as const;

/** How one notification to people went. */
export type NotifyResult = (typeof NOTIFY_RESULTS)[number];

/** A counter whose labels take only the values of their unions. */
export type LabelledCounter<L extends Record<string, string>> =
  & Omit<Counter<Extract<keyof L, string>>, "inc">
  & { inc(labels: L, value?: number): void };
