// Every safety gate, one table per kind of decision: a take-out (cordon), a drain, a
// replacement. The protections every kind asks first are in protection.ts. A gate is one entry
// of its table: its name is what skips, metrics, Events and docs carry.
import type { Node } from "../base/node.ts";
import { HISTORY } from "./node_state.ts";
import { FUTURE_SKEW_MS } from "./state_schema.ts";
import type { Gates } from "./policy.ts";
import { formatDuration } from "../base/duration.ts";
import { isAvailable, since } from "./selection.ts";
import { PROTECTION_GATES, type ProtectionGate } from "./protection.ts";
import { type BudgetOptions, type Budgets, Tally } from "./tally.ts";
import type { ReplaceBudgets } from "./replacements.ts";
import { type DomainBudget, domainDrain, domainReplace, domainTakeOut } from "./domains.ts";
import type { DomainGate } from "./domain_policy.ts";

export { isAvailable, required, selected } from "./selection.ts";
export { protection } from "./protection.ts";
export type { ProtectionGate } from "./protection.ts";
export type { BudgetOptions, Budgets } from "./tally.ts";

/** A gate that blocked a remediation, and the sentence that says why. */
export interface Blocked<G extends Gate = ProtectionGate | TakeOutGate> {
  gate: G;
  message: string;
  /** What names the gate further, after its name: a domain gate's label key. */
  qualifier?: string;
}

/** What a gate's check says: nothing when it lets it pass, else why not (and its qualifier). */
type Verdict = string | { message: string; qualifier: string } | undefined;

/** How a skip names a blocking gate: `(gate domain topology.kubernetes.io/zone)`. */
export function gateClause(block: { gate: string; qualifier?: string }): string {
  return `(gate ${block.gate}${block.qualifier ? ` ${block.qualifier}` : ""})`;
}

/** The name of any gate: a protection, or a gate of a take-out, a drain or a replacement. */
export type Gate = ProtectionGate | TakeOutGate | DrainGate | ReplaceGate;

/** The first gate of `table` that says no, or undefined when all let it pass. */
function firstNo<C, N extends Gate>(
  table: readonly { name: N; check(ctx: C): Verdict }[],
  ctx: C,
): Blocked<N> | undefined {
  for (const gate of table) {
    const why = gate.check(ctx);
    if (typeof why === "string") return { gate: gate.name, message: why };
    if (why) return { gate: gate.name, ...why };
  }
  return undefined;
}

/** Every gate's budget in a cluster of `nodes`, counted from all of them. */
export function budgets(nodes: Iterable<Node>, options: BudgetOptions): Budgets {
  return new Tally(options.gates, { nodes }).budgets(options);
}

/** What a take-out gate looks at: the node, the cluster's budgets, the policy's gates, now. */
export interface TakeOutContext {
  node: Node;
  budgets: Budgets;
  gates: Gates;
  now: Date;
  /** The budgets of each domain of `gates.domains` the node is in. */
  domains: readonly DomainBudget[];
}

/** One named safety gate of a take-out: undefined when it lets it pass, else why not. */
interface TakeOutCheck {
  name: string;
  check(ctx: TakeOutContext): Verdict;
}

/** The first domain whose budget `check` says no to, as a verdict naming its key. */
function firstDomain<D extends { gate: DomainGate }>(
  domains: readonly D[] | undefined,
  check: (d: D) => string | undefined,
): Verdict {
  for (const d of domains ?? []) {
    const message = check(d);
    if (message) return { message, qualifier: d.gate.key };
  }
  return undefined;
}

/**
 * The safety gates of a take-out (a cordon), asked in this order; the first that says no names
 * the skip. Adding a gate is one entry here and its test.
 */
