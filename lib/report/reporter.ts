import type { Applied } from "../act/node_writer.ts";
import type { DrainReport } from "../act/drainer.ts";
import type { Decision, EventIntent } from "../decide/decision.ts";
import type { Alert } from "../intake/alertmanager.ts";
import { literal, log } from "../base/log.ts";
import type { DecisionLog, DecisionRecord } from "./decision_log.ts";
import type { EventRecorder } from "./events.ts";
import type { Metrics } from "./metrics.ts";
import type { ReplaceNews } from "../act/replace/replacer_deps.ts";
import type { Notifier } from "./notify/notifier.ts";
import { type Clock, systemClock } from "../base/clock.ts";
import { fromDecision, fromDrainEnd, fromReplacement } from "./notify/happenings.ts";
import { CLUSTER_GATE, OTHER_CLUSTER } from "../decide/cluster_guard.ts";
import type { AlertOutcome } from "./labels.ts";
import type { BreakerChange, BreakerState } from "../decide/breaker.ts";

/** What happened to one alert, or one reconciliation, on one Node. */
export interface Outcome {
  /**
   * An action taken (`cordon`, `uncordon`, ...), `skipped`, `unresolved` (no Node matched),
   * `otherCluster` (another cluster's alert, gate `cluster`), `rejected` (the API server refused
   * the write for good) or `failed` (retry).
   */
  outcome: AlertOutcome;
  gate?: string;
  message: string;
}

/** What a {@link Reporter} works with. */
export interface ReporterDeps {
  metrics: Metrics;
  events: EventRecorder;
  decisions: DecisionLog;
  dryRun: boolean;
  /** Tells people (Slack, PagerDuty, webhooks); never awaited. */
  notifier?: Notifier;
  now?: Clock;
}

/**
 * The report stage: turns what the node writer did into an outcome, and tells it. Every
 * decision is counted and logged; its Event is queued for the Node (written behind, so that it
 * never holds up the next decision); alerts and drain ends go in the decision log.
 */
export class Reporter {
  #deps: ReporterDeps;

  constructor(deps: ReporterDeps) {
    this.#deps = { ...deps };
  }

  /** Tells people through `notifier` from now on (a reloaded policy's sinks). */
  set notifier(notifier: Notifier | undefined) {
    this.#deps.notifier = notifier;
  }

