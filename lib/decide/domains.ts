// Budgets per topology domain (`gates.domains`): the counts of each domain (a zone, a pool) kept
// as Nodes change, and the checks a take-out and a drain pass in every domain their Node is in.
// The tally (tally.ts) feeds the counts; the gates (gates.ts) ask the checks.
import type { Node } from "../base/node.ts";
import { type DomainGate, domainName, domainValue, scaled } from "./domain_policy.ts";

/** What one domain counts: the selected Nodes, those available, node-heal's cordons, its drains. */
export interface DomainCounts {
  selected: number;
  available: number;
  held: number;
  draining: number;
}

/** What one Node adds to its domains' counts (the tally's share of it). */
export interface DomainShare {
  selected: boolean;
  available: boolean;
  held: boolean;
  draining: boolean;
}

/** One domain of one `gates.domains` entry: its key, its value, and its counts now. */
export interface DomainBudget {
  gate: DomainGate;
  value: string;
  counts: DomainCounts;
}

const ZERO: DomainCounts = { selected: 0, available: 0, held: 0, draining: 0 };

/**
 * The counts of every domain of every `gates.domains` entry, kept as Nodes change: each Node is
 * in one domain per entry (its label's value, "" when it has none, one domain of the
 * unlabelled).
 */
export class DomainTally {
  readonly gates: readonly DomainGate[];
  /** Per entry: value to counts. */
  #counts: Map<string, DomainCounts>[];
  /** Per Node: its value for each entry, as last counted. */
  #values = new Map<string, string[]>();

  constructor(gates: readonly DomainGate[]) {
    this.gates = gates;
    this.#counts = gates.map(() => new Map());
  }

  /** The domain values of `node`, one per entry. */
  valuesOf(node: Node): string[] {
    return this.gates.map((g) => domainValue(node.metadata.labels, g.key));
  }

  /** Adds (sign 1) or takes away (-1) `share` of Node `name` in the domains of `values`. */
  count(name: string, values: string[], share: DomainShare, sign: 1 | -1): void {
    if (sign === 1) this.#values.set(name, values);
    else this.#values.delete(name);
    for (const [i, value] of values.entries()) {
      const map = this.#counts[i];
      const c = map.get(value) ?? { ...ZERO };
      if (share.selected) c.selected += sign;
      if (share.available) c.available += sign;
      if (share.held) c.held += sign;
      if (share.draining) c.draining += sign;
      if (c.selected === 0 && c.held === 0 && c.draining === 0) map.delete(value);
      else map.set(value, c);
    }
  }

  /** The domain values Node `name` was last counted in. */
  values(name: string): string[] | undefined {
    return this.#values.get(name);
  }

  /** The counts of domain `value` of entry `i`. */
  counts(i: number, value: string): DomainCounts {
    return { ...(this.#counts[i].get(value) ?? ZERO) };
  }

  /**
   * Every domain of every entry with its counts (for /status), at most `limit` per entry: those
   * where node-heal holds or drains first, then those with the most nodes out. `notListed` counts
   * the domains left out.
   */
  all(limit = 100): {
    list: { key: string; value: string; counts: DomainCounts }[];
    notListed: number;
  } {
    let notListed = 0;
    const list = this.gates.flatMap((g, i) => {
      const weight = (c: DomainCounts) => (c.held + c.draining) * 1e6 + c.selected - c.available;
      const sorted = [...this.#counts[i]].sort(([, a], [, b]) => weight(b) - weight(a));
      notListed += Math.max(0, sorted.length - limit);
      return sorted.slice(0, limit).map(([value, counts]) => ({
        key: g.key,
        value,
        counts: { ...counts },
      }));
    });
    return { list, notListed };
  }
}

/**
 * Why a take-out of `node` would break the budget of `domain`, or undefined: `minHealthy` (what
 * must stay available), `maxUnavailable` (what may be out, whoever took it out) and
 * `maxCordoned` (what node-heal may hold).
 */
export function domainTakeOut(
  node: { name: string; available: boolean },
  domain: DomainBudget,
): string | undefined {
  const { gate, value, counts: c } = domain;
  const where = domainName(gate.key, value);
  // As the global minHealthy: what is available is asked only of an available node (taking out
  // one already out costs nothing), what node-heal holds of every node.
  if (gate.minHealthy !== undefined) {
    const need = scaled(gate.minHealthy, c.selected, "up");
    const left = node.available ? c.available - 1 : Infinity;
    const afterHeld = c.selected - c.held - 1;
    if (Math.min(left, afterHeld) < need) {
      return `taking ${node.name} out would leave ${where} with ${
        Math.max(0, Math.min(left, afterHeld))
      } of ${c.selected} nodes; at least ${need} must stay (minHealthy ${gate.minHealthy})`;
    }
  }
  if (gate.maxUnavailable !== undefined) {
    const max = scaled(gate.maxUnavailable, c.selected, "down");
    const out = Math.max(node.available ? c.selected - c.available + 1 : 0, c.held + 1);
    if (out > max) {
      return `taking ${node.name} out would leave ${where} with ${
        Math.max(0, c.selected - out)
      } of ${c.selected} nodes; maxUnavailable ${gate.maxUnavailable}`;
    }
  }
  if (gate.maxCordoned !== undefined) {
    const max = scaled(gate.maxCordoned, c.selected, "down");
    if (c.held + 1 > max) {
      return `node-heal already holds ${c.held} of ${c.selected} nodes of ${where} cordoned; ` +
        `maxCordoned ${gate.maxCordoned}`;
    }
  }
  return undefined;
}

/** Why a drain of a Node of `domain` may not start (its `maxConcurrent`), or undefined. */
export function domainDrain(domain: DomainBudget): string | undefined {
  const { gate, value, counts } = domain;
  if (gate.maxConcurrent === undefined || counts.draining < gate.maxConcurrent) return undefined;
  const n = counts.draining;
  return `${n} node${n === 1 ? "" : "s"} of ${domainName(gate.key, value)} ${
    n === 1 ? "is" : "are"
  } draining, maxConcurrent is ${gate.maxConcurrent} there`;
}

/** Why a replacement in `domain` may not start (its `maxReplacing`), or undefined. */
export function domainReplace(
  gate: DomainGate,
  value: string,
  inFlight: readonly string[],
): string | undefined {
  if (gate.maxReplacing === undefined || inFlight.length < gate.maxReplacing) return undefined;
  return `${inFlight.length} replacement${inFlight.length === 1 ? " is" : "s are"} under way in ${
    domainName(gate.key, value)
  } (${inFlight.slice(0, 5).join(", ")}); maxReplacing is ${gate.maxReplacing} there`;
}
