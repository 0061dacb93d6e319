import type { DrainSupervisor } from "../act/drain_supervisor.ts";
import { NodeWriter } from "../act/node_writer.ts";
import type { Replacer } from "../act/replace/replacer.ts";
import type { ReplaceProvider } from "../act/replace/provider.ts";
import type { Notifier } from "../report/notify/notifier.ts";
import { type Clock, systemClock } from "../base/clock.ts";
import { type DecideOptions, DEFAULT_HOLD_TTL_MS } from "../decide/decide.ts";
import { DEFAULT_POLICY, type Policy } from "../decide/policy.ts";
import type { Notification } from "../intake/alertmanager.ts";
import { DecisionLog, type DecisionRecord } from "../report/decision_log.ts";
import { Reporter } from "../report/reporter.ts";
import { AlertPath } from "./alert_path.ts";
import { DrainStage } from "./drain_stage.ts";
import { InForce } from "./in_force.ts";
import { NodeActs } from "./node_acts.ts";
import { ReplaceStage } from "./replace_stage.ts";
import { type NotificationResult, notLeading, type PipelineDeps } from "./results.ts";
import { Sweep } from "./sweep.ts";
import { Turns } from "./turns.ts";

export type { DecisionRecord } from "../report/decision_log.ts";

export type { AlertResult, NotificationResult, PipelineDeps } from "./results.ts";

/**
 * The pipeline from a parsed notification to actions on Nodes: resolve each alert to its Node
 * through the index, decide, act through the node writer, report. Alerts about different Nodes
 * run at once; alerts about one Node, its reconciliations and its drain's end run in its turn.
 *
 * It composes the rooms below: what is in force (in_force.ts), the alerts' path (alert_path.ts),
 * the sweep of held Nodes (sweep.ts), acting on one Node (node_acts.ts), and the drain and
 * replacement stages.
 */
export class Pipeline {
  #deps: PipelineDeps;
  #now: Clock;
  #turns = new Turns();
  #writer: NodeWriter;
  #decisions: DecisionLog;
  #reporter: Reporter;
  #inForce: InForce;
  #drains: DrainSupervisor;
  #replace: ReplaceStage;
  #acts: NodeActs;
  #sweep: Sweep;
  #alerts: AlertPath;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
    const now = this.#now = deps.now ?? systemClock;
    const { client, index, metrics } = deps;
    this.#inForce = new InForce({
      index,
      policy: deps.policy ?? DEFAULT_POLICY,
      providers: deps.providers ?? new Map(),
      replacingGone: () => this.#replace?.replacer.goneInFlight() ?? 0,
    });
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
    this.#drains = this.#newDrainStage().supervisor;
    this.#replace = this.#newReplaceStage();
    this.#acts = new NodeActs({
      writer: this.#writer,
      turns: this.#turns,
      drains: this.#drains,
      replace: this.#replace,
      mayAct: () => this.#mayAct(),
    });
    this.#sweep = this.#newSweep();
    this.#alerts = this.#newAlertPath();
  }

  #newDrainStage(): DrainStage {
    const { client, index, metrics } = this.#deps;
    return new DrainStage({
      client,
      index,
      metrics,
      now: this.#now,
      writer: this.#writer,
      instance: this.#instance,
      retryMs: this.#deps.drainRetryMs,
      policy: () => this.policy,
      paused: () => this.#paused(),
      mayAct: () => this.#mayAct(),
      reporter: this.#reporter,
      write: (name, choose) => this.#acts.write(name, choose),
      due: (name) => this.reconcile(name),
      wakeWaiting: () => this.#sweep.wakeWaiting(),
    });
  }

  #newReplaceStage(): ReplaceStage {
    const { client, index, metrics } = this.#deps;
    return new ReplaceStage({
      client,
      index,
      metrics,
      now: this.#now,
      policy: () => this.policy,
      providers: () => this.#inForce.providers,
      namespace: this.#deps.namespace ?? "node-heal",
      instance: this.#instance,
      pollMs: this.#deps.replacePollMs,
      paused: () => this.#paused(),
      reporter: this.#reporter,
      write: (name, choose) => this.#acts.write(name, choose),
      wakeWaiting: () => this.#sweep.wakeWaiting(),
      untrusted: this.#deps.untrusted,
    });
  }

  #newSweep(): Sweep {
    return new Sweep({
      index: this.#deps.index,
      metrics: this.#deps.metrics,
      now: this.#now,
      reporter: this.#reporter,
      acts: this.#acts,
      replacer: this.#replace.replacer,
      options: (now) => this.#options(now),
      mayAct: () => this.#mayAct(),
    });
  }

  #newAlertPath(): AlertPath {
    return new AlertPath({
      index: this.#deps.index,
      metrics: this.#deps.metrics,
      dryRun: () => this.#deps.client.dryRun,
      reporter: this.#reporter,
      acts: this.#acts,
      policy: () => this.policy,
      tally: () => this.#inForce.tally,
      options: (now) => this.#options(now),
    });
  }

  /** The policy in force. */
  get policy(): Policy {
    return this.#inForce.policy;
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
      this.#inForce.swap(next);
      this.#reporter.notifier = next.notifier;
      return Promise.resolve();
    });
  }

  /** Whether this replica may act: it leads (always, without leader election). */
  #mayAct(): boolean {
    return this.#deps.leading?.() ?? true;
  }

  #paused(): boolean {
    return this.#deps.paused?.() ?? false;
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
      paused: this.#paused(),
      instance: this.#instance,
      drainingHere: this.#drains.running(),
      tally: this.#inForce.tally,
      replacements: this.#replace.replacer,
    };
  }

  /** Handles every alert of a notification. Never throws: failures are in the result. */
  async handle(notification: Notification): Promise<NotificationResult> {
    if (!this.#mayAct()) {
      // Another replica leads: Alertmanager sends it again, to the leader once one is ready.
      return notLeading(notification, this.#deps.client.dryRun);
    }
    return await this.#alerts.handle(notification);
  }

  /**
   * Reconciles one Node outside any alert (see sweep.ts). A failure of the API is reported, not
   * thrown; it rejects only on a bug (a value nobody foresaw), so whoever starts it in the
   * background starts it through a Background.
   */
  reconcile(name: string): Promise<void> {
    return this.#sweep.reconcile(name);
  }
}