export const TAKE_OUT_GATES = [
  {
    name: "paused",
    check: ({ node, budgets }) =>
      budgets.paused ? `node-heal is paused; ${node.metadata.name} was left as it is` : undefined,
  },
  {
    // Only while the node is still available: taking out a node already out costs nothing.
    name: "minHealthy",
    check: ({ node, budgets: b, gates }) => {
      const name = node.metadata.name;
      if (isAvailable(node) && b.available - 1 < b.minHealthy.required) {
        return `taking ${name} out would leave ${b.available - 1} of ${b.selected} nodes ` +
          `schedulable and Ready; at least ${b.minHealthy.required} must stay (minHealthy ${gates.minHealthy})`;
      }
      if (b.selected - b.minHealthy.heldByNodeHeal - 1 < b.minHealthy.required) {
        return `node-heal already holds ${b.minHealthy.heldByNodeHeal} of ${b.selected} nodes; ` +
          `taking ${name} out too would leave fewer than ${b.minHealthy.required} once they are ` +
          `Ready again (minHealthy ${gates.minHealthy})`;
      }
      return undefined;
    },
  },
  {
    // Every domain the node is in (gates.domains): minHealthy, maxUnavailable, maxCordoned.
    name: "domain",
    check: ({ node, domains }) =>
      firstDomain(
        domains,
        (d) => domainTakeOut({ name: node.metadata.name, available: isAvailable(node) }, d),
      ),
  },
  {
    name: "rate",
    check: ({ node, budgets: b, gates }) =>
      b.rate.left <= 0
        ? `taking ${node.metadata.name} out would exceed the rate: ${b.rate.used} nodes were remediated ` +
          `in the last ${formatDuration(gates.rate.windowMs)}, the rate allows ${gates.rate.max}`
        : undefined,
  },
  {
    name: "cooldown",
    check: ({ node, gates, now }) => {
      const released = since(node, HISTORY.releasedAt);
      // A release in the future was not node-heal's: it never counts.
      if (released === undefined || released > now.getTime() + FUTURE_SKEW_MS) return undefined;
      if (now.getTime() - released >= gates.cooldownMs) return undefined;
      return `${node.metadata.name} was released ${
        Math.round((now.getTime() - released) / 1000)
      }s ago; the cooldown is ${formatDuration(gates.cooldownMs)}`;
    },
  },
] as const satisfies readonly TakeOutCheck[];

/** The name of a take-out gate, as skips, metrics and Events carry it. */
export type TakeOutGate = (typeof TAKE_OUT_GATES)[number]["name"];

/** Whether node-heal may take `node` out (cordon it) now: the first of {@link TAKE_OUT_GATES} that says no. */
export function checkTakeOut(
  node: Node,
  options: BudgetOptions & ({ nodes: Iterable<Node> } | { tally: Tally }),
): Blocked | undefined {
  const tally = "tally" in options
    ? options.tally
    : new Tally(options.gates, { nodes: options.nodes });
  const ctx = {
    node,
    gates: options.gates,
    now: options.now,
    budgets: tally.budgets(options),
    domains: tally.domainBudgets(node),
  };
  return firstNo(TAKE_OUT_GATES, ctx);
}

/** What the drain gate looks at: the Node, how many others are draining, the policy's gates. */
export interface DrainContext {
  node: string;
  draining: number;
  gates: Gates;
  /** The budgets of each domain of `gates.domains` the node is in. */
  domains?: readonly DomainBudget[];
  /** Why the breaker makes it wait its turn (breaker.ts), if it does. */
  breaker?: string;
}

/**
 * The gates of a drain's start, asked in this order. A resumed drain is not asked: it already
 * holds its place. The policy in force is asked before them (halts.ts).
 */
export const DRAIN_GATES = [
  {
    name: "breaker",
    check: ({ breaker }: DrainContext): Verdict => breaker,
  },
  {
    name: "maxConcurrent",
    check: ({ draining, gates }: DrainContext) =>
      draining >= gates.maxConcurrent
        ? `${draining} nodes are draining, maxConcurrent is ${gates.maxConcurrent}`
        : undefined,
  },
  {
    name: "domain",
    check: ({ domains }: DrainContext): Verdict => firstDomain(domains, domainDrain),
  },
] as const;

