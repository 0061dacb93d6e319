// The backtest's engine: Alertmanager's notifications replayed in time order through the very
// decide(), reconcile() and endDrain() the service runs, with a simulated clock and cluster. What
// the service leaves to time (a drain that runs, a replacement that completes, the sweep that
// expires holds) happens here at simulated times; what the service decides, the same code
// decides here. Synchronous and free of I/O: a month of history replays in milliseconds.
import type { Alert } from "../intake/alertmanager.ts";
import type { Node } from "../base/node.ts";
import {
  decide,
  type DecideOptions,
  type Decision,
  DEFAULT_HOLD_TTL_MS,
  endDrain,
  reconcile,
} from "../decide/decide.ts";
import { needsReconcile, sweepIntervalMs } from "../decide/reconcile.ts";
import { CLUSTER_GATE, OTHER_CLUSTER, otherCluster } from "../decide/cluster_guard.ts";
import { readState } from "../decide/node_state.ts";
import { drainDue, lookAgainAt } from "../decide/drain_step.ts";
import type { BreakerChange } from "../decide/breaker.ts";
import { replaceDue, replaceRule } from "../decide/replace_step.ts";
import { resolveAlert, unresolvedMessage } from "../resolve/node_index.ts";
import { SimCluster } from "./sim_cluster.ts";
import { SimBreakers } from "./sim_breakers.ts";
import { TimerQueue } from "./timer_queue.ts";
import type { ReplayDecision } from "./report_types.ts";
import type { Delivery, OutPoint, ReplayOptions, ReplayResult } from "./replay_types.ts";

type Timer =
  | { kind: "wake"; node: string }
  | { kind: "drain-end" | "replace-end"; node: string; token: number };

type Trigger = ReplayDecision["trigger"];

/** Replays `deliveries` (in time order) through node-heal's decisions. */
export function replay(deliveries: readonly Delivery[], options: ReplayOptions): ReplayResult {
  return new Replay(options).run(deliveries);
}

class Replay {
  #o: ReplayOptions;
  #cluster: SimCluster;
  #timers = new TimerQueue<Timer>();
  #now: Date;
  #decisions: ReplayDecision[] = [];
  #out: OutPoint[] = [];
  /** The drain or replacement under way on each Node: a stopped one's end is ignored. */
  #running = new Map<string, { token: number; kind: "drain-end" | "replace-end" }>();
  #breakers: SimBreakers;
  /** The Nodes of #running, as decisions see them: built again only when it changes. */
  #drainingHere: ReadonlySet<string> | undefined;
  #token = 0;
  /** The last decision a look at each Node made, so that one repeated each sweep is told once. */
  #lastLook = new Map<string, string>();

  constructor(options: ReplayOptions) {
    this.#o = options;
    this.#now = options.from;
    this.#cluster = new SimCluster(options.nodes, options.policy.gates, options.domainKeys);
    this.#breakers = new SimBreakers(options.policy, { holdTtlMs: this.#holdTtlMs });
  }

