import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { RuntimeMetrics } from "./runtime_metrics.ts";
import { EventMetrics } from "./event_metrics.ts";
import {
  Background,
  BACKGROUND_TASKS,
  UNHANDLED_KINDS,
  type UnhandledKind,
} from "../base/background.ts";
import type { SkipCause } from "../decide/decision.ts";
import { OUTCOME_STEPS, type OutcomeKind, OUTCOMES, type OutcomeStep } from "../decide/outcomes.ts";
import { ESCALATION_TARGETS, type EscalationTarget } from "../decide/escalate_policy.ts";
import type { AlertOutcome, DECISION_OUTCOMES, LabelledCounter, NotifyResult } from "./labels.ts";

/** node-heal's Prometheus metrics, in a registry of their own (one per server). */
export class Metrics {
  readonly registry = new Registry();
  /** Build info, process and runtime metrics; its lag sampler runs while a process serves. */
  readonly runtime = new RuntimeMetrics(this.registry);
  /** Notifications received, by their status. */
  readonly notifications = new Counter({
    name: "nodeheal_alertmanager_notifications_total",
    help: "Alertmanager notifications received, by notification status and HTTP answer code.",
    labelNames: ["status", "code"] as const,
    registers: [this.registry],
  });
  /** Alerts handled, by outcome. */
  readonly alerts: LabelledCounter<{ outcome: AlertOutcome }> = new Counter({
    name: "nodeheal_alerts_total",
    help:
      "Alerts handled, by outcome: an action (cordon, uncordon, hold, release, forget, drain, replace, ...), skipped, unresolved (no matching node), otherCluster (another cluster's alert, policy cluster), rejected or failed.",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  /** Decisions, by outcome and the gate that blocked them (empty when none did). */
  readonly decisions: LabelledCounter<{
    outcome: (typeof DECISION_OUTCOMES)[number];
    gate: SkipCause | "";
  }> = new Counter({
    name: "nodeheal_decisions_total",
    help: "Decisions made, by outcome (act or skip) and the gate that blocked them.",
    labelNames: ["outcome", "gate"] as const,
    registers: [this.registry],
  });
  /** State others wrote where node-heal keeps its own, ignored for decisions (report/untrusted.ts). */
  readonly untrustedState = new Counter({
    name: "nodeheal_untrusted_state_total",
    help:
      "Values node-heal read where it keeps its state and did not take: node-heal.io/* annotations, Lease fields, ledger entries, NodeClaims and Machines that fail their schema or do not match; by kind and reason.",
    labelNames: ["kind", "reason"] as const,
    registers: [this.registry],
  });
  /** Writes the fence refused, by kind: this replica no longer led when they were to be sent. */
  readonly fencedWrites = new Counter({
    name: "nodeheal_fenced_writes_total",
    help:
      "Writes that take something away (evict, patch, create, replace, delete, cloud) refused immediately before they were sent: this replica no longer led.",
    labelNames: ["write"] as const,
    registers: [this.registry],
  });
  /** Writes to nodes, by kind and result. */
  readonly actions = new Counter({
    name: "nodeheal_actions_total",
    help: "Writes to nodes, by action and result (success, conflict, failure, dry_run).",
    labelNames: ["action", "result"] as const,
    registers: [this.registry],
  });
  /** Events: what became of each record, those waiting, their delay (event_metrics.ts). */
  readonly events = new EventMetrics(this.registry);
  /** Alerts Alertmanager left out of notifications (max_alerts). */
  readonly truncated = new Counter({
    name: "nodeheal_truncated_alerts_total",
    help: "Alerts Alertmanager left out of notifications because of max_alerts.",
    registers: [this.registry],
  });
  /** Webhook latency. */
  readonly webhookSeconds = new Histogram({
    name: "nodeheal_webhook_duration_seconds",
    help: "Time to handle one webhook request, by HTTP answer code.",
    labelNames: ["code"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  /** Reconciliations that wrote something, by outcome. */
  readonly reconciles = new Counter({
    name: "nodeheal_reconciles_total",
    help:
      "Writes made outside any alert, by outcome: disown (someone uncordoned a node node-heal cordoned), release, uncordon or forget (holds not seen for the hold TTL), failed.",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  /** How long drains took, by how they ended. */
  readonly drainSeconds = new Histogram({
    name: "nodeheal_drain_duration_seconds",
    help:
      "Time from the start of a drain to its end, by outcome (drained, refused, failed, stopped, halted).",
    labelNames: ["outcome"] as const,
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  /** Pods each finished drain evicted, counted across resumes. */
  readonly drainEvictedPods = new Histogram({
    name: "nodeheal_drain_evicted_pods",
    help:
      "Pods a drain evicted from its start to its end, across restarts that resumed it, by outcome (drained, refused, failed).",
    labelNames: ["outcome"] as const,
    buckets: [0, 1, 5, 10, 20, 50, 110, 250],
    registers: [this.registry],
  });
  /** Eviction attempts, by result. */
  readonly evictions = new Counter({
    name: "nodeheal_evictions_total",
    help:
      "Eviction attempts, by result: evicted, gone (already deleted), blocked (a PodDisruptionBudget, 429), error.",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  /** Connections closed by a limit. */
  readonly connectionsClosed = new Counter({
    name: "nodeheal_connections_closed_total",
    help:
      "Connections node-heal closed at a limit: header (head not complete in time), idle (kept alive too long), request (overstayed the request timeout), connections (too many open), client (a client past its share), shed (idle or waiting, closed to make room for another client), body (a request or HTTP/2 stream sent far more than the body limit), streams (too many HTTP/2 streams open), framing (HTTP/1.1 framing the server could not read, answered 400).",
    labelNames: ["limit"] as const,
    registers: [this.registry],
  });
  /** 1 on the replica that holds the Lease (or runs without leader election), else 0. */
  readonly leader = new Gauge({
    name: "nodeheal_leader",
    help: "1 on the replica that leads (holds the Lease, or runs without leader election), else 0.",
    registers: [this.registry],
  });
  /** Times this replica started leading. */
  readonly leaderTransitions = new Counter({
    name: "nodeheal_leader_transitions_total",
    help: "Times this replica started leading.",
    registers: [this.registry],
  });
  /** Times this replica stopped leading, by why (never at shutdown). */
  readonly leaderStepdowns = new Counter({
    name: "nodeheal_leader_stepdowns_total",
    help:
      "Times this replica stopped leading other than at shutdown, by reason: held_by_other, lease_gone, update_conflict, create_raced, renew_deadline, watch_unhealthy.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  /** 1 while a domain's correlated-failure breaker is open, 0 once it closed. */
  readonly breakerOpen = new Gauge({
    name: "nodeheal_breaker_open",
    help:
      "1 while the correlated-failure breaker of a domain is open (drains and replacements held there), 0 once it closed; by label key (empty for the whole selection) and domain value.",
    labelNames: ["key", "domain"] as const,
    registers: [this.registry],
  });
  /** Times a breaker opened. */
  readonly breakerOpenings = new Counter({
    name: "nodeheal_breaker_openings_total",
    help:
      "Times a correlated-failure breaker opened, by label key (empty for the whole selection).",
    labelNames: ["key"] as const,
    registers: [this.registry],
  });
  /** Cordons and holds a rule's `escalate:` sent further up the ladder, by where to. */
  readonly escalations: LabelledCounter<{ to: EscalationTarget }> = new Counter({
    name: "nodeheal_escalations_total",
    help:
      "Remediations sent straight to a later step of their rule's ladder because the node was remediated escalate.after times within escalate.within, by the step escalated to (drain, replace).",
    labelNames: ["to"] as const,
    registers: [this.registry],
  });
  /** Nodes remediated at least REPEAT_OFFENDER_MIN times within REPEAT_WINDOW_MS. */
  readonly repeatOffenders: Gauge = new Gauge({
    name: "nodeheal_repeat_offenders",
    help:
      "Nodes node-heal remediated 3 or more times in the last 24 hours (counted from the node-heal.io/remediated-at history of the nodes it watches, at each scrape); /status names them.",
    registers: [this.registry],
    collect: () => {
      const count = this.countRepeatOffenders?.();
      if (count !== undefined) this.repeatOffenders.set(count);
    },
  });
  /** Counts the repeat offenders at each scrape, once the service has Nodes to count. */
  countRepeatOffenders?: () => number;
  /** Nodes in the watch-fed index. */
  readonly indexedNodes = new Gauge({
    name: "nodeheal_indexed_nodes",
    help: "Nodes in the watch-fed node index.",
    registers: [this.registry],
  });
  /** Errors of the node watch. */
  readonly watchErrors = new Counter({
    name: "nodeheal_node_watch_errors_total",
    help: "Errors of the node list and watch (each is retried with backoff).",
    registers: [this.registry],
  });
  /** Policy files read again after an edit, by result. */
  readonly policyReloads = new Counter({
    name: "nodeheal_policy_reload_total",
    help:
      "Edits of the policy file, by result: applied (in force now), refused (invalid; the policy in force stays).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  /** Notifications node-heal sends, by sink and how each ended. */
  readonly sent: LabelledCounter<{ sink: string; result: NotifyResult }> = new Counter({
    name: "nodeheal_notifications_total",
    help:
      "Notifications to people, by sink and result: sent, retried (an attempt that will be tried again), rejected (a 4xx, not retried), dropped (the queue was full, or shutdown came first), expired (retried for too long).",
    labelNames: ["sink", "result"] as const,
    registers: [this.registry],
  });
  /** Notifications waiting in each sink's queue. */
  readonly notifyQueue = new Gauge({
    name: "nodeheal_notification_queue_depth",
    help: "Notifications waiting in a sink's queue (bounded; the oldest is dropped when full).",
    labelNames: ["sink"] as const,
    registers: [this.registry],
  });
  /** From an event to its delivery. */
  readonly notifySeconds = new Histogram({
    name: "nodeheal_notification_delivery_seconds",
    help: "Time from queueing a notification to its delivery, retries included, by sink.",
    labelNames: ["sink"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  /** Replacements, as each was requested of its provider and as it ended. */
  readonly replacements = new Counter({
    name: "nodeheal_replacements_total",
    help:
      "Node replacements by provider and outcome: requested (the provider accepted), replaced (a successor is Ready), failed.",
    labelNames: ["provider", "outcome"] as const,
    registers: [this.registry],
  });
  /** Replacements under way, from the ledger. */
  readonly replacementsInFlight = new Gauge({
    name: "nodeheal_replacements_in_flight",
    help:
      "Node replacements under way (recorded in the ledger, not yet replaced or failed), as the leader counts them.",
    registers: [this.registry],
  });
  /** How long replacements took. */
  readonly replaceSeconds = new Histogram({
    name: "nodeheal_replace_duration_seconds",
    help:
      "Time from the start of a replacement to its end (a successor Ready, or failed), by provider and outcome.",
    labelNames: ["provider", "outcome"] as const,
    buckets: [10, 30, 60, 120, 300, 600, 900, 1800, 3600],
    registers: [this.registry],
  });
  /** How remediations ended, counted once each (decide/outcomes.ts). */
  readonly remediationOutcomes: LabelledCounter<{ step: OutcomeStep; outcome: OutcomeKind }> =
    new Counter({
      name: "nodeheal_remediation_outcomes_total",
      help:
        "Remediation outcomes, by the furthest step reached (cordon, drain, replace) and outcome: recovered (the node returned), replaced, still-failing (held past the bound, once per remediation), recurred (cordoned again for the alert it recovered from, within the window).",
      labelNames: ["step", "outcome"] as const,
      registers: [this.registry],
    });
  /** From a remediation's first alert to its recovery or replacement. */
  readonly timeToRecovery = new Histogram({
    name: "nodeheal_time_to_recovery_seconds",
    help:
      "Time from a remediation's first alert (or its cordon) to its end, recovered or replaced, by the furthest step reached.",
    labelNames: ["step"] as const,
    buckets: [60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 259200],
    registers: [this.registry],
  });

  /** Background tasks that threw or rejected, by task: each a bug, logged, and the process went on. */
  readonly backgroundErrors = new Counter({
    name: "nodeheal_background_errors_total",
    help:
      "Background tasks that threw or rejected (a bug, or input nobody foresaw), by task; each is logged and node-heal goes on.",
    labelNames: ["task"] as const,
    registers: [this.registry],
  });
  /** Rejections nobody handled and errors nobody caught, in the whole process: each a bug. */
  readonly unhandledErrors: LabelledCounter<{ kind: UnhandledKind }> = new Counter({
    name: "nodeheal_unhandled_errors_total",
    help:
      "Rejections nobody handled and errors nobody caught, by kind (rejection, error): each a bug, logged, and node-heal goes on.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  /** Runs this service's background tasks: what one throws is logged and counted here. */
  readonly background = new Background((task) => this.backgroundErrors.inc({ task }));

  constructor() {
    // Every task and kind shows 0 from the start, so that the first failure is an increase.
    for (const task of BACKGROUND_TASKS) this.backgroundErrors.inc({ task }, 0);
    for (const kind of UNHANDLED_KINDS) this.unhandledErrors.inc({ kind }, 0);
    for (const step of OUTCOME_STEPS) {
      for (const outcome of OUTCOMES) this.remediationOutcomes.inc({ step, outcome }, 0);
    }
    for (const to of ESCALATION_TARGETS) this.escalations.inc({ to }, 0);
  }

  /** The Prometheus text exposition of every metric. */
  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
