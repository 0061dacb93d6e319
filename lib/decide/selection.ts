import { isCordoned, isReady, type Node } from "../base/node.ts";
import { CONTROL_PLANE_LABELS, EXCLUDE_LABEL } from "./node_state.ts";
import type { Gates } from "./policy.ts";

/** The gates that keep node-heal off a node for good: the control plane, a label, the selector. */
export type ProtectionGate = "protected" | "excluded";

/** A protection that keeps node-heal off a node, and the sentence that says why. */
export interface Protected {
  gate: ProtectionGate;
  message: string;
}

/** Why a node is protected from node-heal, or undefined when it is not. */
export function protection(node: Node, gates: Gates): Protected | undefined {
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

export function since(node: Node, annotation: string): number | undefined {
  const at = Date.parse(node.metadata.annotations?.[annotation] ?? "");
  return Number.isNaN(at) ? undefined : at;
}
