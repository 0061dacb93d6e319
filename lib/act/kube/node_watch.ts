import * as k8s from "@kubernetes/client-node";
import type { NodeWatchHandlers, Stoppable } from "../kube_types.ts";
import { timeBound } from "./time_bound.ts";
import { toKubeError, toNode } from "./convert.ts";
import { rawJson, withRequest } from "./raw.ts";

/** Nodes per page of the list: bounds what one response holds in memory at once. */
export const LIST_PAGE = 100;

/** How long one watch request may stay open before the server ends it and it is made again (s). */
const WATCH_TIMEOUT_S = 300;

/**
 * Lists and watches Nodes, telling `handlers` of every change. Each Node is projected to the
 * few fields node-heal reads as it arrives (see `toNode`): nothing keeps the full objects, unlike
 * the client library's informer, which holds a second copy of every Node. The list is paged;
 * a watch that ends is made again from the last resourceVersion seen (bookmarks included); one
 * that fails is made again after a delay that doubles up to 30 s; 410 Gone lists again.
 */
export function watchNodes(
  kc: k8s.KubeConfig,
  options: { timeoutMs: number },
  handlers: NodeWatchHandlers,
): Promise<Stoppable> {
  const watcher = new k8s.Watch(kc);
  let resourceVersion: string | undefined;
  let stopped = false;
  let failing = false;
  let delay = 500;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let request: AbortController | undefined;

  const server = kc.getCurrentCluster()?.server ?? "(no server)";
  const fail = (err: unknown, what: string) => {
    failing = true;
    // The list's errors name their request already (rawJson); the watch's say it here.
    const request = what === "watch nodes" ? `GET ${server}/api/v1/nodes?watch=true` : undefined;
    handlers.error(toKubeError(request ? withRequest(err, request) : err, what));
    const wait = delay;
    delay = Math.min(delay * 2, 30_000);
    later(wait);
  };
  const later = (ms: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (resourceVersion === undefined) list();
      else watch();
    }, ms);
  };

  const list = async () => {
    try {
      const nodes = [];
      let next: string | undefined;
      let version: string | undefined;
      do {
        const page = await timeBound(
          listPage(kc, { limit: LIST_PAGE, continue: next }),
          options.timeoutMs * 6,
          "list nodes",
        );
        for (const item of page.items) nodes.push(toNode(item));
        version = page.metadata?.resourceVersion;
        next = page.metadata?.continue || undefined;
      } while (next && !stopped);
      if (stopped) return;
      resourceVersion = version;
      failing = false;
      delay = 500;
      handlers.listed(nodes);
      watch();
    } catch (err) {
      resourceVersion = undefined;
      fail(err, "list nodes");
    }
  };

  const watch = async () => {
    if (stopped) return;
    let gone = false;
    let ended = false;
    /** An in-band ERROR event other than 410 (the server ends the watch after it). */
    let failed: { code?: number; message?: string } | undefined;
    try {
      const controller = await watcher.watch(
        "/api/v1/nodes",
        {
          resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: WATCH_TIMEOUT_S,
        },
        (phase: string, obj: k8s.V1Node & { code?: number; message?: string }) => {
          if (stopped) return;
          if (phase === "ERROR") {
            // 410: the version is older than the server's history; anything else is a failure
            // of this watch, made again after a delay (not at once: it may fail the same way).
            gone = obj.code === 410;
            if (!gone) failed = { code: obj.code, message: obj.message };
            return;
          }
          // Events flow again: the next failure waits the shortest delay.
          delay = 500;
          const version = obj.metadata?.resourceVersion;
          if (version) resourceVersion = version;
          if (phase === "ADDED" || phase === "MODIFIED") handlers.upsert(toNode(obj));
          else if (phase === "DELETED") handlers.remove(obj.metadata?.name ?? "");
        },
        (err: unknown) => {
          ended = true;
          request = undefined;
          if (stopped) return;
          if (gone || toKubeError(err, "watch nodes").status === 410) {
            resourceVersion = undefined;
            return later(0);
          }
          if (failed) {
            return fail(
              Object.assign(new Error(failed.message ?? "the watch failed"), {
                code: failed.code,
                body: JSON.stringify({ message: failed.message }),
              }),
              "watch nodes",
            );
          }
          if (err && (err as Error).name !== "TimeoutError") return fail(err, "watch nodes");
          // The server ended the watch (its timeout), or it went silent for the watch library's
          // 30 s (a quiet cluster): go on from where it was.
          later(0);
        },
      );
      // Stopped while the request was being made: stop() found nothing to abort.
      if (stopped) {
        controller.abort();
        return;
      }
      if (!ended) request = controller;
      // Running again after a failure (a failed request has ended already).
      if (failing && !ended) {
        failing = false;
        handlers.recovered();
      }
    } catch (err) {
      if (toKubeError(err, "watch nodes").status === 410) {
        resourceVersion = undefined;
        return later(0);
      }
      fail(err, "watch nodes");
    }
  };

  return list().then(() => ({
    stop() {
      stopped = true;
      clearTimeout(timer);
      request?.abort();
      return Promise.resolve();
    },
  }));
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
): Promise<NodePage> {
  const params = new URLSearchParams({ limit: String(query.limit) });
  if (query.continue) params.set("continue", query.continue);
  return rawJson<NodePage>(kc, { method: "GET", path: `/api/v1/nodes?${params}` });
}
