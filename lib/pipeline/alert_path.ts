// The path of a notification's alerts: each alert is resolved to its Node through the index,
// decided and acted on in the Node's turn, and reported. A firing alert, which may take a Node
// out, is decided in the one take-out turn; a resolved one, which may give a Node back, confirms
// a skip on a fresh read. Alerts about different Nodes run at once.
import type { Applied } from "../act/node_writer.ts";
import { log } from "../base/log.ts";
import { OTHER_CLUSTER, otherCluster } from "../decide/cluster_guard.ts";
import { decide, type DecideOptions } from "../decide/decide.ts";
import type { Policy } from "../decide/policy.ts";
import type { Tally } from "../decide/tally.ts";
import type { Alert, Notification } from "../intake/alertmanager.ts";
import type { Metrics } from "../report/metrics.ts";
import type { Reporter } from "../report/reporter.ts";
import { type NodeIndex, resolveAlert, unresolvedMessage } from "../resolve/node_index.ts";
import type { Choose, NodeActs } from "./node_acts.ts";
import type { AlertResult, NotificationResult } from "./results.ts";
import type { BreakerStage } from "./breaker_stage.ts";

/** What the {@link AlertPath} works with. */
export interface AlertPathDeps {
  index: NodeIndex;
  metrics: Metrics;
  /** Whether writes are dry runs (the client's). */
  dryRun: () => boolean;
  reporter: Reporter;
  acts: NodeActs;
  /** The policy in force (its cluster: whose alerts these are). */
  policy: () => Policy;
  /** The gates' counts in force, where a firing alert's take-out is reserved. */
  tally: () => Tally;
  /** What decide() sees at `now`. */
  options: (now: Date) => DecideOptions;
  /** The correlated-failure breakers, told of every alert before any is decided. */
  breakers: BreakerStage;
}

/** An alert's identity in its result. */
type AlertBase = Pick<AlertResult, "fingerprint" | "alertname" | "status">;

/** See the module comment. */
export class AlertPath {
  #deps: AlertPathDeps;

  constructor(deps: AlertPathDeps) {
    this.#deps = deps;
  }

  /** Handles every alert of a notification (this replica leads). Never throws. */
  async handle(notification: Notification): Promise<NotificationResult> {
    if (notification.truncatedAlerts > 0) this.#truncated(notification);
    // A storm delivered at once opens its breaker before any of it is decided.
    this.#deps.breakers.sighted(notification.alerts);
    // One fresh read per Node and notification at most, however many alerts it carries.
    const freshlyRead = new Set<string>();
    const alerts = await Promise.all(
      notification.alerts.map((a) => this.#handleAlert(a, freshlyRead)),
    );
    return {
      retry: alerts.some((a) => a.outcome === "failed"),
      dryRun: this.#deps.dryRun(),
      truncatedAlerts: notification.truncatedAlerts,
      alerts,
    };
  }

  /** Counts and logs the alerts Alertmanager left out of `notification`. */
  #truncated(notification: Notification): void {
    this.#deps.metrics.truncated.inc(notification.truncatedAlerts);
    log("intake").warn(
      "Alertmanager left out {truncated} alerts of group {groupKey} (max_alerts); acting on the {count} that arrived",
      {
        truncated: notification.truncatedAlerts,
        groupKey: notification.groupKey,
        count: notification.alerts.length,
      },
    );
  }

  async #handleAlert(alert: Alert, freshlyRead: Set<string>): Promise<AlertResult> {
    const { reporter } = this.#deps;
    const base: AlertBase = {
      fingerprint: alert.fingerprint,
      alertname: alert.labels.alertname ?? "",
      status: alert.status,
    };
    // Another cluster's alert names none of this cluster's Nodes, whatever it says.
    const foreign = otherCluster(alert, this.#deps.policy().cluster);
    if (foreign) {
      return {
        ...base,
        ...reporter.notActedOn(base, { outcome: OTHER_CLUSTER, message: foreign }),
      };
    }
    // Resolve.
    const resolution = resolveAlert(alert, this.#deps.index);
    if (!resolution.node) {
      const message = unresolvedMessage(resolution);
      return { ...base, ...reporter.notActedOn(base, { outcome: "unresolved", message }) };
    }
    const name = resolution.node.metadata.name;
    log("resolve").debug("Alert {alertname} ({fingerprint}, {status}) is about node {node}", {
      ...base,
      node: name,
    });
    // Decide and act, in the Node's turn: a resolution never overtakes its firing.
    const choose: Choose = (node, now) => decide(alert, node, this.#deps.options(now));
    const applied = alert.status === "firing"
      ? await this.#firing(name, choose)
      : await this.#resolved(name, choose, freshlyRead);
    return this.#report(base, name, applied, alert);
  }

  /**
   * A firing alert, which may take Node `name` out, is decided in the one take-out turn, and a
   * take-out is counted from its decision until its write has ended: every gate counts every
   * take-out decided before it, while the writes go on at once.
   */
  #firing(name: string, choose: Choose): Promise<Applied> {
    const { acts } = this.#deps;
    return acts.write(
      name,
      choose,
      acts.inTakeOut((d, at) =>
        d.patch.spec?.unschedulable ? this.#deps.tally().reserve(name, at) : undefined
      ),
    );
  }

  /** A resolved alert confirms a skip on a fresh read (once per Node and notification). */
  #resolved(name: string, choose: Choose, freshlyRead: Set<string>): Promise<Applied> {
    return this.#deps.acts.write(name, choose, { confirmSkip: true, freshlyRead });
  }

  /** Reports what was applied on Node `name` for `alert`, and remembers it. */
  #report(
    base: AlertBase,
    name: string,
    applied: Applied,
    alert: Alert,
  ): AlertResult {
    const { reporter, metrics } = this.#deps;
    const outcome = reporter.applied(name, applied, alert);
    metrics.alerts.inc({ outcome: outcome.outcome });
    reporter.remember({ ...base, node: name, ...outcome });
    return { ...base, node: name, ...outcome };
  }
}
