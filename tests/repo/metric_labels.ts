// The values of every label of every metric node-heal exports, each read from the union its code
// counts with, and where docs/ must name them. docs_test.ts checks docs/ against this table.
import { NOTIFICATION_STATUSES } from "../../lib/server/webhook.ts";
import { CLOSED_AT } from "../../lib/server/guard_connection.ts";
import { ACTIONS, EVENT_REASONS, SKIP_REASONS } from "../../lib/decide/decision.ts";
import { GATES } from "../../lib/decide/gates.ts";
import { DRAIN_ENDS } from "../../lib/decide/drain_step.ts";
import { PROVIDERS } from "../../lib/decide/replace_policy.ts";
import { ESCALATION_TARGETS } from "../../lib/decide/escalate_policy.ts";
import { WRITE_RESULTS } from "../../lib/act/node_writer.ts";
import { DRAIN_OUTCOMES, EVICTION_RESULTS } from "../../lib/act/drainer.ts";
import { FENCED_WRITES } from "../../lib/act/fence.ts";
import { STEP_DOWN_REASONS } from "../../lib/act/elector.ts";
import { REPLACE_OUTCOMES } from "../../lib/act/replace/replacer_deps.ts";
import { POLICY_RELOAD_RESULTS } from "../../lib/service/policy_reload.ts";
import { BACKGROUND_TASKS, UNHANDLED_KINDS } from "../../lib/base/background.ts";
import { UNTRUSTED_KINDS } from "../../lib/report/untrusted.ts";
import { OUTCOME_STEPS, OUTCOMES } from "../../lib/decide/outcomes.ts";
import {
  ALERT_OUTCOMES,
  DECISION_OUTCOMES,
  EVENT_RESULTS,
  NOTIFY_RESULTS,
  RECONCILE_OUTCOMES,
} from "../../lib/report/labels.ts";

/**
 * A label's values, and where docs/ names them: in the metric's row of docs/configuration.md,
 * or (long vocabularies with a table or section of their own) anywhere in docs/. `free` is a
 * label whose values are not node-heal's to list (an HTTP code, a sink's name, a version).
 */
export type LabelValues =
  | { values: readonly string[]; in: "row" | "docs" }
  | { free: string };

const row = (values: readonly string[]): LabelValues => ({ values, in: "row" });
const docs = (values: readonly string[]): LabelValues => ({ values, in: "docs" });
const free = (why: string): LabelValues => ({ free: why });

/** Every labelled metric, by name, and its labels' values. */
export const METRIC_LABELS: Record<string, Record<string, LabelValues>> = {
  nodeheal_alertmanager_notifications_total: {
    status: row(NOTIFICATION_STATUSES),
    code: free("an HTTP status code"),
  },
  nodeheal_alerts_total: { outcome: row(ALERT_OUTCOMES) },
  nodeheal_decisions_total: {
    outcome: row(DECISION_OUTCOMES),
    gate: docs([...GATES, ...SKIP_REASONS]),
  },
  nodeheal_untrusted_state_total: {
    kind: row(UNTRUSTED_KINDS),
    reason: free("a short word its reader gives"),
  },
  nodeheal_fenced_writes_total: { write: row(FENCED_WRITES) },
  nodeheal_actions_total: { action: row(ACTIONS), result: row(WRITE_RESULTS) },
  nodeheal_events_total: { reason: docs(EVENT_REASONS), result: row(EVENT_RESULTS) },
  nodeheal_webhook_duration_seconds: { code: free("an HTTP status code") },
  nodeheal_reconciles_total: { outcome: row(RECONCILE_OUTCOMES) },
  nodeheal_drain_duration_seconds: { outcome: row(DRAIN_OUTCOMES) },
  nodeheal_drain_evicted_pods: { outcome: row(DRAIN_ENDS) },
  nodeheal_evictions_total: { result: row(EVICTION_RESULTS) },
  nodeheal_connections_closed_total: { limit: row(CLOSED_AT) },
  nodeheal_leader_stepdowns_total: { reason: row(STEP_DOWN_REASONS) },
  nodeheal_policy_reload_total: { result: row(POLICY_RELOAD_RESULTS) },
  nodeheal_notifications_total: { sink: free("a sink's name"), result: row(NOTIFY_RESULTS) },
  nodeheal_notification_queue_depth: { sink: free("a sink's name") },
  nodeheal_notification_delivery_seconds: { sink: free("a sink's name") },
  nodeheal_replacements_total: { provider: docs(PROVIDERS), outcome: row(REPLACE_OUTCOMES) },
  nodeheal_replace_duration_seconds: {
    provider: docs(PROVIDERS),
    outcome: row(REPLACE_OUTCOMES.filter((o) => o !== "requested")),
  },
  nodeheal_remediation_outcomes_total: { step: row(OUTCOME_STEPS), outcome: row(OUTCOMES) },
  nodeheal_time_to_recovery_seconds: { step: row(OUTCOME_STEPS) },
  nodeheal_breaker_open: {
    key: free("a label key of the policy's gates.breaker"),
    domain: free("a value of that label on the cluster's Nodes"),
  },
  nodeheal_escalations_total: { to: row(ESCALATION_TARGETS) },
  nodeheal_breaker_openings_total: { key: free("a label key of the policy's gates.breaker") },
  nodeheal_background_errors_total: { task: docs(BACKGROUND_TASKS) },
  nodeheal_unhandled_errors_total: { kind: row(UNHANDLED_KINDS) },
  nodeheal_build_info: { version: free("node-heal's version"), deno: free("Deno's version") },
};
