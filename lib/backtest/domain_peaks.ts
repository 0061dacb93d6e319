// The blast radius per domain: for each label key the policy counts domains by (`gates.domains`
// and the breaker's key), the most Nodes out at once in each of its values, and when that was
// first reached. Out is what the replay's nodes-out timeline counts (not available, among the
// Nodes the gates count), kept current as Nodes change: O(1) per change, whatever the cluster.
import type { Node } from "../base/node.ts";
import type { Gates } from "../decide/policy.ts";
import { domainValue } from "../decide/domain_policy.ts";
import { domainKeys } from "../decide/replacements.ts";
import { isAvailable } from "../decide/selection.ts";
import { protection } from "../decide/protection.ts";
import type { IndexFollower } from "../resolve/node_index.ts";
import type { DomainPeak } from "./report_types.ts";

/** The most domains of one key the report lists (those whose peak was highest). */
export const MAX_DOMAINS_PER_KEY = 50;

interface Count {
  /** Nodes of the domain the gates count. */
  nodes: number;
  out: number;
  peak: number;
  /** Nodes counted when the peak was first reached. */
  peakNodes: number;
  at: string | null;
}

/** See the module comment. */
export class DomainPeaks implements IndexFollower {
  readonly keys: readonly string[];
  #gates: Gates;
  /** Per key (same order as `keys`): value to its counts. */
  #counts: Map<string, Count>[];
  /** Per Node: its values (one per key) and whether it counts and is out, as last counted. */
  #shares = new Map<string, { values: string[]; selected: boolean; out: boolean }>();
  /** Domains whose out rose since the last {@link note}: [key index, value]. */
  #rose: [number, string][] = [];

  /** `keys`: the label keys to follow; by default those of `gates.domains` and the breaker. */
  constructor(gates: Gates, keys: readonly string[] = domainKeys(gates)) {
    this.#gates = gates;
    this.keys = [...new Set(keys)];
    this.#counts = this.keys.map(() => new Map());
  }

  set(node: Node): void {
    if (this.keys.length === 0) return;
    this.remove(node.metadata.name);
    const selected = !protection(node, this.#gates);
    const share = {
      values: this.keys.map((k) => domainValue(node.metadata.labels, k)),
      selected,
      out: selected && !isAvailable(node),
    };
    this.#shares.set(node.metadata.name, share);
    this.#add(share, 1);
  }

  remove(name: string): void {
    const share = this.#shares.get(name);
    if (!share) return;
    this.#shares.delete(name);
    this.#add(share, -1);
  }

  /** Takes the peaks of the domains whose count rose since the last call, reached at `at`. */
  note(at: Date): void {
    for (const [i, value] of this.#rose) {
      const c = this.#counts[i].get(value);
      if (!c || c.out <= c.peak) continue;
      c.peak = c.out;
      c.peakNodes = c.nodes;
      c.at = at.toISOString();
    }
    this.#rose = [];
  }

  /** Each domain of each key, highest peak first, at most {@link MAX_DOMAINS_PER_KEY} per key. */
  peaks(): DomainPeak[] {
    return this.keys.flatMap((key, i) =>
      [...this.#counts[i]].map(([value, c]) => ({
        key,
        value,
        nodes: c.at === null ? c.nodes : c.peakNodes,
        peak: c.peak,
        at: c.at,
      }))
        .sort((a, b) => b.peak - a.peak || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
        .slice(0, MAX_DOMAINS_PER_KEY)
    );
  }

  #add(share: { values: string[]; selected: boolean; out: boolean }, sign: 1 | -1): void {
    if (!share.selected) return;
    for (const [i, value] of share.values.entries()) {
      const map = this.#counts[i];
      let c = map.get(value);
      if (!c) map.set(value, c = { nodes: 0, out: 0, peak: 0, peakNodes: 0, at: null });
      c.nodes += sign;
      if (share.out) {
        c.out += sign;
        if (sign === 1) this.#rose.push([i, value]);
      }
    }
  }
}
