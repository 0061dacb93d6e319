import type * as k8s from "@kubernetes/client-node";
import type { Kubeconfig } from "./kubeconfig.ts";
import type { NodeWatchHandlers, Stoppable } from "./types.ts";
import { toKubeError, toNode } from "./convert.ts";
import { listNodes } from "./node_list.ts";

export { LIST_PAGE } from "./node_list.ts";
import { rawResponse, withRequest } from "./raw.ts";
import { readWatch, type WatchBounds, type WatchEvent } from "./watch_stream.ts";
import { Background } from "../../base/background.ts";
import { Backoff } from "../../base/retry.ts";
import type { Node } from "../../base/node.ts";

/**
 * How long one watch request stays open by default (ms; asked of the server as `timeoutSeconds`). Fixed, not client-go's random 5 to 10 minutes, which spreads the watches of thousands
 * of clients after an API server restart: node-heal runs a few replicas, and a fixed value makes
 * the bound below one an operator can read. Short enough that a connection that dies without a
 * word is found within minutes; long enough that a quiet cluster costs one request in four
 * minutes. `--watch-timeout` sets it.
 */
export const WATCH_TIMEOUT_MS = 240_000;

/**
 * How much longer than its `timeoutSeconds` a watch may stay open before it is taken for dead and
 * aborted (ms): the time for the request to reach the server, and the server to end it, loaded.
 */
export const WATCH_MARGIN_MS = 10_000;

/** The longest watch event line (bytes); a Node is tens of KB. */
export const MAX_EVENT_BYTES = 4 << 20;

/**
 * A watch that ends this soon (ms) without moving the resourceVersion on was refused in all but
 * name (client-go's reflector's "very short watch", which counts events instead): made again after
 * the backoff's delay, not at once.
 */
const SHORT_WATCH_MS = 1000;

/**
 * How long a watch made again after a failure must stay open without failing (ms), unless an
 * event comes first, before it counts as running again: a server or a middlebox that answers 200
 * and then fails every watch at once must not make a failing watch look healthy on every try.
 */
export const RECOVERED_AFTER_MS = 5000;

/** Options of {@link watchNodes}. */
export interface NodeWatchOptions {
  /** How long one API call may take (ms): a list page, or a watch's answer, may take six times this. */
  timeoutMs: number;
  /** The watch's `timeoutSeconds` (ms, rounded up to seconds; default {@link WATCH_TIMEOUT_MS}). */
  watchTimeoutMs?: number;
  /** From sending a watch to its end (ms; default `watchTimeoutMs` plus {@link WATCH_MARGIN_MS}). */
  deadlineMs?: number;
  /**
   * The longest time a watch may send no byte (ms; default `deadlineMs`). The API server sends
   * bookmarks when asked, but on no schedule a client may count on (none without its watch
   * cache), so by default silence alone never fails a watch before its deadline: a quiet, healthy
   * cluster is never taken for a dead one.
   */
  idleMs?: number;
  /** The longest event line (bytes; default {@link MAX_EVENT_BYTES}). */
  maxEventBytes?: number;
  /** See {@link RECOVERED_AFTER_MS} (its default, or half of `idleMs` when that is shorter). */
  recoveredAfterMs?: number;
  /**
   * Runs each list and watch after the first: one that throws (a bug) is logged and counted (the
   * service's), and listed again after the backoff's delay. One that only logs by default.
   */
  background?: Background;
}

/**
 * Lists and watches Nodes, telling `handlers` of every change. Each Node is projected to the
 * few fields node-heal reads as it arrives (see `toNode`): nothing keeps the full objects, unlike
 * the client library's informer, which holds a second copy of every Node. The list is paged and
 * the watch streamed, both through Deno's own HTTP client where it can (see rawResponse); a watch
 * that ends is made again at once from the last resourceVersion seen (bookmarks included).
 * Everything else waits for one {@link Backoff}, as client-go's reflector does: a failed list
 * (listed again) or watch (made again from where it was), a 410 Gone (listed again), and a watch
 * that ended within a second having moved nothing on. A watch whose connection breaks fails at
 * once; one that outlives its bounds (no answer, no byte for `idleMs`, not ended by `deadlineMs`)
 * is aborted and fails: its connection died without a word.
 */