  run(deliveries: readonly Delivery[]): ReplayResult {
    const sweepMs = sweepIntervalMs(this.#holdTtlMs);
    const from = this.#o.from.getTime();
    const end = this.#o.to.getTime();
    this.#noteOut();
    let next = 0;
    for (;;) {
      const delivery = deliveries[next]?.at.getTime() ?? Infinity;
      const timer = this.#timers.peekAt() ?? Infinity;
      const sweep = this.#cluster.stateful.size > 0 || this.#breakers.anyOpen
        ? from + (Math.floor((this.#now.getTime() - from) / sweepMs) + 1) * sweepMs
        : Infinity;
      const at = Math.min(delivery, timer, sweep);
      if (at === Infinity || at > end) break;
      this.#now = new Date(Math.max(at, this.#now.getTime()));
      if (at === delivery) {
        const { alerts } = deliveries[next++].notification;
        this.#changed(this.#breakers.sighted(alerts, this.#cluster.index, this.#now));
        for (const alert of alerts) this.#alert(alert);
      } else if (at === timer) {
        this.#timer(this.#timers.pop()!);
      } else {
        this.#sweep();
      }
    }
    return {
      decisions: this.#decisions,
      outOverTime: this.#out,
      nodes: [...this.#cluster.index.nodes()],
      breakers: this.#breakers.openings(),
      breakersLeftOut: this.#breakers.leftOut,
      peakOutByDomain: this.#cluster.peaks.peaks(),
    };
  }

  /** The sweep: the breakers brought up to now, then a look at every Node that needs one. */
  #sweep(): void {
    const c = this.#cluster;
    this.#changed(this.#breakers.swept(c.stateful, c.index, this.#now));
    for (const name of [...c.stateful]) this.#look(name);
  }

  /** A breaker opened: running drains of its domain halt. One closed: who waited looks again. */
  #changed(changes: readonly BreakerChange[]): void {
    if (changes.some((c) => c.change === "opened")) {
      const drains = [...this.#running].flatMap(([n, r]) => r.kind === "drain-end" ? [n] : []);
      const options = { paused: this.#paused, now: this.#now };
      for (const halt of this.#breakers.halts(drains, this.#cluster.index, options)) {
        this.#stop(halt.node);
        this.#apply(halt, "reconcile");
      }
    }
    if (changes.some((c) => c.change === "closed")) this.#wakeWaiting();
  }

  get #holdTtlMs(): number {
    return this.#o.holdTtlMs ?? DEFAULT_HOLD_TTL_MS;
  }

  /** What decide() and reconcile() see, as the pipeline builds it. */
  #options(): DecideOptions {
    const c = this.#cluster;
    return {
      now: this.#now,
      holdTtlMs: this.#holdTtlMs,
      policy: this.#o.policy,
      nodes: c.index.nodes(),
      tally: c.tally,
      paused: this.#paused,
      instance: "backtest",
      drainingHere: this.#drainingHere ??= new Set(this.#running.keys()),
      replacements: c.ledger,
      ...(this.#breakers.active ? { breakers: this.#breakers.breakers } : {}),
    };
  }

  get #paused(): boolean {
    return (this.#o.paused ?? false) || this.#o.policy.gates.paused;
  }

  #alert(alert: Alert): void {
    const foreign = otherCluster(alert, this.#o.policy.cluster);
    if (foreign) {
      const skip = { outcome: OTHER_CLUSTER, gate: CLUSTER_GATE, message: foreign };
      this.#record({ trigger: "alert", node: "", ...skip }, alert);
      return;
    }
    const resolution = resolveAlert(alert, this.#cluster.index);
    if (!resolution.node) {
      this.#record({
        trigger: "alert",
        node: "",
        outcome: "unresolved",
        message: unresolvedMessage(resolution),
      }, alert);
      return;
    }
    this.#apply(decide(alert, resolution.node, this.#options()), "alert", alert);
  }

  /** A look at one Node outside any alert: the sweep, a due drain or replacement. */
  #look(name: string): void {
    const node = this.#cluster.index.get(name);
    if (!node) return;
    const decision = reconcile(node, this.#options());
    if (!decision) {
      this.#lastLook.delete(name);
      return;
    }
    this.#apply(decision, "reconcile");
  }

  #timer(timer: Timer): void {
    const { node: name } = timer;
    if (timer.kind === "wake") return this.#look(name);
    if (this.#running.get(name)?.token !== timer.token) return;
    this.#stop(name);
    const node = this.#cluster.index.get(name);
    if (!node) return;
    if (timer.kind === "drain-end") {
      const end = {
        outcome: "drained" as const,
        blocking: 0,
        evicted: 0,
        message: `Drained ${name} (simulated: ${Math.round(this.#o.drainMs / 1000)}s)`,
      };
      const d = endDrain(node, end, { now: this.#now, policy: this.#o.policy });
      if (d) this.#apply(d, "drain-end");
    } else {
      const successor = this.#cluster.replace(name, this.#now);
      this.#cluster.ledger.end(name, { now: this.#now, successor: successor!.metadata.name });
      this.#record({
        trigger: "replace-end",
        node: name,
        outcome: "replaced",
        message: `Replaced ${name}: its successor ${successor!.metadata.name} is Ready (simulated)`,
      });
      this.#noteOut();
    }
    this.#wakeWaiting();
  }

  /** Looks again at every Node whose drain or replacement is due: a gate may let it start now. */
  #wakeWaiting(): void {
    for (const name of [...this.#cluster.stateful]) {
      const node = this.#cluster.index.get(name);
      if (!node) continue;
      const state = readState(node);
      if (state.owned && (drainDue(state, this.#now) || replaceDue(state, this.#now))) {
        this.#look(name);
      }
    }
  }

  /** Records a decision and, for an action, writes it and sets going what it asks for. */
  #apply(decision: Decision, trigger: Trigger, alert?: Alert): void {
    const { node: name } = decision;
    const outcome = decision.kind === "act" ? decision.action : "skipped";
    const gate = decision.kind === "skip" ? decision.gate : undefined;
    if (trigger === "reconcile") {
      // A look repeated each sweep (a drain waiting on maxConcurrent) is told once.
      const key = `${outcome}/${gate ?? ""}`;
      if (decision.kind === "skip" && this.#lastLook.get(name) === key) return;
      this.#lastLook.set(name, key);
    }
    const escalated = decision.kind === "act" ? decision.escalated : undefined;
    this.#record({
      trigger,
      node: name,
      outcome,
      gate,
      message: decision.message,
      ...(escalated ? { escalated } : {}),
    }, alert);
    const before = this.#cluster.index.get(name);
    if (decision.kind !== "act") {
      if (before) this.#breakers.noted(decision, before, false, this.#now);
      return;
    }
    if (decision.action === "uncordon") this.#stop(name);
    if (decision.action === "replace" && before) {
      const rule = replaceRule(this.#o.policy, readState(before).rule);
      this.#cluster.ledger.begin(before, {
        rule: rule?.name ?? "",
        provider: rule?.replace?.provider ?? "delete-node",
        now: this.#now,
      });
    }
    const node = this.#cluster.write(decision);
    if (!node) return;
    this.#breakers.noted(decision, node, true, this.#now);
    this.#after(decision, node);
    this.#noteOut();
  }

  /** What the pipeline sets going after a write: a drain, a replacement, a look when due. */
  #after(decision: Decision & { kind: "act" }, node: Node): void {
    const name = node.metadata.name;
    const now = this.#now.getTime();
    const { action } = decision;
    if (action === "drain") {
      this.#start(name, "drain-end", now + this.#o.drainMs);
    } else if (action === "replace") {
      this.#start(name, "replace-end", now + this.#o.replaceMs);
    } else {
      const at = lookAgainAt(decision, this.#now);
      if (at) this.#timers.push(at.getTime(), { kind: "wake", node: name });
    }
    // Holds expire at the first sweep after their TTL, as in the service.
    if (!needsReconcile(node)) this.#lastLook.delete(name);
  }

  #start(name: string, kind: "drain-end" | "replace-end", at: number): void {
    const token = ++this.#token;
    this.#running.set(name, { token, kind });
    this.#drainingHere = undefined;
    this.#timers.push(at, { kind, node: name, token });
  }

  #stop(name: string): void {
    if (this.#running.delete(name)) this.#drainingHere = undefined;
  }

  #record(d: Omit<ReplayDecision, "at">, alert?: Alert): void {
    this.#decisions.push({
      at: this.#now.toISOString(),
      node: d.node,
      trigger: d.trigger,
      ...(alert
        ? {
          alertname: alert.labels.alertname ?? "",
          fingerprint: alert.fingerprint,
          status: alert.status,
        }
        : {}),
      outcome: d.outcome,
      ...(d.gate ? { gate: d.gate } : {}),
      message: d.message,
      ...(d.escalated ? { escalated: d.escalated } : {}),
    });
  }

  /** Adds a point to the nodes-out timeline when the count changed. */
  #noteOut(): void {
    this.#cluster.peaks.note(this.#now);
    const { out, heldByNodeHeal } = this.#cluster.out;
    const point = { at: this.#now.toISOString(), out, heldByNodeHeal };
    const last = this.#out.at(-1);
    if (last && last.out === point.out && last.heldByNodeHeal === point.heldByNodeHeal) return;
    if (last?.at === point.at) this.#out.pop();
    this.#out.push(point);
  }
}