  /** Reports what an alert (or, without `alert`, a reconciliation) came to on Node `name`. */
  applied(name: string, applied: Applied, alert?: Alert): Outcome {
    const { outcome, event } = this.#outcome(name, applied, alert);
    // A reconciliation's act or wait goes in the decision log too; a wait looked at again and
    // still waiting for the same reason is told once.
    if (!alert && (applied.kind === "written" || applied.kind === "skip")) {
      this.#deps.decisions.add({
        node: name,
        alertname: "",
        fingerprint: "",
        status: "reconcile",
        ...outcome,
      }, { once: true });
    }
    if (applied.kind === "written" || applied.kind === "skip") {
      const told = fromDecision(applied.decision, { alert, at: applied.at });
      if (told) this.#deps.notifier?.notify(told);
    }
    // Written behind: the Node's annotations are the record the next decision reads.
    if (event) this.#deps.events.record(name, event.intent, { at: event.at });
    return outcome;
  }

  /**
   * Tells a breaker's opening or closing: the metric, the log, one notification (a page at the
   * highest severity when it opens), and on opening a `NodeHealBreakerOpen` Event on each node it
   * names.
   */
  breaker(change: BreakerChange, at: Date): void {
    const { metrics, notifier, events } = this.#deps;
    const { state, message } = change;
    const opened = change.change === "opened";
    metrics.breakerOpen.set({ key: state.key ?? "", domain: state.value }, opened ? 1 : 0);
    if (opened) metrics.breakerOpenings.inc({ key: state.key ?? "" });
    log("decide")[opened ? "warn" : "info"]("Breaker of {domain} {change}: {message}", {
      domain: state.domain,
      change: change.change,
      message,
      nodes: state.nodes,
    });
    notifier?.notify({
      kind: opened ? "breakerOpen" : "breakerClosed",
      node: state.domain,
      message,
      gate: "breaker",
      cordonedAt: state.openedAt,
      at,
    });
    if (!opened) return;
    const intent = { reason: "NodeHealBreakerOpen" as const, type: "Warning" as const, message };
    for (const node of state.nodes) events.record(node, intent, { at });
  }

  /**
   * Sets `nodeheal_breaker_open` from the breakers as they are (after a replica leads again, its
   * breakers still open show again).
   */
  breakerGauges(states: readonly BreakerState[]): void {
    for (const s of states) {
      this.#deps.metrics.breakerOpen.set({ key: s.key ?? "", domain: s.value }, s.open ? 1 : 0);
    }
  }

  /** Records one alert's outcome in the decision log. */
  remember(record: Omit<DecisionRecord, "at" | "dryRun">): void {
    this.#deps.decisions.add(record);
  }

  /**
   * Reports an alert acted on nowhere, before any Node: another cluster's (`otherCluster`,
   * counted as a skip of the gate `cluster`), or one naming no Node of this cluster
   * (`unresolved`). Counted, logged and remembered; no Event (there is no Node to put it on).
   */
  notActedOn(
    alert: Pick<DecisionRecord, "fingerprint" | "alertname" | "status">,
    why: { outcome: typeof OTHER_CLUSTER | "unresolved"; message: string },
  ): Outcome {
    const { metrics } = this.#deps;
    metrics.alerts.inc({ outcome: why.outcome });
    const props = { ...alert, message: why.message };
    const foreign = why.outcome === OTHER_CLUSTER;
    if (foreign) {
      metrics.decisions.inc({ outcome: "skip", gate: CLUSTER_GATE });
      log("decide").info(
        "Alert {alertname} ({fingerprint}) is another cluster's: {message}",
        props,
      );
    } else {
      log("resolve").warn("Alert {alertname} ({fingerprint}) matches no node: {message}", props);
    }
    const outcome: Outcome = { outcome: why.outcome, message: why.message };
    if (foreign) outcome.gate = CLUSTER_GATE;
    this.remember({ ...alert, node: "", ...outcome });
    return outcome;
  }

  /** Reports the end of a drain, written (or not) by the node writer. */
  drainEnded(name: string, report: DrainReport, applied: Applied): void {
    if (applied.kind === "none" || applied.kind === "gone" || applied.kind === "skip") return;
    if (applied.kind !== "written") {
      log("act").error("Cannot record the end of the drain of {node}: {error}", {
        node: name,
        error: applied.kind === "failed"
          ? applied.error.message
          : `the node kept changing (${applied.tries} conflicts)`,
      });
    }
    const drained = report.outcome === "drained";
    const props = { node: name, outcome: report.outcome, blocking: report.blocking };
    if (drained) log("act").info(literal(report.message), props);
    else log("act").warn(literal(report.message), props);
    this.remember({
      node: name,
      alertname: "",
      fingerprint: "",
      status: "drain",
      outcome: drained ? "drained" : `drain-${report.outcome}`,
      message: report.message,
    });
    const decision = applied.kind === "conflicts" ? undefined : applied.decision;
    this.#deps.notifier?.notify(fromDrainEnd(name, {
      drained,
      message: report.message,
      ...(decision?.cordonedAt ? { cordonedAt: decision.cordonedAt } : {}),
      at: applied.kind === "conflicts" ? (this.#deps.now ?? systemClock)() : applied.at,
    }));
    // The Event tells how the drain ended, even when its end could not be written on the Node.
    const intent = decision?.event;
    if (intent && applied.kind !== "conflicts") {
      this.#deps.events.record(name, intent, { at: applied.at });
    }
  }

  /**
   * Reports a replacement's news: requested of its provider (logged), replaced or failed (an
   * Event on the old Node's name, which outlives the Node, a count, the decision log). `applied`
   * is the write of a failure on the Node, when it still exists.
   */
  replaceNews(news: ReplaceNews, applied?: Applied): void {
    const { metrics, events } = this.#deps;
    const r = news.replacement;
    metrics.replacements.inc({ provider: r.provider, outcome: news.kind });
    const props = { node: r.node, provider: r.provider, operation: r.operation, id: r.id };
    if (news.kind === "requested") {
      log("act").info(literal(`Replacing ${r.node}: ${r.message}`), props);
      return;
    }
    // Every ended replacement has its end time.
    const end = Date.parse(r.endedAt!);
    const seconds = Math.max(0, (end - Date.parse(r.startedAt)) / 1000);
    metrics.replaceSeconds.observe({ provider: r.provider, outcome: news.kind }, seconds);
    if (news.kind === "replaced") {
      // The remediation ends with the replacement: from its cordon (the ledger keeps it).
      const from = Date.parse(r.cordonedAt ?? r.startedAt);
      metrics.remediationOutcomes.inc({ step: "replace", outcome: "replaced" });
      metrics.timeToRecovery.observe({ step: "replace" }, Math.max(0, (end - from) / 1000));
    }
    const message = news.kind === "replaced"
      ? `Replaced ${r.node}: ${r.successor} took its place and is Ready (${r.provider}, ${
        Math.round(seconds)
      }s)`
      : `Cannot replace ${r.node}: ${r.message}`;
    if (news.kind === "replaced") log("act").info(literal(message), props);
    else log("act").error(literal(message), props);
    this.#deps.notifier?.notify(fromReplacement(r, news.kind === "replaced", message));
    if (applied?.kind === "failed") {
      log("act").error("Cannot record the failed replacement on {node}: {error}", {
        node: r.node,
        error: applied.error.message,
      });
    }
    this.remember({
      node: r.node,
      alertname: "",
      fingerprint: "",
      status: "replace",
      outcome: news.kind,
      message,
    });
    events.record(r.node, {
      reason: news.kind === "replaced" ? "NodeHealReplaced" : "NodeHealReplaceFailed",
      type: news.kind === "replaced" ? "Normal" : "Warning",
      message,
    }, { at: new Date(end) });
  }

  #outcome(
    name: string,
    applied: Applied,
    alert: Alert | undefined,
  ): { outcome: Outcome; event?: { intent: EventIntent; at: Date } } {
    const { metrics, dryRun } = this.#deps;
    switch (applied.kind) {
      case "none":
        return { outcome: { outcome: "skipped", message: `Nothing to do on ${name}` } };
      case "gone":
        return { outcome: { outcome: "unresolved", message: `Node ${name} no longer exists` } };
      case "conflicts":
        return {
          outcome: {
            outcome: "failed",
            message: `Node ${name} kept changing under node-heal: ${applied.tries} conflicts`,
          },
        };
      case "failed":
        log("act").error("Cannot {action} node {node} for alert {alertname}: {error}", {
          action: applied.action,
          node: name,
          alertname: alert?.labels.alertname ?? "(reconcile)",
          error: applied.error.message,
        });
        return {
          outcome: {
            outcome: applied.permanent ? "rejected" : "failed",
            message: applied.error.message,
          },
        };
      case "skip": {
        const { decision, at } = applied;
        metrics.decisions.inc({ outcome: "skip", gate: decision.gate });
        this.#log(decision, alert);
        return {
          outcome: { outcome: "skipped", gate: decision.gate, message: decision.message },
          event: decision.event ? { intent: decision.event, at } : undefined,
        };
      }
      case "written": {
        const { decision, at } = applied;
        metrics.decisions.inc({ outcome: "act", gate: "" });
        // As outcomes: a dry run escalates nothing, and counts nothing.
        if (decision.kind === "act" && decision.escalated && !dryRun) {
          metrics.escalations.inc({ to: decision.escalated });
        }
        this.#log(decision, alert);
        this.#remediationOutcome(decision);
        const intent = decision.event && dryRun
          ? { ...decision.event, message: `Dry run, not done: ${decision.event.message}` }
          : decision.event;
        return {
          outcome: {
            outcome: decision.action,
            // The answer says what the Event and the log say: nothing was done.
            message: dryRun ? `Dry run, not done: ${decision.message}` : decision.message,
          },
          event: intent ? { intent, at } : undefined,
        };
      }
    }
  }

  /**
   * Counts the outcome a written decision recorded on its Node, once (the write landed). In a dry
   * run nothing was recorded, so nothing is counted: the log says what would have been.
   */
  #remediationOutcome(decision: Decision): void {
    const o = decision.kind === "act" ? decision.outcome : undefined;
    if (!o) return;
    const props = { node: decision.node, ...o, dryRun: this.#deps.dryRun };
    log("decide").info("Remediation of {node} {outcome} (step {step}, {seconds}s)", props);
    if (this.#deps.dryRun) return;
    this.#deps.metrics.remediationOutcomes.inc({ step: o.step, outcome: o.outcome });
    if (o.outcome === "recovered" || o.outcome === "replaced") {
      this.#deps.metrics.timeToRecovery.observe({ step: o.step }, o.seconds);
    }
  }

  #log(decision: Decision, alert: Alert | undefined): void {
    const dryRun = this.#deps.dryRun;
    const props = {
      node: decision.node,
      alertname: alert?.labels.alertname,
      fingerprint: alert?.fingerprint,
      status: alert?.status,
      dryRun,
    };
    if (decision.kind === "skip") {
      log("decide").info(literal(decision.message), { ...props, gate: decision.gate });
    } else {
      const message = dryRun ? `Dry run, not done: ${decision.message}` : decision.message;
      log("act").info(literal(message), { ...props, action: decision.action });
    }
  }
}
