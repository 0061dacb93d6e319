import { isCordoned, isReady, type Node } from "../node.ts";
import { CONTROL_PLANE_LABELS, EXCLUDE_LABEL, readState, remediations } from "./node_state.ts";
import { HISTORY } from "./node_state.ts";
import type { Gates } from "./policy.ts";
import { formatDuration } from "../duration.ts";

/** The gates that keep node-heal off a node for good: the control plane, a label, the selector. */
export type ProtectionGate = "protected" | "excluded";

/** A gate that blocked a remediation, and the sentence that says why. */
export interface Blocked {
  gate: ProtectionGate | TakeOutGate;
  message: string;
}

/** Why a node is protected from node-heal, or undefined when it is not. */
export function protection(node: Node, gates: Gates): Blocked | undefined {
  const name = node.metadata.name;
  const labels = node.metadata.labels ?? {};
  const cp = CONTROL_PLANE_LABELS.find((l) => Object.hasOwn(labels, l));
  if (cp) {
    return {
      gate: "protected",
      message: `${name} is a control-plane node (label ${cp}), never touched`,
    };
  }
  if (labels[EXCLUDE_LABEL] === "true") {
    return { gate: "excluded", message: `${name} is labelled ${EXCLUDE_LABEL}=true` };
  }
  const outside = Object.entries(gates.nodeSelector).find(([k, v]) => labels[k] !== v);
  if (outside) {
    return {
      gate: "protected",
      message: `${name} is outside the node selector (${outside[0]}=${outside[1]})`,
    };
  }
  return undefined;
}

/** Whether a node counts as available: schedulable and Ready, whoever made it otherwise. */
export function isAvailable(node: Node): boolean {
  return !isCordoned(node) && isReady(node);
}

/** The nodes the gates count: not protected (control plane, excluded, outside the selector). */
export function selected(nodes: Iterable<Node>, gates: Gates): Node[] {
  return [...nodes].filter((n) => !protection(n, gates));
}

/** How many selected nodes must stay available: a count, or a percentage rounded up. */
export function required(selectedCount: number, minHealthy: number | string): number {
  if (typeof minHealthy === "number") return minHealthy;
  return Math.ceil((Number(minHealthy.slice(0, -1)) * selectedCount) / 100);
}

function since(node: Node, annotation: string): number | undefined {
  const at = Date.parse(node.metadata.annotations?.[annotation] ?? "");
  return Number.isNaN(at) ? undefined : at;
}

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

/** Every gate's budget in a cluster of `nodes`. */
export function budgets(nodes: Iterable<Node>, options: BudgetOptions): Budgets {
  const { gates, now, paused } = options;
  // One pass over the cluster: this runs before every take-out decision.
  const t = now.getTime();
  let selectedCount = 0;
  let availableCount = 0;
  let owned = 0;
  let used = 0;
  let inFlight = 0;
  const cooling: string[] = [];
  for (const n of nodes) {
    const state = readState(n);
    if (!protection(n, gates)) {
      selectedCount++;
      if (isAvailable(n)) availableCount++;
      // node-heal's own cordons count against the budget whatever their nodes' Ready state, so
      // that cordoning nodes while they are NotReady cannot leave too few once they are Ready.
      if (state.owned && isCordoned(n)) owned++;
    }
    for (const at of remediations(n)) if (t - at < gates.rate.windowMs) used++;
    const released = since(n, HISTORY.releasedAt);
    if (released !== undefined && t - released < gates.cooldownMs) cooling.push(n.metadata.name);
    if (state.step === "draining") inFlight++;
  }
  const need = required(selectedCount, gates.minHealthy);
  const canTakeOut = Math.max(0, Math.min(availableCount - need, selectedCount - need - owned));
  return {
    selected: selectedCount,
    available: availableCount,
    minHealthy: { required: need, canTakeOut, heldByNodeHeal: owned },
    rate: {
      max: gates.rate.max,
      windowMs: gates.rate.windowMs,
      used,
      left: Math.max(0, gates.rate.max - used),
    },
    cooldown: { ms: gates.cooldownMs, nodes: cooling },
    maxConcurrent: { max: gates.maxConcurrent, inFlight },
    paused,
  };
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
      if (released === undefined || now.getTime() - released >= gates.cooldownMs) return undefined;
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
  options: BudgetOptions & { nodes: Iterable<Node> },
): Blocked | undefined {
  const ctx = {
    node,
    gates: options.gates,
    now: options.now,
    budgets: budgets(options.nodes, options),
  };
  for (const gate of TAKE_OUT_GATES) {
    const why = gate.check(ctx);
    if (why) return { gate: gate.name, message: why };
  }
  return undefined;
}
