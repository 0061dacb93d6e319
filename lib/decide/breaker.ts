// The correlated-failure breaker (`gates.breaker`): when `alerting` nodes of one domain (a zone,
// a pool, or the whole selection) began alerting within `within` of each other, it is a domain
// problem, not that many node problems. The breaker of that domain opens: cordons go on within
// their budgets, but no drain and no replacement starts there, and a running drain halts. It
// closes `quiet` after fewer than `alerting` of those nodes still alert; then the escalations it
// held start one per `release`.
//
// What counts is kept in memory on the leader (sightings.ts): each node's live alerts (a firing
// alert the policy acts on, until it resolves or goes unseen for the hold TTL) and when each
// began. A new leader starts from the holds node-heal wrote on its Nodes (seed), and the rest
// comes back as Alertmanager repeats its alerts.
import type { Node } from "../base/node.ts";
import { type BreakerPolicy, domainName, domainValue } from "./domain_policy.ts";
import { correlated, Sightings } from "./sightings.ts";
import { formatDuration } from "../base/duration.ts";

/** The most nodes an opening names (its Events, its notification, /status). */
export const MAX_NAMED = 20;

/** One breaker, as /status, metrics and the backtest show it. */
export interface BreakerState {
  /** The label key of its domains; unset for the whole selection. */
  key?: string;
  /** The domain's value ("" for the whole selection, or for Nodes without the label). */
  value: string;
  /** How messages name it: `zone us-east-1a`. */
  domain: string;
  open: boolean;
  /** When it opened last (RFC 3339). */
  openedAt: string;
  /** The most nodes of the domain that began alerting within `within` of each other, at its opening. */
  count: number;
  /** Those nodes (at most {@link MAX_NAMED}). */
  nodes: string[];
  /** When it closed (RFC 3339), once closed. */
  closedAt?: string;
  /** While open: when it closes if nothing more alerts (RFC 3339); undefined while still above. */
  closesAt?: string;
  /** Nodes whose drain or replacement it holds back (or that wait their turn once it closed). */
  held: string[];
}

/** A change of a breaker: it opened, or it closed. */
export interface BreakerChange {
  change: "opened" | "closed";
  state: BreakerState;
  /** One sentence for the Event, the notification and the log. */
  message: string;
}

/** What decisions ask of the breakers. */
export interface BreakerView {
  /** Why drains and replacements of `node` are held now (its domain's breaker is open), or undefined. */
  holding(node: Node, now: Date): string | undefined;
  /**
   * Why an escalation of `node` must wait its turn: its domain's breaker closed and releases
   * what it held one per `release`. Undefined when it may start.
   */
  pacing(node: Node, now: Date): string | undefined;
}

interface Domain {
  open: boolean;
  openedAt: number;
  count: number;
  nodes: string[];
  /** The last time at least `alerting` correlated nodes alerted. */
  lastAbove: number;
  /** Whether they did at the last update (then it has no closing time yet). */
  above: boolean;
  closedAt?: number;
  /** Escalations held back, not yet started. */
  held: Set<string>;
  /** The last escalation it released (ms). */
  releasedAt?: number;
}

/** See the module comment. */
export class Breakers implements BreakerView {
  readonly policy: BreakerPolicy | undefined;
  #holdTtlMs: number;
  #sightings = new Sightings();
  #domains = new Map<string, Domain>();

  constructor(policy: BreakerPolicy | undefined, options: { holdTtlMs: number }) {
    this.policy = policy;
    this.#holdTtlMs = options.holdTtlMs;
  }

