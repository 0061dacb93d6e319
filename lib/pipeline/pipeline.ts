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
import { type Choose, NodeActs } from "./node_acts.ts";
import { ReplaceStage } from "./replace_stage.ts";
import { type NotificationResult, notLeading, type PipelineDeps } from "./results.ts";
import { Sweep } from "./sweep.ts";
import { BreakerStage } from "./breaker_stage.ts";
import { Turns } from "./turns.ts";

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
  #breakers: BreakerStage;
  #instance: string;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
    this.#instance = deps.instance ?? "node-heal";
    const now = this.#now = deps.now ?? systemClock;
    const { client, index, metrics } = deps;
    this.#inForce = new InForce({
      index,
      policy: deps.policy ?? DEFAULT_POLICY,
      providers: deps.providers ?? new Map(),
      replacingGone: () => this.#replace?.replacer.goneInFlight() ?? 0,
      goneLabels: () => this.#replace?.replacer.goneLabels() ?? [],
      goneTakeOuts: () => this.#replace?.replacer.goneTakeOuts() ?? [],
      holdTtlMs: deps.holdTtlMs ?? DEFAULT_HOLD_TTL_MS,
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
      applied: (applied) => this.#breakers.noted(applied),
      decided: (decision, at) => this.#breakers.decided(decision, at),
    });
    this.#sweep = this.#newSweep();
    this.#breakers = new BreakerStage({
      index,
      reporter: this.#reporter,
      now,
      policy: () => this.policy,
      breakers: () => this.#inForce.breakers,
      wakeWaiting: () => this.#sweep.wakeWaiting(),
    });
    this.#alerts = this.#newAlertPath();
  }

  /** What the drain and replacement stages share: the pipeline's parts and what is in force. */
  #shared() {
    const { client, index, metrics } = this.#deps;
    return {
      client,
      index,
      metrics,
      now: this.#now,
      instance: this.#instance,
      policy: () => this.policy,
      paused: () => this.#paused(),
      reporter: this.#reporter,
      write: (name: string, choose: Choose) => this.#acts.write(name, choose),
      wakeWaiting: () => this.#sweep.wakeWaiting(),
      breakers: () => this.#inForce.breakers,
      mayAct: () => this.#mayAct(),
      options: (now: Date) => this.#options(now),
    };
  }

  #newDrainStage(): DrainStage {
    return new DrainStage({
      ...this.#shared(),
      writer: this.#writer,
      retryMs: this.#deps.drainRetryMs,
      due: (name) => this.reconcile(name),
    });
  }

  #newReplaceStage(): ReplaceStage {
    return new ReplaceStage({
      ...this.#shared(),
      providers: () => this.#inForce.providers,
      namespace: this.#deps.namespace ?? "node-heal",
      pollMs: this.#deps.replacePollMs,
      untrusted: this.#deps.untrusted,
    });
  }

  #newSweep(): Sweep {
    return new Sweep({ ...this.#shared(), acts: this.#acts, replacer: this.#replace.replacer });
  }

  #newAlertPath(): AlertPath {
    return new AlertPath({
      ...this.#shared(),
      dryRun: () => this.#deps.client.dryRun,
      acts: this.#acts,
      tally: () => this.#inForce.tally,
      breakers: this.#breakers,
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
    // The breakers under the new policy are brought up to date before the next decision.
    const changes = await this.#turns.takeOut(() => {
      this.#inForce.swap(next, this.#now());
      this.#reporter.notifier = next.notifier;
      return Promise.resolve(this.#inForce.breakers.update(this.#now()));
    });
    this.#breakers.update(changes);
  }

  /** Whether this replica may act: it leads (always, without leader election). */
  #mayAct(): boolean {
    return this.#deps.leading?.() ?? true;
  }

  #paused(): boolean {
    return this.#deps.paused?.() ?? false;
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

  /** Follows every replacement in flight in the ledger; the breakers learn the Nodes' holds. */
  resumeReplacements(): Promise<void> {
    if (!this.#mayAct()) return Promise.resolve();
    this.#inForce.breakers.seed(this.#deps.index.nodes(), this.#now());
    return this.#replace.resume();
  }

  /** The correlated-failure breakers: brought up to date each sweep, shown on /status. */
  get breakers(): BreakerStage {
    return this.#breakers;
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
      breakers: this.#inForce.breakers,
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