export async function watchNodes(
  kc: Kubeconfig,
  options: NodeWatchOptions,
  handlers: NodeWatchHandlers,
): Promise<Stoppable> {
  const watch = new NodeWatch(kc, options, handlers);
  await watch.start();
  return watch;
}

/** What one watch request has seen. */
interface Attempt {
  /** When it was made (performance.now). */
  started: number;
  /** The resourceVersion it was made from. */
  from: string | undefined;
  /** An in-band ERROR event (the server ends the watch after it). */
  error?: { code?: number; message?: string };
}

/** The list and the watches of {@link watchNodes}, and when each is made again. */
class NodeWatch implements Stoppable {
  #kc: Kubeconfig;
  #timeoutMs: number;
  #handlers: NodeWatchHandlers;
  /** The watch's `timeoutSeconds`. */
  #watchTimeoutS: number;
  #bounds: WatchBounds;
  #backoff = new Backoff();
  #resourceVersion: string | undefined;
  #stopped = false;
  /** A list or watch failed, and no list or watch has succeeded since. */
  #failing = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Aborts the list or watch request in flight, if one is. */
  #request: AbortController | undefined;
  /** A failing watch made again and answered: running again once this fires, or an event comes. */
  #recovering: ReturnType<typeof setTimeout> | undefined;
  #recoveredAfterMs: number;
  #background: Background;

