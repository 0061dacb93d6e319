import { isCordoned, type Node } from "../base/node.ts";
import { isAvailable, required, since } from "./selection.ts";
import { protection } from "./protection.ts";
import { HISTORY, readState, remediations } from "./node_state.ts";
import type { Gates } from "./policy.ts";
import { FUTURE_SKEW_MS } from "./state_schema.ts";
import { type DomainBudget, DomainTally } from "./domains.ts";
import { recordedIn } from "./domain_policy.ts";

/** What each gate has left, counted from cluster truth (for `/status` and the gates themselves). */
export interface Budgets {
  selected: number;
  available: number;
  minHealthy: { required: number; canTakeOut: number; heldByNodeHeal: number };
  rate: { max: number; windowMs: number; used: number; left: number };
  cooldown: { ms: number; nodes: string[] };
  maxConcurrent: { max: number; inFlight: number };
  paused: boolean;
}

/** Options of {@link budgets} and {@link checkTakeOut}. */
export interface BudgetOptions {
  /** The policy's gates. */
  gates: Gates;
  now: Date;
  /** Whether a pause is in force. */
  paused: boolean;
}

/** What one Node adds to the cluster's counts. */
interface Share {
  selected: boolean;
  available: boolean;
  /** Cordoned by node-heal (counted against minHealthy whatever its Ready state). */
  held: boolean;
  draining: boolean;
  remediations: number[];
  releasedAt?: number;
  /** Its domain of each `gates.domains` entry. */
  values: string[];
}

/** A take-out decided and not yet written: counted as done until its write ends. */
interface Reservation {
  at: number;
  /** What it adds to the counts now (nothing once its Node shows the cordon). */
  effect: Effect;
  /**
   * Set when its write ended without an answer (a timeout): it may still land, so it is kept
   * until the Node changes from this resourceVersion (the write landed, or can no longer: it
   * carries this version) or until `until` (ms).
   */
  unsure?: { from?: string; until: number };
}

/** How a reservation ends: at once, or kept while its write may still land. */
export type Release = (unsure?: { from?: string; until: Date }) => void;

/** What a reservation adds: one more held, maybe one fewer available, maybe one more remediation. */
interface Effect {
  held: number;
  available: number;
  used: number;
}

const NO_EFFECT: Effect = { held: 0, available: 0, used: 0 };

/**
 * The cluster's counts for the gates, kept current as Nodes change instead of counted from every
 * Node at each decision: a take-out decision costs O(log n), not O(n). Fed by the node index
 * (`set`, `remove`); `reserve` counts a take-out decided but not yet written, so that decisions
 * made while earlier writes are in flight still count them. Counts depend on the gates' node
 * selector: one tally serves one policy.
 */
export class Tally {
  readonly gates: Gates;
  #shares = new Map<string, Share>();
  #selected = 0;
  #available = 0;
  #held = 0;
  #draining = 0;
  /** Every remediation time of every Node, sorted: the rate gate counts those in its window. */
  #times: number[] = [];
  #released = new Map<string, number>();
  #reserved = new Map<string, Reservation>();
  /** The sum of the reservations' effects. */
  #effect: Effect = { ...NO_EFFECT };

  /**
   * Nodes being replaced whose Node is gone: counted as selected and held by node-heal (not
   * available) until their successor is Ready, so a replacement never frees budget early.
   */
  replacingGone: () => number = () => 0;

  /**
   * The domain labels of each of those (`undefined` for one whose labels are unknown: it counts
   * in every domain), for the budgets of `gates.domains`.
   */
  goneLabels: () => readonly (Readonly<Record<string, string>> | undefined)[] = () => [];

  /**
   * When the Nodes replaced and gone were taken out (the ledger's `cordonedAt`): the rate gate
   * counts them, as their own `remediated-at` went with them.
   */
  goneTakeOuts: () => readonly number[] = () => [];

  /** The counts of each domain of `gates.domains`. */
  #domains: DomainTally;

  constructor(gates: Gates, options: { nodes?: Iterable<Node> } = {}) {
    this.gates = gates;
    this.#domains = new DomainTally(gates.domains ?? []);
    for (const node of options.nodes ?? []) this.set(node);
  }

  /** Counts Node `node` as it is now, in place of what it was. */
  set(node: Node): void {
    const name = node.metadata.name;
    const unsure = this.#reserved.get(name)?.unsure;
    if (unsure && node.metadata.resourceVersion !== unsure.from) this.#end(name);
    this.#drop(name);
    const state = readState(node);
    const selected = !protection(node, this.gates);
    // Only what node-heal holds on a Node it may act on counts: a Node that is protected, or
    // that says it drains without node-heal's cordon, takes no budget from the others.
    const ours = selected && state.owned && isCordoned(node);
    const share: Share = {
      selected,
      available: selected && isAvailable(node),
      held: ours,
      draining: ours && state.step === "draining",
      remediations: selected ? remediations(node) : [],
      releasedAt: since(node, HISTORY.releasedAt),
      values: this.#domains.valuesOf(node),
    };
    this.#shares.set(name, share);
    this.#add(share, 1);
    this.#domains.count(name, share.values, share, 1);
    for (const t of share.remediations) this.#times.splice(upperBound(this.#times, t), 0, t);
    if (share.releasedAt !== undefined) this.#released.set(name, share.releasedAt);
    const reservation = this.#reserved.get(name);
    if (reservation) this.#apply(reservation, effectOf(share, reservation.at));
  }

  /** Forgets Node `name`. */
  remove(name: string): void {
    this.#drop(name);
  }

