import { isCordoned, isReady, type Node } from "../base/node.ts";
import type { Gates } from "./policy.ts";
import { protection } from "./protection.ts";

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