  constructor(kc: Kubeconfig, options: NodeWatchOptions, handlers: NodeWatchHandlers) {
    this.#kc = kc;
    this.#background = options.background ?? new Background();
    this.#timeoutMs = options.timeoutMs;
    this.#handlers = handlers;

    this.#watchTimeoutS = Math.max(
      1,
      Math.ceil((options.watchTimeoutMs ?? WATCH_TIMEOUT_MS) / 1000),
    );
    const deadlineMs = options.deadlineMs ?? this.#watchTimeoutS * 1000 + WATCH_MARGIN_MS;
    this.#bounds = {
      // The server answers a watch at once; its answer may take as long as a list page.
      answerMs: Math.min(options.timeoutMs * 6, deadlineMs),
      idleMs: options.idleMs ?? deadlineMs,
      deadlineMs,
      maxEventBytes: options.maxEventBytes ?? MAX_EVENT_BYTES,
    };
    // Within its idle bound, or a watch that stays open in silence would never count.
    this.#recoveredAfterMs = options.recoveredAfterMs ??
      Math.min(RECOVERED_AFTER_MS, this.#bounds.idleMs / 2);
  }

  /** The first list, and the watch after it; resolves once the list has succeeded or failed. */
  start(): Promise<void> {
    return this.#list();
  }

  stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#recovering);
    this.#request?.abort();
    return Promise.resolve();
  }

  /** Lists or watches again after `ms`: lists when there is no resourceVersion to watch from. */
  #later(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#cycle(() => this.#resourceVersion === undefined ? this.#list() : this.#watch());
    }, ms);
  }

  /**
   * Runs a list or a watch in the background. One that throws (it never should: its failures are
   * told to the handlers) is logged and counted, and listed again after the backoff's delay, so
   * that the watch never stops for good.
   */
  #cycle(run: () => Promise<void>): void {
    this.#background.run("node-watch", async () => {
      try {
        await run();
      } catch (err) {
        this.#resourceVersion = undefined;
        this.#later(this.#backoff.next());
        throw err;
      }
    });
  }

  /** A failed list or watch: told to the handlers, and made again after the backoff's delay. */
  #fail(err: unknown, what: "list nodes" | "watch nodes"): void {
    this.#failing = true;
    clearTimeout(this.#recovering);
    // The list's and the watch request's errors name their request already (rawJson,
    // rawResponse); one of the watch's stream (a bound, a line) says it here.
    const server = this.#kc.server;
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
    // Aborted at the end: a page given up on (its time passed, or stop()) lets its connection go.
    const request = new AbortController();
    this.#request = request;
    let nodes: Node[];
    try {
      const listed = await listNodes(this.#kc, {
        pageMs: this.#timeoutMs * 6,
        signal: request.signal,
        stopped: () => this.#stopped,
      });
      if (this.#stopped) return;
      nodes = listed.nodes;
      this.#resourceVersion = listed.resourceVersion;
    } catch (err) {
      if (this.#stopped) return;
      this.#resourceVersion = undefined;
      return this.#fail(err, "list nodes");
    } finally {
      request.abort();
      if (this.#request === request) this.#request = undefined;
    }
    this.#failing = false;
    this.#handlers.listed(nodes);
    this.#cycle(() => this.#watch());
  }

  /** One watch request, read to its end; then made again, or the list made again. */
  async #watch(): Promise<void> {
    if (this.#stopped) return;
    const attempt: Attempt = { started: performance.now(), from: this.#resourceVersion };
    const params = new URLSearchParams({
      watch: "true",
      allowWatchBookmarks: "true",
      timeoutSeconds: String(this.#watchTimeoutS),
    });
    if (attempt.from) params.set("resourceVersion", attempt.from);
    const request = new AbortController();
    this.#request = request;
    let failure: unknown;
    try {
      await readWatch(
        (signal) =>
          rawResponse(this.#kc, { method: "GET", path: `/api/v1/nodes?${params}` }, signal),
        {
          opened: () => this.#opened(),
          event: (event) => this.#event(attempt, event),
          known: this.#handlers.known && ((name, version) => this.#handlers.known!(name, version)),
        },
        { ...this.#bounds, signal: request.signal },
      );
    } catch (err) {
      failure = err;
    }
    if (this.#request === request) this.#request = undefined;
    this.#ended(attempt, failure);
  }

  /**
   * The server answered a watch: after a failure, running again once it has stayed open for
   * {@link RECOVERED_AFTER_MS} or sent an event, not merely answered.
   */
  #opened(): void {
    if (this.#stopped || !this.#failing) return;
    clearTimeout(this.#recovering);
    this.#recovering = setTimeout(() => this.#recovered(), this.#recoveredAfterMs);
  }

  #recovered(): void {
    clearTimeout(this.#recovering);
    this.#recovering = undefined;
    if (this.#stopped || !this.#failing) return;
    this.#failing = false;
    this.#handlers.recovered();
  }

  /** One event of a watch. */
  #event(attempt: Attempt, event: WatchEvent): void {
    if (this.#stopped) return;
    const obj = event.object as k8s.V1Node & { code?: number; message?: string };
    if (event.type === "ERROR") {
      attempt.error = { code: obj.code, message: obj.message };
      clearTimeout(this.#recovering);
      return;
    }
    if (this.#failing && !attempt.error) this.#recovered();
    const version = obj.metadata?.resourceVersion;
    if (version) this.#resourceVersion = version;
    if (event.type === "ADDED" || event.type === "MODIFIED") {
      const name = obj.metadata?.name;
      if (version && name && this.#handlers.known?.(name, version)) return;
      this.#handlers.upsert(toNode(obj));
    } else if (event.type === "DELETED") this.#handlers.remove(obj.metadata?.name ?? "");
  }

  /** A watch ended: made again at once, after the backoff's delay, or after a list. */
  #ended(attempt: Attempt, err: unknown): void {
    if (this.#stopped) return;
    clearTimeout(this.#recovering);
    const { error } = attempt;
    if (error?.code === 410 || (err && toKubeError(err, "watch nodes").status === 410)) {
      return this.#gone();
    }
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
    // A refused or broken connection, an answer other than 200, a bound passed, a bad line.
    if (err) return this.#fail(err, "watch nodes");
    // The server ended the watch (its timeoutSeconds): go on from where it was, at once; but a
    // watch that ended as soon as it began, having moved nothing on, is a server refusing
    // watches, not one at rest.
    const short = this.#resourceVersion === attempt.from &&
      performance.now() - attempt.started < SHORT_WATCH_MS;
    // A watch that ran to its end ran: a failing watch is running again.
    if (!short) this.#recovered();
    this.#later(short ? this.#backoff.next() : 0);
  }
}
