import { KubeError } from "../act/kube/types.ts";
import type { DrainSupervisor } from "../act/drain_supervisor.ts";
import { DrainStage } from "./drain_stage.ts";
import { type Applied, type ApplyOptions, NodeWriter } from "../act/node_writer.ts";
import { Turns } from "./turns.ts";
import type { Replacer } from "../act/replace/replacer.ts";
import type { ReplaceProvider } from "../act/replace/provider.ts";
import { ReplaceStage } from "./replace_stage.ts";
import type { Notifier } from "../report/notify/notifier.ts";
import { systemClock } from "../base/clock.ts";
import {
  decide,
  type DecideOptions,
  type Decision,
  DEFAULT_HOLD_TTL_MS,
  reconcile,
} from "../decide/decide.ts";
import { readState } from "../decide/node_state.ts";
import { OTHER_CLUSTER, otherCluster } from "../decide/cluster_guard.ts";
import { drainDue, lookAgainAt } from "../decide/drain_step.ts";
import { replaceDue } from "../decide/replace_step.ts";
import type { Replacement } from "../decide/replacements.ts";
import { DEFAULT_POLICY, type Policy } from "../decide/policy.ts";
import { Tally } from "../decide/tally.ts";
import type { Alert, Notification } from "../intake/alertmanager.ts";
import { log } from "../base/log.ts";
import type { Node } from "../base/node.ts";
import { DecisionLog, type DecisionRecord } from "../report/decision_log.ts";
import { Reporter } from "../report/reporter.ts";
import {
  type AlertResult,
  NOT_LEADER,
  type NotificationResult,
  notLeading,
  type PipelineDeps,
} from "./results.ts";
import { resolveAlert, unresolvedMessage } from "../resolve/node_index.ts";

export type { DecisionRecord } from "../report/decision_log.ts";

export type { AlertResult, NotificationResult, PipelineDeps } from "./results.ts";

/**
 * The pipeline from a parsed notification to actions on Nodes: resolve each alert to its Node
 * through the index, decide, act through the node writer, report. Alerts about different Nodes
 * run at once; alerts about one Node, its reconciliations and its drain's end run in its turn.
 */