  /**
   * The breakers under `policy` (a reloaded policy's): these, retuned, when it names the same
   * domains; else new ones that know the holds on `nodes`.
   */
  under(policy: BreakerPolicy | undefined, nodes: Iterable<Node>, now: Date): Breakers {
    if (policy && this.policy && policy.key === this.policy.key) {
      const kept = new Breakers(policy, { holdTtlMs: this.#holdTtlMs });
      kept.#sightings = this.#sightings;
      kept.#domains = this.#domains;
      return kept;
    }
    const fresh = new Breakers(policy, { holdTtlMs: this.#holdTtlMs });
    fresh.seed(nodes, now);
    // The breakers of domains the policy no longer has close, and are told so at the next update.
    const t = now.getTime();
    for (const [value, d] of this.#domains) {
      if (!d.open) continue;
      d.open = false;
      d.closedAt = t;
      fresh.#pending.push({
        change: "closed",
        state: { ...this.#state(value, d), held: [] },
        message: `the breaker of ${this.#name(value)} closed: the policy in force no longer ` +
          `has it (its drains and replacements are decided under the new policy's gates)`,
      });
    }
    return fresh;
  }

  /** Changes not yet told: the breakers a reloaded policy dropped. */
  #pending: BreakerChange[] = [];

  /** The domain value of `node` for this breaker ("" for the whole selection). */
  valueOf(node: Node): string {
    return this.policy?.key ? domainValue(node.metadata.labels, this.policy.key) : "";
  }

  /** Notes a firing alert (its fingerprint) on `node`, seen at `at`. */
  seen(node: Node, fingerprint: string, at: Date): void {
    if (this.policy) this.#sightings.seen(node.metadata.name, this.valueOf(node), fingerprint, at);
  }

  /** Notes that alert `fingerprint` on Node `name` resolved. */
  resolved(name: string, fingerprint: string): void {
    this.#sightings.resolved(name, fingerprint);
  }

  /**
   * Learns the alerts that hold `nodes` (node-heal's holds on them, since and last seen): what a
   * replica that begins to lead knows of alerts it was not sent (sightings.ts).
   */
  seed(nodes: Iterable<Node>, now: Date): void {
    if (this.policy) this.#sightings.seed(nodes, (n) => this.valueOf(n), now);
  }

  /**
   * Brings every breaker up to `now`: opens those whose domain now has `alerting` correlated
   * nodes, closes those quiet for `quiet`. Returns what changed.
   */
  update(now: Date): BreakerChange[] {
    const changes = this.#pending.splice(0);
    const p = this.policy;
    if (!p) return changes;
    const t = now.getTime();
    const live = this.#sightings.live(t, this.#holdTtlMs);
    for (const d of this.#domains.values()) d.above = false;
    for (const [value, nodes] of live) {
      const burst = correlated(nodes, p.withinMs);
      if (burst.length < p.alerting) continue;
      const d = this.#domains.get(value);
      if (d?.open) {
        d.lastAbove = t;
        d.above = true;
        continue;
      }
      const opened: Domain = {
        open: true,
        openedAt: t,
        count: burst.length,
        nodes: burst.slice(0, MAX_NAMED),
        lastAbove: t,
        above: true,
        held: d?.held ?? new Set(),
      };
      this.#domains.set(value, opened);
      changes.push({
        change: "opened",
        state: this.#state(value, opened),
        message: this.#openedMessage(value, opened),
      });
    }
    const alerting = new Set([...live.values()].flat().map((n) => n.node));
    for (const [value, d] of this.#domains) {
      // A clock stepped back: quiet and release count from now, not from its future.
      d.lastAbove = Math.min(d.lastAbove, t);
      if (d.releasedAt !== undefined) d.releasedAt = Math.min(d.releasedAt, t);
      // Held escalations whose alerts are gone wait for nothing.
      for (const name of d.held) if (!alerting.has(name)) d.held.delete(name);
      if (d.open && !d.above && t - d.lastAbove >= p.quietMs) {
        d.open = false;
        d.closedAt = t;
        const n = d.held.size;
        const message = `${this.#name(value)} has had fewer than ${p.alerting} nodes alerting ` +
          `together for ${formatDuration(p.quietMs)}: the breaker closed; ` + (n === 0
            ? "it held no drain or replacement"
            : n === 1
            ? "the drain or replacement it held may start"
            : `the ${n} drains and replacements it held start one per ${
              formatDuration(p.releaseMs)
            }`);
        changes.push({ change: "closed", state: this.#state(value, d), message });
      }
      // A closed breaker with nothing left to release is forgotten.
      if (!d.open && d.held.size === 0) this.#domains.delete(value);
    }
    return changes;
  }

  holding(node: Node, _now: Date): string | undefined {
    // Its domain's breaker, or one it opened: a node that relabels itself does not leave it.
    let value = this.valueOf(node);
    if (!this.#domains.get(value)?.open) {
      const named = [...this.#domains].find(([, o]) =>
        o.open && o.nodes.includes(node.metadata.name)
      );
      if (!named) return undefined;
      value = named[0];
    }
    const d = this.#domains.get(value)!;
    return `the breaker of ${this.#name(value)} is open: ${d.count} nodes alerted within ${
      formatDuration(this.policy!.withinMs)
    } (${d.nodes.slice(0, 5).join(", ")}${d.count > 5 ? ", ..." : ""}), taken as a domain problem`;
  }

  pacing(node: Node, now: Date): string | undefined {
    const value = this.valueOf(node);
    const d = this.#domains.get(value);
    if (!d || d.open || d.releasedAt === undefined) return undefined;
    const wait = d.releasedAt + this.policy!.releaseMs - now.getTime();
    if (wait <= 0) return undefined;
    return `the breaker of ${this.#name(value)} closed and releases what it held one per ${
      formatDuration(this.policy!.releaseMs)
    }; ${node.metadata.name} starts in ${Math.ceil(wait / 1000)}s at the earliest`;
  }

  /** Notes that an escalation of `node` was held back by its breaker (it waits). */
  heldBack(node: Node): void {
    const d = this.#domains.get(this.valueOf(node));
    if (d) d.held.add(node.metadata.name);
  }

  /** Notes that a drain or a replacement of `node` started at `at`. */
  escalated(node: Node, at: Date): void {
    const d = this.#domains.get(this.valueOf(node));
    if (!d || d.open) return;
    d.held.delete(node.metadata.name);
    d.releasedAt = at.getTime();
  }

  /** Every breaker that is open, or closed with escalations still to release. */
  states(_now: Date): BreakerState[] {
    return [...this.#domains].map(([value, d]) => this.#state(value, d));
  }

  #state(value: string, d: Domain): BreakerState {
    const p = this.policy!;
    const quietFrom = d.above ? undefined : d.lastAbove;
    return {
      ...(p.key ? { key: p.key } : {}),
      value,
      domain: this.#name(value),
      open: d.open,
      openedAt: new Date(d.openedAt).toISOString(),
      count: d.count,
      nodes: [...d.nodes],
      ...(d.closedAt !== undefined && !d.open
        ? { closedAt: new Date(d.closedAt).toISOString() }
        : {}),
      ...(d.open && quietFrom !== undefined
        ? { closesAt: new Date(quietFrom + p.quietMs).toISOString() }
        : {}),
      held: [...d.held].slice(0, MAX_NAMED),
    };
  }

  #name(value: string): string {
    return domainName(this.policy?.key, value);
  }

  #openedMessage(value: string, d: Domain): string {
    const p = this.policy!;
    return `${d.count} nodes in ${this.#name(value)} alerted within ${
      formatDuration(p.withinMs)
    } (${d.nodes.slice(0, 5).join(", ")}${d.count > 5 ? ", ..." : ""}): treating it as a ${
      p.key ? domainName(p.key, value).split(" ")[0] : "cluster"
    } problem, not ${d.count} node problems; holding drains and replacements`;
  }
}
