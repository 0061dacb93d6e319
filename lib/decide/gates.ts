import type { Node } from "../base/node.ts";
import { HISTORY } from "./node_state.ts";
import { FUTURE_SKEW_MS } from "./state_schema.ts";
import type { Gates } from "./policy.ts";
import { formatDuration } from "../base/duration.ts";
import { isAvailable, type ProtectionGate, since } from "./selection.ts";
import { type BudgetOptions, type Budgets, Tally } from "./tally.ts";

export { isAvailable, protection, required, selected } from "./selection.ts";
export type { ProtectionGate } from "./selection.ts";
export type { BudgetOptions, Budgets } from "./tally.ts";

/** A gate that blocked a remediation, and the sentence that says why. */
export interface Blocked {
  gate: ProtectionGate | TakeOutGate;
  message: string;
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
}

/** One named safety gate of a take-out: undefined when it lets it pass, else why not. */
interface Gate {
  name: string;
  check(ctx: TakeOutContext): string | undefined;
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
] as const satisfies readonly Gate[];

/** The name of a take-out gate, as skips, metrics and Events carry it. */
export type TakeOutGate = (typeof TAKE_OUT_GATES)[number]["name"];

/** Whether node-heal may take `node` out (cordon it) now: the first of {@link TAKE_OUT_GATES} that says no. */
export function checkTakeOut(
  node: Node,
  options: BudgetOptions & ({ nodes: Iterable<Node> } | { tally: Tally }),
): Blocked | undefined {
  const ctx = {
    node,
    gates: options.gates,
    now: options.now,
    budgets: "tally" in options ? options.tally.budgets(options) : budgets(options.nodes, options),
  };
  for (const gate of TAKE_OUT_GATES) {
    const why = gate.check(ctx);
    if (why) return { gate: gate.name, message: why };
  }
  return undefined;
}
