// The full list of Nodes a watch starts from: paged (so no one answer holds every Node), each
// Node projected as it arrives, bounded (each page within its time and bytes; a list that repeats
// its continue token, or carries no resourceVersion, fails instead of looping).
import type * as k8s from "@kubernetes/client-node";
import type { Kubeconfig } from "./kubeconfig.ts";
import { toNode } from "./convert.ts";
import { parseLean } from "./lean_json.ts";
import { rawJson } from "./raw.ts";
import { timeBound } from "./time_bound.ts";
import { eachPage, MAX_PAGE_BYTES, type Page } from "./pages.ts";
import type { Node } from "../../base/node.ts";

/** Nodes per page of the list: bounds what one response holds in memory at once. */
export const LIST_PAGE = 100;

/** Lists every Node, page by page; what to watch from is the last page's resourceVersion. */
export async function listNodes(
  kc: Kubeconfig,
  options: { pageMs: number; signal: AbortSignal; stopped: () => boolean },
): Promise<{ nodes: Node[]; resourceVersion: string }> {
  const nodes: Node[] = [];
  const version = await eachPage<k8s.V1Node>(
    (limit, token) =>
      timeBound(
        listPage(kc, { limit, continue: token }, options.signal),
        options.pageMs,
        "list nodes",
      ),
    {
      limit: LIST_PAGE,
      each: (items) => items.forEach((item) => nodes.push(toNode(item))),
      stopped: options.stopped,
    },
  );
  // Without one, the watch would start from "any" and the next list would follow at once.
  if (!version && !options.stopped()) {
    throw new Error("the list carries no resourceVersion to watch from");
  }
  return { nodes, resourceVersion: version ?? "" };
}

/** One page of the Node list, read as plain JSON (see rawJson). */
function listPage(
  kc: Kubeconfig,
  query: { limit: number; continue?: string },
  signal: AbortSignal,
): Promise<Page<k8s.V1Node>> {
  const params = new URLSearchParams({ limit: String(query.limit) });
  if (query.continue) params.set("continue", query.continue);
  return rawJson<Page<k8s.V1Node>>(kc, {
    method: "GET",
    path: `/api/v1/nodes?${params}`,
    maxBytes: MAX_PAGE_BYTES,
    parse: parseLean,
  }, signal);
}
