// The gates that keep node-heal off a Node for good, whatever the decision: every kind of
// decision (a take-out, a drain, a replacement) and every budget asks them first.
import type { Node } from "../base/node.ts";
import { CONTROL_PLANE_LABELS, EXCLUDE_LABEL } from "./node_state.ts";
import type { Gates } from "./policy.ts";

/** What a protection gate looks at: the Node's name and labels, and the policy's gates. */
interface Looked {
  name: string;
  labels: Record<string, string>;
  gates: Gates;
}

/** One protection: undefined when it does not cover the Node, else why it does. */
interface Protection {
  name: string;
  check(ctx: Looked): string | undefined;
}

/** The protections, asked in this order; the first that covers a Node names the skip. */
export const PROTECTION_GATES = [
  {
    name: "protected",
    check: ({ name, labels }) => {
      const cp = CONTROL_PLANE_LABELS.find((l) => Object.hasOwn(labels, l));
      return cp ? `${name} is a control-plane node (label ${cp}), never touched` : undefined;
    },
  },
  {
    name: "excluded",
    check: ({ name, labels }) =>
      labels[EXCLUDE_LABEL] === "true" ? `${name} is labelled ${EXCLUDE_LABEL}=true` : undefined,
  },
  {
    name: "protected",
    check: ({ name, labels, gates }) => {
      const outside = Object.entries(gates.nodeSelector).find(([k, v]) => labels[k] !== v);
      return outside
        ? `${name} is outside the node selector (${outside[0]}=${outside[1]})`
        : undefined;
    },
  },
] as const satisfies readonly Protection[];

/** The gates that keep node-heal off a node for good: the control plane, a label, the selector. */
export type ProtectionGate = (typeof PROTECTION_GATES)[number]["name"];

/** A protection that keeps node-heal off a node, and the sentence that says why. */
export interface Protected {
  gate: ProtectionGate;
  message: string;
}

/** Why a node is protected from node-heal, or undefined when it is not. */
export function protection(node: Node, gates: Gates): Protected | undefined {
  const looked = { name: node.metadata.name, labels: node.metadata.labels ?? {}, gates };
  for (const gate of PROTECTION_GATES) {
    const why = gate.check(looked);
    if (why) return { gate: gate.name, message: why };
  }
  return undefined;
}