/** The name of a drain gate, as skips and metrics carry it. */
export type DrainGate = (typeof DRAIN_GATES)[number]["name"];

/** Whether a drain of `ctx.node` may start: the first of {@link DRAIN_GATES} that says no. */
export function checkDrain(ctx: DrainContext): Blocked<DrainGate> | undefined {
  return firstNo(DRAIN_GATES, ctx);
}

/** A replacement gate: undefined when it lets a replacement of `node` start, else why not. */
interface ReplaceCheck {
  name: string;
  check(ctx: ReplaceContext): Verdict;
}

/** What a replacement gate looks at: the Node, the ledger's budgets, the policy's gates. */
export interface ReplaceContext {
  node: string;
  b: ReplaceBudgets;
  gates: Gates;
  /** Each domain of `gates.domains` the Node is in, and the replacements in flight there. */
  domains?: readonly { gate: DomainGate; value: string; inFlight: readonly string[] }[];
  /** Why the breaker holds it, or makes it wait its turn (breaker.ts), if it does. */
  breaker?: string;
}

/**
 * The gates of a replacement, asked in this order; the first that says no names the skip. The
 * Node is already out (cordoned and drained), so minHealthy has counted it; it goes on counting
 * it, as a Node being replaced, until its successor is Ready.
 */
export const REPLACE_GATES = [
  {
    name: "paused",
    check: ({ node, b }) =>
      b.paused ? `node-heal is paused; ${node} was not replaced (it stays cordoned)` : undefined,
  },
  {
    name: "ledger",
    check: ({ node, b }) =>
      b.damaged
        ? `the replacement ledger cannot be trusted (${b.damaged}); ${node} waits until it is repaired or deleted`
        : undefined,
  },
  {
    name: "breaker",
    check: ({ breaker }) => breaker,
  },
  {
    name: "maxReplacing",
    check: ({ node, b, gates }) =>
      b.maxReplacing.inFlight >= gates.maxReplacing
        ? `${b.maxReplacing.inFlight} replacement${
          b.maxReplacing.inFlight === 1 ? " is" : "s are"
        } under way (${
          b.maxReplacing.nodes.slice(0, 5).join(", ")
        }); maxReplacing is ${gates.maxReplacing}, so ${node} waits`
        : undefined,
  },
  {
    name: "domain",
    check: ({ domains }) => firstDomain(domains, (d) => domainReplace(d.gate, d.value, d.inFlight)),
  },
  {
    name: "replaceRate",
    check: ({ node, b, gates }) =>
      b.replaceRate.left <= 0
        ? `replacing ${node} would exceed the replacement rate: ${b.replaceRate.used} started in the last ${
          formatDuration(gates.replaceRate.windowMs)
        }, replaceRate allows ${gates.replaceRate.max}`
        : undefined,
  },
] as const satisfies readonly ReplaceCheck[];

/** The name of a replacement gate, as skips and metrics carry it (`paused` is shared with take-outs). */
export type ReplaceGate = (typeof REPLACE_GATES)[number]["name"];

/** Whether a replacement of `node` may start: the first of {@link REPLACE_GATES} that says no. */
export function checkReplace(
  node: string,
  budgets: ReplaceBudgets,
  gates: Gates,
  more: Pick<ReplaceContext, "domains" | "breaker"> = {},
): Blocked<ReplaceGate> | undefined {
  return firstNo(REPLACE_GATES, { node, b: budgets, gates, ...more });
}

/** Every gate's name, once (`paused` is shared by take-outs and replacements). */
export const GATES: readonly Gate[] = [
  ...new Set(
    [PROTECTION_GATES, TAKE_OUT_GATES, DRAIN_GATES, REPLACE_GATES].flatMap((t) =>
      t.map((g) => g.name)
    ),
  ),
];
