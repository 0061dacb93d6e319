// The full list of Nodes a watch starts from: paged (so no one answer holds every Node), each
// Node projected as it arrives, bounded (each page within its time; a list that repeats its
// continue token, or carries no resourceVersion, fails instead of looping).
import type * as k8s from "@kubernetes/client-node";
import { toNode } from "./convert.ts";
import { rawJson } from "./raw.ts";
import { timeBound } from "./time_bound.ts";
import { clip } from "../../clip.ts";
import type { Node } from "../../node.ts";

/** Nodes per page of the list: bounds what one response holds in memory at once. */
export const LIST_PAGE = 100;

/** Lists every Node, page by page; what to watch from is the last page's resourceVersion. */
export async function listNodes(
  kc: k8s.KubeConfig,
  options: { pageMs: number; signal: AbortSignal; stopped: () => boolean },
): Promise<{ nodes: Node[]; resourceVersion: string }> {
  const nodes: Node[] = [];
  let next: string | undefined;
  let version: string | undefined;
  do {
    const page = await timeBound(
      listPage(kc, { limit: LIST_PAGE, continue: next }, options.signal),
      options.pageMs,
      "list nodes",
    );
    for (const item of page.items) nodes.push(toNode(item));
    version = page.metadata?.resourceVersion;
    const token = page.metadata?.continue || undefined;
    // The same page again and again would be a list that never ends, asked for back to back.
    if (token !== undefined && token === next) {
      throw new Error(`the list's continue token "${clip(token, 40)}" repeats`);
    }
    next = token;
  } while (next && !options.stopped());
  // Without one, the watch would start from "any" and the next list would follow at once.
  if (!version && !options.stopped()) {
    throw new Error("the list carries no resourceVersion to watch from");
  }
  return { nodes, resourceVersion: version ?? "" };
}

/** One page of Nodes, as JSON. */
interface NodePage {
  items: k8s.V1Node[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** One page of the Node list, read as plain JSON (see rawJson). */
function listPage(
  kc: k8s.KubeConfig,
  query: { limit: number; continue?: string },
  signal: AbortSignal,
): Promise<NodePage> {
  const params = new URLSearchParams({ limit: String(query.limit) });
  if (query.continue) params.set("continue", query.continue);
  return rawJson<NodePage>(kc, { method: "GET", path: `/api/v1/nodes?${params}` }, signal);
}