  /** Counts everything again from `nodes` (after a list). */
  reset(nodes: Iterable<Node>): void {
    for (const name of [...this.#shares.keys()]) this.#drop(name);
    for (const node of nodes) this.set(node);
  }

  /**
   * Counts a take-out of Node `name` decided at `at` as done until the returned release is
   * called (when its write has ended and the index holds the result, or it failed).
   */
  reserve(name: string, at: Date): Release {
    const previous = this.#reserved.get(name);
    if (previous) this.#apply(previous, NO_EFFECT);
    const reservation: Reservation = { at: at.getTime(), effect: NO_EFFECT };
    this.#reserved.set(name, reservation);
    const share = this.#shares.get(name);
    if (share) this.#apply(reservation, effectOf(share, reservation.at));
    return (unsure) => {
      if (this.#reserved.get(name) !== reservation) return;
      if (unsure) reservation.unsure = { from: unsure.from, until: unsure.until.getTime() };
      else this.#end(name);
    };
  }

  /** Ends the reservation of Node `name`. */
  #end(name: string): void {
    const reservation = this.#reserved.get(name);
    if (!reservation) return;
    this.#apply(reservation, NO_EFFECT);
    this.#reserved.delete(name);
  }

  /** Replaces what `reservation` adds to the counts with `effect`. */
  #apply(reservation: Reservation, effect: Effect): void {
    for (const k of ["held", "available", "used"] as const) {
      this.#effect[k] += effect[k] - reservation.effect[k];
    }
    reservation.effect = effect;
  }

  /** Nodes draining now, other than `except`. */
  draining(except?: string): number {
    return this.#draining - (except && this.#shares.get(except)?.draining ? 1 : 0);
  }

  /**
   * The budgets of each domain of `gates.domains` that `node` is in, counting the take-outs
   * reserved there and the replacements in flight whose Node is gone.
   */
  domainBudgets(node: Node): DomainBudget[] {
    const gates = this.#domains.gates;
    if (gates.length === 0) return [];
    const values = this.#shares.get(node.metadata.name)?.values ?? this.#domains.valuesOf(node);
    const gone = this.goneLabels();
    return gates.map((gate, i) => {
      const value = values[i];
      const counts = this.#domains.counts(i, value);
      for (const [name, r] of this.#reserved) {
        if (this.#shares.get(name)?.values[i] !== value) continue;
        counts.held += r.effect.held;
        counts.available -= r.effect.available;
      }
      for (const labels of gone) {
        if (!recordedIn(labels, gate.key, value)) continue;
        counts.selected++;
        counts.held++;
      }
      return { gate, value, counts };
    });
  }

  /** Every domain of `gates.domains` and its counts (for /status). */
  domains(): ReturnType<DomainTally["all"]> {
    return this.#domains.all();
  }

  /** Every gate's budget now. */
  budgets(options: Omit<BudgetOptions, "gates"> & { gates?: Gates }): Budgets {
    const gates = this.gates;
    const t = options.now.getTime();
    for (const [name, r] of this.#reserved) if (r.unsure && r.unsure.until <= t) this.#end(name);
    const gone = this.replacingGone();
    const available = this.#available - this.#effect.available;
    const held = this.#held + this.#effect.held + gone;
    // Remediations in the window; a time in the future was not node-heal's and never counts.
    const inWindow = (at: number) => at > t - gates.rate.windowMs && at <= t + FUTURE_SKEW_MS;
    const used = upperBound(this.#times, t + FUTURE_SKEW_MS) -
      upperBound(this.#times, t - gates.rate.windowMs) + this.#effect.used +
      this.goneTakeOuts().filter(inWindow).length;
    const selected = this.#selected + gone;
    const need = required(selected, gates.minHealthy);
    // Listed only when read (by /status): every Node ever released is in the map, and a
    // take-out decision must not walk them all.
    const released = this.#released;
    let cooling: string[] | undefined;
    const cooldown = {
      ms: gates.cooldownMs,
      get nodes(): string[] {
        cooling ??= [...released].filter(([, at]) => t - at < gates.cooldownMs).map(([n]) => n);
        return cooling;
      },
    };
    return {
      selected,
      available,
      minHealthy: {
        required: need,
        canTakeOut: Math.max(0, Math.min(available - need, selected - need - held)),
        heldByNodeHeal: held,
      },
      rate: {
        max: gates.rate.max,
        windowMs: gates.rate.windowMs,
        used,
        left: Math.max(0, gates.rate.max - used),
      },
      cooldown,
      maxConcurrent: { max: gates.maxConcurrent, inFlight: this.#draining },
      paused: options.paused,
    };
  }

  #drop(name: string): void {
    const share = this.#shares.get(name);
    if (!share) return;
    this.#shares.delete(name);
    this.#add(share, -1);
    this.#domains.count(name, share.values, share, -1);
    for (const t of share.remediations) {
      const i = upperBound(this.#times, t) - 1;
      if (i >= 0 && this.#times[i] === t) this.#times.splice(i, 1);
    }
    this.#released.delete(name);
    const reservation = this.#reserved.get(name);
    if (reservation) this.#apply(reservation, NO_EFFECT);
  }

  #add(share: Share, sign: 1 | -1): void {
    if (share.selected) this.#selected += sign;
    if (share.available) this.#available += sign;
    if (share.held) this.#held += sign;
    if (share.draining) this.#draining += sign;
  }
}

/** What a take-out reserved at `at` adds to the counts while `share` does not show it yet. */
function effectOf(share: Share, at: number): Effect {
  if (!share.selected || share.held) return NO_EFFECT;
  return {
    held: 1,
    available: share.available ? 1 : 0,
    used: share.remediations.some((t) => t >= at - 1000) ? 0 : 1,
  };
}

/** The index of the first element of sorted `list` greater than `value`. */
function upperBound(list: number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