export class Pipeline {
  #deps: PipelineDeps;
  #turns = new Turns();
  #writer: NodeWriter;
  #drains: DrainSupervisor;
  #decisions: DecisionLog;
  #reporter: Reporter;
  /** The gates' counts over the index, kept current as Nodes change. */
  #tally: Tally;
  #replace: ReplaceStage;
  #policy: Policy;
  #providers: ReadonlyMap<string, ReplaceProvider>;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
    const now = deps.now ?? systemClock;
    const { client, index, metrics } = deps;
    this.#policy = deps.policy ?? DEFAULT_POLICY;
    this.#providers = deps.providers ?? new Map();
    this.#tally = this.#newTally();
    this.#writer = new NodeWriter({ client, index, metrics, now, seal: deps.seal });
    this.#decisions = new DecisionLog({ now, dryRun: client.dryRun });
    this.#reporter = new Reporter({
      metrics,
      events: deps.events,
      decisions: this.#decisions,
      dryRun: client.dryRun,
      notifier: deps.notifier,
      now,
    });
    this.#drains = new DrainStage({
      client,
      index,
      metrics,
      now,
      writer: this.#writer,
      instance: this.#instance,
      retryMs: deps.drainRetryMs,
      policy: () => this.#policy,
      paused: () => deps.paused?.() ?? false,
      mayAct: () => this.#mayAct(),
      reporter: this.#reporter,
      write: (name, choose) => this.#turns.node(name, () => this.#act(name, choose)),
      due: (name) => this.reconcile(name),
      wakeWaiting: () => this.#wakeWaiting(),
    }).supervisor;
    this.#replace = new ReplaceStage({
      client,
      index,
      metrics,
      now,
      policy: () => this.#policy,
      providers: () => this.#providers,
      namespace: deps.namespace ?? "node-heal",
      instance: this.#instance,
      pollMs: deps.replacePollMs,
      paused: () => deps.paused?.() ?? false,
      reporter: this.#reporter,
      write: (name, choose) => this.#turns.node(name, () => this.#act(name, choose)),
      wakeWaiting: () => this.#wakeWaiting(),
      untrusted: deps.untrusted,
    });
  }

  /** The policy in force. */
  get policy(): Policy {
    return this.#policy;
  }

  /**
   * Puts a reloaded policy in force, with its providers and notifier, at once: between two
   * decisions (in the take-out turn), so no decision sees half of it. The gates count afresh
   * from the index under the new gates.
   */
  async applyPolicy(next: {
    policy: Policy;
    providers: ReadonlyMap<string, ReplaceProvider>;
    notifier?: Notifier;
  }): Promise<void> {
    await this.#turns.takeOut(() => {
      this.#policy = next.policy;
      this.#providers = next.providers;
      this.#deps.index.unfollow(this.#tally);
      this.#tally = this.#newTally();
      this.#reporter.notifier = next.notifier;
      return Promise.resolve();
    });
  }

  /** The gates' counts over the index under the policy in force, kept current as Nodes change. */
  #newTally(): Tally {
    const tally = new Tally(this.#policy.gates);
    tally.replacingGone = () => this.#replace?.replacer.goneInFlight() ?? 0;
    this.#deps.index.follow(tally);
    return tally;
  }

  /** Whether this replica may act: it leads (always, without leader election). */
  #mayAct(): boolean {
    return this.#deps.leading?.() ?? true;
  }

  get #instance(): string {
    return this.#deps.instance ?? "node-heal";
  }

  /** The last decisions, newest last. */
  recentDecisions(): DecisionRecord[] {
    return this.#decisions.list();
  }

  /**
   * Stops every drain and replacement followed here and waits for them (at shutdown, or when
   * this replica stops leading): drain claims stay on the Nodes and replacements in the ledger,
   * for a restart or the next leader to resume.
   */
  async stopDrains(): Promise<void> {
    await Promise.all([this.#drains.stopAll(), this.#replace.replacer.stopAll()]);
  }

  /** Reads the replacement ledger and follows every replacement in flight (on start, and on leading). */
  resumeReplacements(): Promise<void> {
    return this.#mayAct() ? this.#replace.resume() : Promise.resolve();
  }

  /** The replacement ledger as this replica last read or wrote it. */
  replacements(): Replacer {
    return this.#replace.replacer;
  }

  /** What decide() and reconcile() see: the policy, the cluster as watched, the pause. */
  #options(now: Date): DecideOptions {
    return {
      now,
      holdTtlMs: this.#deps.holdTtlMs ?? DEFAULT_HOLD_TTL_MS,
      policy: this.policy,
      nodes: this.#deps.index.nodes(),
      paused: this.#deps.paused?.() ?? false,
      instance: this.#instance,
      drainingHere: this.#drains.running(),
      tally: this.#tally,
      replacements: this.#replace.replacer,
    };
  }

  /** Handles every alert of a notification. Never throws: failures are in the result. */
  async handle(notification: Notification): Promise<NotificationResult> {
    const { metrics } = this.#deps;
    if (!this.#mayAct()) {
      // Another replica leads: Alertmanager sends it again, to the leader once one is ready.
      return notLeading(notification, this.#deps.client.dryRun);
    }
    if (notification.truncatedAlerts > 0) {
      metrics.truncated.inc(notification.truncatedAlerts);
      log("intake").warn(
        "Alertmanager left out {truncated} alerts of group {groupKey} (max_alerts); acting on the {count} that arrived",
        {
          truncated: notification.truncatedAlerts,
          groupKey: notification.groupKey,
          count: notification.alerts.length,
        },
      );
    }
    // One fresh read per Node and notification at most, however many alerts it carries.
    const freshlyRead = new Set<string>();
    const alerts = await Promise.all(
      notification.alerts.map((a) => this.#handleAlert(a, freshlyRead)),
    );
    return {
      retry: alerts.some((a) => a.outcome === "failed"),
      dryRun: this.#deps.client.dryRun,
      truncatedAlerts: notification.truncatedAlerts,
      alerts,
    };
  }

  /**
   * Reconciles one Node outside any alert: drops node-heal's claim when someone uncordoned it,
   * starts or resumes its drain when due, and lets go of holds whose alerts were not seen for the
   * hold TTL. A failure of the API is reported, not thrown; it rejects only on a bug (a value
   * nobody foresaw), so whoever starts it in the background starts it through a Background.
   */
  async reconcile(name: string): Promise<void> {
    if (!this.#mayAct()) return;
    // Decided in the take-out turn, as a cordon is: a replacement started here is counted by
    // every replacement decided after it, while its record and write are under way.
    const applied = await this.#turns.node(
      name,
      () =>
        this.#act(name, (node, now) => reconcile(node, this.#options(now)), {
          decideIn: (decide) => this.#turns.takeOut(() => Promise.resolve(decide())),
          reserve: (d) => d.action === "replace" ? this.#replace.replacer.reserve(name) : undefined,
        }),
    );
    const { outcome } = await this.#reporter.applied(name, applied);
    if (outcome !== "skipped") this.#deps.metrics.reconciles.inc({ outcome });
  }

  async #handleAlert(alert: Alert, freshlyRead: Set<string>): Promise<AlertResult> {
    const { index, metrics } = this.#deps;
    const base = {
      fingerprint: alert.fingerprint,
      alertname: alert.labels.alertname ?? "",
      status: alert.status,
    };
    // Another cluster's alert names none of this cluster's Nodes, whatever it says.
    const foreign = otherCluster(alert, this.#policy.cluster);
    if (foreign) {
      return {
        ...base,
        ...this.#reporter.notActedOn(base, { outcome: OTHER_CLUSTER, message: foreign }),
      };
    }
    // Resolve.
    const resolution = resolveAlert(alert, index);
    if (!resolution.node) {
      const message = unresolvedMessage(resolution);
      return { ...base, ...this.#reporter.notActedOn(base, { outcome: "unresolved", message }) };
    }
    const name = resolution.node.metadata.name;
    log("resolve").debug("Alert {alertname} ({fingerprint}, {status}) is about node {node}", {
      ...base,
      node: name,
    });
    // Decide and act, in the Node's turn: a resolution never overtakes its firing. A firing
    // alert, which may take a Node out, is decided in the one take-out turn, and a take-out is
    // counted from its decision until its write has ended: every gate counts every take-out
    // decided before it, while the writes go on at once.
    const choose = (node: Node, now: Date) => decide(alert, node, this.#options(now));
    const applied = await this.#turns.node(
      name,
      () =>
        alert.status === "firing"
          ? this.#act(name, choose, {
            decideIn: (decide) => this.#turns.takeOut(() => Promise.resolve(decide())),
            reserve: (d, at) =>
              d.patch.spec?.unschedulable ? this.#tally.reserve(name, at) : undefined,
          })
          : this.#act(name, choose, { confirmSkip: true, freshlyRead }),
    );
    // Report.
    const outcome = await this.#reporter.applied(name, applied, alert);
    metrics.alerts.inc({ outcome: outcome.outcome });
    this.#reporter.remember({ ...base, node: name, ...outcome });
    return { ...base, node: name, ...outcome };
  }

  /**
   * Writes what `choose` decides through the node writer, and sets going what the write asks
   * for: a drain, or a look at the Node when its drain is due. An uncordon stops the drain first.
   */
  async #act(
    name: string,
    choose: (node: Node, now: Date) => Decision | undefined,
    options: ApplyOptions = {},
  ): Promise<Applied> {
    let replacement: Replacement | undefined;
    const applied = await this.#writer.apply(name, choose, {
      ...options,
      before: async (d) => {
        // Fencing within the process: a replica that stopped leading writes nothing more (its
        // writes carry the resourceVersion decided on, so the API server fences the rest).
        if (!this.#mayAct()) throw new KubeError(NOT_LEADER, 503);
        if (d.action === "uncordon") await this.#drains.stop(name);
        // A replacement is recorded in the ledger before its Node says so: the ledger, not the
        // Node (which is deleted), is what resumes it and what the gates count.
        if (d.action === "replace" && !this.#writer.dryRun) {
          replacement = await this.#replace.begin(name);
        }
      },
    });
    if (replacement) this.#replace.replacer.follow(replacement);
    if (applied.kind !== "written" || this.#writer.dryRun) return applied;
    const { action, drain } = applied.decision;
    if (action === "drain" && drain) {
      this.#drains.start(name, drain);
    } else {
      // A drain starts at drain-at (right after the cordon when drainAfter is 0), a replacement
      // replaceAfter the drain's end, outside this alert's turn; the reconcile then checks the
      // alert still holds the Node.
      const at = lookAgainAt(applied.decision, applied.at);
      if (at) this.#drains.wakeAt(name, at);
    }
    return applied;
  }

  /**
   * Looks again at every Node whose drain or replacement is due: a gate may let it start now.
   * Each in the background, on its own: one that throws fails alone, logged and counted.
   */
  #wakeWaiting(): void {
    const now = (this.#deps.now ?? systemClock)();
    for (const node of this.#deps.index.nodes()) {
      this.#deps.metrics.background.run("reconcile", () => {
        const state = readState(node);
        if (state.owned && (drainDue(state, now) || replaceDue(state, now))) {
          return this.reconcile(node.metadata.name);
        }
      });
    }
  }
}
