// The backtest's breaker stage: the correlated-failure breakers (decide/breaker.ts) fed as the
// service's pipeline feeds them (pipeline/breaker_stage.ts), at simulated times, and each of
// their openings recorded for the report: when it opened and closed, and what it held back.
import type { Node } from "../base/node.ts";
import { type BreakerChange, Breakers, MAX_NAMED } from "../decide/breaker.ts";
import { otherCluster } from "../decide/cluster_guard.ts";
import type { Decision } from "../decide/decision.ts";
import { haltDrain } from "../decide/drain_step.ts";
import { quietHalt, runningDrainHalt } from "../decide/halts.ts";
import { chooseAction, type Policy } from "../decide/policy.ts";
import type { Alert } from "../intake/alertmanager.ts";
import { type NodeIndex, resolveAlert } from "../resolve/node_index.ts";
import type { BreakerOpening } from "./report_types.ts";

/** The most openings a run reports; those after are counted, not listed. */
export const MAX_OPENINGS = 200;

/** See the module comment. */
export class SimBreakers {
  readonly breakers: Breakers;
  #policy: Policy;
  #openings: BreakerOpening[] = [];
  /** The opening of each domain value still open. */
  #open = new Map<string, BreakerOpening>();
  #leftOut = 0;

  constructor(policy: Policy, options: { holdTtlMs: number }) {
    this.#policy = policy;
    this.breakers = new Breakers(policy.gates.breaker, options);
  }

  /** Whether the policy sets a breaker. */
  get active(): boolean {
    return this.breakers.policy !== undefined;
  }

  /** Whether a breaker is open: the sweep must go on to close it in time. */
  get anyOpen(): boolean {
    return this.#open.size > 0;
  }

  /**
   * Notes each alert of a delivery on the Node it names (before any is decided), then brings
   * the breakers up to `now`: what opened or closed.
   */
  sighted(alerts: readonly Alert[], index: NodeIndex, now: Date): BreakerChange[] {
    if (!this.active) return [];
    for (const alert of alerts) {
      if (otherCluster(alert, this.#policy.cluster)) continue;
      const node = resolveAlert(alert, index).node;
      if (!node) continue;
      if (alert.status === "resolved") {
        this.breakers.resolved(node.metadata.name, alert.fingerprint);
        continue;
      }
      const choice = chooseAction(this.#policy, alert);
      if (choice.action && choice.action !== "none") {
        this.breakers.seen(node, alert.fingerprint, now);
      }
    }
    return this.update(now);
  }

  /**
   * The sweep's turn: learns the holds on the Nodes named (those with node-heal's marks), then
   * brings the breakers up to `now`.
   */
  swept(names: Iterable<string>, index: NodeIndex, now: Date): BreakerChange[] {
    if (!this.active) return [];
    const nodes = [...names].map((n) => index.get(n)).filter((n) => n !== undefined);
    this.breakers.seed(nodes, now);
    return this.update(now);
  }

  /** Brings the breakers up to `now`, recording what opened or closed. */
  update(now: Date): BreakerChange[] {
    const changes = this.breakers.update(now);
    for (const { change, state } of changes) {
      if (change === "closed") {
        const opening = this.#open.get(state.value);
        if (opening) opening.closedAt = state.closedAt ?? now.toISOString();
        this.#open.delete(state.value);
        continue;
      }
      const opening: BreakerOpening = {
        domain: state.domain,
        ...(state.key !== undefined ? { key: state.key } : {}),
        value: state.value,
        openedAt: state.openedAt,
        closedAt: null,
        count: state.count,
        nodes: state.nodes.slice(0, MAX_NAMED),
        held: [],
      };
      this.#open.set(state.value, opening);
      if (this.#openings.length < MAX_OPENINGS) this.#openings.push(opening);
      else this.#leftOut++;
    }
    return changes;
  }

  /**
   * Learns from a decision applied (a skip, or an action written on `node`) an escalation the
   * breakers held back or let start.
   */
  noted(decision: Decision, node: Node, written: boolean, at: Date): void {
    if (!this.active) return;
    if (decision.gate === "breaker") {
      this.breakers.heldBack(node);
      const opening = this.#open.get(this.breakers.valueOf(node));
      const name = node.metadata.name;
      if (opening && !opening.held.includes(name) && opening.held.length < MAX_NAMED) {
        opening.held.push(name);
      }
    }
    if (written && decision.kind === "act" && ["drain", "replace"].includes(decision.action)) {
      this.breakers.escalated(node, at);
    }
  }

  /**
   * The halts of the drains running on `names` that an open breaker stops now: the service's drain
   * supervisor asks at each eviction round, the replay as soon as a breaker opens.
   */
  halts(names: Iterable<string>, index: NodeIndex, options: { paused: boolean; now: Date }) {
    const halts: (Decision & { kind: "act" })[] = [];
    for (const name of names) {
      const node = index.get(name);
      const halt = runningDrainHalt(node, {
        policy: this.#policy,
        paused: options.paused,
        breakers: this.breakers,
        now: options.now,
        instance: "backtest",
      });
      if (!node || !halt || quietHalt(halt)) continue;
      const d = haltDrain(node, halt, { now: options.now });
      if (d.kind === "act") halts.push(d);
    }
    return halts;
  }

  /** Each opening, in time order (at most {@link MAX_OPENINGS}). */
  openings(): BreakerOpening[] {
    return this.#openings;
  }

  /** Openings beyond {@link MAX_OPENINGS}, not listed. */
  get leftOut(): number {
    return this.#leftOut;
  }
}
