// What the breakers (breaker.ts) count from: each node's live alerts, a firing alert the policy
// acts on until it resolves or goes unseen for the hold TTL, and when node-heal first and last saw
// each; and the window that finds the most nodes whose alerts began together. In memory on the
// leader; a replica that begins to lead learns the alerts holding node-heal's Nodes (seed).
import type { Node } from "../base/node.ts";
import { readState } from "./node_state.ts";
import { FUTURE_SKEW_MS } from "./state_schema.ts";

/** The most alerts of one node followed (a node has few; the rest adds nothing). */
export const MAX_ALERTS_PER_NODE = 32;

/** One node's live alerts, and its domain value when last seen alerting. */
interface Sighting {
  value: string;
  /** Fingerprint to when node-heal first and last saw it firing (ms). */
  alerts: Map<string, { first: number; last: number }>;
}

/** See the module comment. */
export class Sightings {
  #nodes = new Map<string, Sighting>();

  /** Notes alert `fingerprint` firing on Node `name` (in domain `value`) at `at`. */
  seen(name: string, value: string, fingerprint: string, at: Date): void {
    const t = at.getTime();
    const s = this.#nodes.get(name) ?? { value, alerts: new Map() };
    s.value = value;
    const known = s.alerts.get(fingerprint);
    s.alerts.set(fingerprint, { first: known?.first ?? t, last: t });
    if (s.alerts.size > MAX_ALERTS_PER_NODE) {
      const oldest = [...s.alerts].sort(([, a], [, b]) => a.last - b.last)[0][0];
      s.alerts.delete(oldest);
    }
    this.#nodes.set(name, s);
  }

  /** Notes that alert `fingerprint` on Node `name` resolved. */
  resolved(name: string, fingerprint: string): void {
    const s = this.#nodes.get(name);
    if (!s) return;
    s.alerts.delete(fingerprint);
    if (s.alerts.size === 0) this.#nodes.delete(name);
  }

  /**
   * Learns the alerts that hold `nodes` (node-heal's holds on them, since and last seen). Times
   * ahead of `now` count as now; one beyond the clock's skew was not node-heal's and counts not.
   */
  seed(nodes: Iterable<Node>, valueOf: (node: Node) => string, now: Date): void {
    const t = now.getTime();
    for (const node of nodes) {
      const state = readState(node);
      if (!state.owned) continue;
      for (const [fp, hold] of Object.entries(state.holds)) {
        const since = Date.parse(hold.since);
        const seen = Date.parse(hold.seen ?? hold.since);
        if (Number.isNaN(since) || Number.isNaN(seen)) continue;
        if (Math.max(since, seen) > t + FUTURE_SKEW_MS) continue;
        const s = this.#nodes.get(node.metadata.name) ??
          { value: valueOf(node), alerts: new Map() };
        if (!s.alerts.has(fp) && s.alerts.size < MAX_ALERTS_PER_NODE) {
          s.alerts.set(fp, { first: Math.min(since, t), last: Math.min(seen, t) });
        }
        this.#nodes.set(node.metadata.name, s);
      }
    }
  }

  /**
   * Per domain value: the onset of each live alert of each node (a node alerting for days that
   * fails again with the rest of its zone counts at its new alert's onset too). Alerts unseen for
   * `holdTtlMs` are forgotten.
   */
  live(t: number, holdTtlMs: number): Map<string, { node: string; first: number }[]> {
    const live = new Map<string, { node: string; first: number }[]>();
    for (const [name, s] of this.#nodes) {
      const list = live.get(s.value) ?? [];
      for (const [fp, a] of s.alerts) {
        // Times ahead of now (a clock stepped back) count as now.
        a.first = Math.min(a.first, t);
        a.last = Math.min(a.last, t);
        if (t - a.last > holdTtlMs) s.alerts.delete(fp);
        else list.push({ node: name, first: a.first });
      }
      if (s.alerts.size === 0) this.#nodes.delete(name);
      else live.set(s.value, list);
    }
    return live;
  }
}

/**
 * The most distinct nodes with an onset (`first`, one per alert: a node may have several) in one
 * window of `withinMs`, in the order of their first onset in that window.
 */
export function correlated(
  onsets: readonly { node: string; first: number }[],
  withinMs: number,
): string[] {
  const sorted = [...onsets].sort((a, b) => a.first - b.first || (a.node < b.node ? -1 : 1));
  const inWindow = new Map<string, number>();
  let best: [number, number, number] = [0, 0, 0]; // lo, hi, distinct nodes
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    inWindow.set(sorted[hi].node, (inWindow.get(sorted[hi].node) ?? 0) + 1);
    while (sorted[hi].first - sorted[lo].first > withinMs) {
      const left = inWindow.get(sorted[lo].node)! - 1;
      if (left === 0) inWindow.delete(sorted[lo].node);
      else inWindow.set(sorted[lo].node, left);
      lo++;
    }
    if (inWindow.size > best[2]) best = [lo, hi + 1, inWindow.size];
  }
  return [...new Set(sorted.slice(best[0], best[1]).map((n) => n.node))];
}
