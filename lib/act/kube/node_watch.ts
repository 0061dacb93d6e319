import * as k8s from "@kubernetes/client-node";
import type { NodeWatchHandlers, Stoppable } from "../kube_types.ts";
import { timeBound } from "./time_bound.ts";
import { toKubeError, toNode } from "./convert.ts";
import { rawJson, withRequest } from "./raw.ts";
import { Backoff } from "../../retry.ts";
import { clip } from "../../clip.ts";
import type { Node } from "../../node.ts";

/** Nodes per page of the list: bounds what one response holds in memory at once. */
export const LIST_PAGE = 100;

/** How long one watch request may stay open before the server ends it and it is made again (s). */
const WATCH_TIMEOUT_S = 300;

/**
 * A watch that ends this soon (ms) without moving the resourceVersion on was refused in all but
 * name (client-go's reflector's "very short watch", which counts events instead): made again after
 * the backoff's delay, not at once.
 */
const SHORT_WATCH_MS = 1000;

/**
 * Lists and watches Nodes, telling `handlers` of every change. Each Node is projected to the
 * few fields node-heal reads as it arrives (see `toNode`): nothing keeps the full objects, unlike
 * the client library's informer, which holds a second copy of every Node. The list is paged;
 * a watch that ends is made again at once from the last resourceVersion seen (bookmarks
 * included). Everything else waits for one {@link Backoff}, as client-go's reflector does: a
 * failed list (listed again) or watch (made again from where it was), a 410 Gone (listed again),
 * and a watch that ended within a second having moved nothing on.
 */
export async function watchNodes(
  kc: k8s.KubeConfig,
  options: { timeoutMs: number },
  handlers: NodeWatchHandlers,
): Promise<Stoppable> {
  const watch = new NodeWatch(kc, options.timeoutMs, handlers);
  await watch.start();
  return watch;
}

/** What one watch request has seen. */
interface Attempt {
  /** When it was made (performance.now). */
  started: number;
  /** The resourceVersion it was made from. */
  from: string | undefined;
  ended: boolean;
  /** An in-band ERROR event (the server ends the watch after it). */
  error?: { code?: number; message?: string };
}

/** The list and the watches of {@link watchNodes}, and when each is made again. */
class NodeWatch implements Stoppable {
  #kc: k8s.KubeConfig;
  #timeoutMs: number;
  #handlers: NodeWatchHandlers;
  #watcher: k8s.Watch;
  #backoff = new Backoff();
  #resourceVersion: string | undefined;
  #stopped = false;
  /** A list or watch failed, and no list or watch has succeeded since. */
  #failing = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #request: AbortController | undefined;

  constructor(kc: k8s.KubeConfig, timeoutMs: number, handlers: NodeWatchHandlers) {
    this.#kc = kc;
    this.#timeoutMs = timeoutMs;
    this.#handlers = handlers;
    this.#watcher = new k8s.Watch(kc);
  }

  /** The first list, and the watch after it; resolves once the list has succeeded or failed. */
  start(): Promise<void> {
    return this.#list();
  }

  stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#request?.abort();
    return Promise.resolve();
  }

  /** Lists or watches again after `ms`: lists when there is no resourceVersion to watch from. */
  #later(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#resourceVersion === undefined) this.#list();
      else this.#watch();
    }, ms);
  }

  /** A failed list or watch: told to the handlers, and made again after the backoff's delay. */
  #fail(err: unknown, what: "list nodes" | "watch nodes"): void {
    this.#failing = true;
    // The list's errors name their request already (rawJson); the watch's say it here.
    const server = this.#kc.getCurrentCluster()?.server ?? "(no server)";
    const request = what === "watch nodes" ? `GET ${server}/api/v1/nodes?watch=true` : undefined;
    this.#handlers.error(toKubeError(request ? withRequest(err, request) : err, what));
    this.#later(this.#backoff.next());
  }

  /**
   * The resourceVersion is older than the server's history (410): list again, after the backoff's
   * delay, since a server that answers every watch so would otherwise be sent a full list each
   * time. Not a failure: the handlers are not told.
   */
  #gone(): void {
    this.#resourceVersion = undefined;
    this.#later(this.#backoff.next());
  }

  async #list(): Promise<void> {
    const nodes: Node[] = [];
    try {
      let next: string | undefined;
      let version: string | undefined;
      do {
        const page = await timeBound(
          listPage(this.#kc, { limit: LIST_PAGE, continue: next }),
          this.#timeoutMs * 6,
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
      } while (next && !this.#stopped);
      if (this.#stopped) return;
      // Without one, the watch would start from "any" and the next list would follow at once.
      if (!version) throw new Error("the list carries no resourceVersion to watch from");
      this.#resourceVersion = version;
    } catch (err) {
      this.#resourceVersion = undefined;
      return this.#fail(err, "list nodes");
    }
    this.#failing = false;
    this.#handlers.listed(nodes);
    this.#watch();
  }

  async #watch(): Promise<void> {
    if (this.#stopped) return;
    const attempt: Attempt = {
      started: performance.now(),
      from: this.#resourceVersion,
      ended: false,
    };
    try {
      const controller = await this.#watcher.watch(
        "/api/v1/nodes",
        {
          resourceVersion: this.#resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: WATCH_TIMEOUT_S,
        },
        (phase: string, obj: k8s.V1Node & { code?: number; message?: string }) =>
          this.#event(attempt, phase, obj),
        (err: unknown) => this.#ended(attempt, err),
      );
      // Stopped while the request was being made: stop() found nothing to abort.
      if (this.#stopped) {
        controller.abort();
        return;
      }
      if (!attempt.ended) this.#request = controller;
      // Running again after a failure (a failed request has ended already).
      if (this.#failing && !attempt.ended) {
        this.#failing = false;
        this.#handlers.recovered();
      }
    } catch (err) {
      // The request was not made at all (no current cluster, credentials that cannot be had).
      if (toKubeError(err, "watch nodes").status === 410) return this.#gone();
      this.#fail(err, "watch nodes");
    }
  }

  /** One event of a watch. */
  #event(
    attempt: Attempt,
    phase: string,
    obj: k8s.V1Node & { code?: number; message?: string },
  ): void {
    if (this.#stopped) return;
    if (phase === "ERROR") {
      attempt.error = { code: obj.code, message: obj.message };
      return;
    }
    const version = obj.metadata?.resourceVersion;
    if (version) this.#resourceVersion = version;
    if (phase === "ADDED" || phase === "MODIFIED") this.#handlers.upsert(toNode(obj));
    else if (phase === "DELETED") this.#handlers.remove(obj.metadata?.name ?? "");
  }

  /** A watch ended: made again at once, after the backoff's delay, or after a list. */
  #ended(attempt: Attempt, err: unknown): void {
    attempt.ended = true;
    this.#request = undefined;
    if (this.#stopped) return;
    const { error } = attempt;
    if (error?.code === 410 || toKubeError(err, "watch nodes").status === 410) return this.#gone();
    // Any other in-band ERROR fails this watch; made again after a delay, as it may fail the same way.
    if (error) {
      return this.#fail(
        Object.assign(new Error(error.message ?? "the watch failed"), {
          code: error.code,
          body: JSON.stringify({ message: error.message }),
        }),
        "watch nodes",
      );
    }
    if (err && (err as Error).name !== "TimeoutError") return this.#fail(err, "watch nodes");
    // The server ended the watch (its timeout), or it went silent for the watch library's 30 s
    // (a quiet cluster): go on from where it was, at once; but a watch that ended as soon as it
    // began, having moved nothing on, is a server refusing watches, not one at rest.
    const short = this.#resourceVersion === attempt.from &&
      performance.now() - attempt.started < SHORT_WATCH_MS;
    this.#later(short ? this.#backoff.next() : 0);
  }
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
