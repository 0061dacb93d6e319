// Watch: a stream of changes from a resourceVersion, with selectors, bookmarks, Table events and
// a timeout; a watcher that stops reading is cut off.

import type { Call, CallRecord, ServerContext, WatchStream } from "./context.ts";
import { type ApiError, badRequest, expired } from "../store/errors.ts";
import { type KubeObject, meta } from "../store/objects.ts";
import { groupVersion, type ResourceType } from "../store/resources.ts";
import type { Change } from "../store/store.ts";
import { type IncludeObject, includeOf, toTable, wantsTable } from "../table/table.ts";
import { JSON_HEADERS, present } from "./wire.ts";
import { matcherFor } from "./list.ts";

const encoder = new TextEncoder();
/** Bytes a watcher may leave unread before its watch is closed. */
const MAX_WATCH_BUFFER = 64 * 1024 * 1024;

/** What a watch call asks for, read from its route, query and `Accept` header. */
interface WatchRequest {
  type: ResourceType;
  namespace: string;
  match: (obj: KubeObject) => boolean;
  /** The `resourceVersion` parameter as given ("" when absent). */
  rvParam: string;
  fromRv: number;
  bookmarks: boolean;
  sendInitial: boolean;
  timeoutSeconds: number;
  table: boolean;
  include: IncludeObject;
}

/** Reads a watch call's parameters; a resourceVersion that is not a number is a bad request. */
function watchRequest(call: Call): WatchRequest {
  const { route, req, q } = call;
  const match = matcherFor(route, q);
  const rvParam = q.get("resourceVersion") ?? "";
  if (rvParam !== "" && !/^\d+$/.test(rvParam)) {
    throw badRequest(`invalid resource version "${rvParam}": must be a non-negative integer`);
  }
  return {
    type: route.type,
    namespace: route.namespace,
    match,
    rvParam,
    fromRv: rvParam === "" ? 0 : Number(rvParam),
    bookmarks: q.get("allowWatchBookmarks") === "true",
    sendInitial: q.get("sendInitialEvents") === "true",
    timeoutSeconds: Number(q.get("timeoutSeconds") ?? 0),
    table: wantsTable(req.headers.get("accept")),
    include: includeOf(q),
  };
}

/** Serves a watch of the objects the call's route names. */
export function serveWatch(ctx: ServerContext, call: Call): Response {
  const request = watchRequest(call);
  let stream: WatchSession | undefined;
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => {
      stream = new WatchSession(ctx, request, call.record, controller);
      stream.start();
    },
    cancel: () => stream?.close(),
  }, new ByteLengthQueuingStrategy({ highWaterMark: 1 << 20 }));
  return new Response(body, {
    headers: { ...JSON_HEADERS, "cache-control": "no-cache, private" },
  });
}

/** The event a change is to one watcher, if any: whether the object is in its selection, was, left. */
function eventOf(
  change: Change,
  match: (obj: KubeObject) => boolean,
): { eventType: string; object: KubeObject } | undefined {
  const wasIn = change.previous !== undefined && match(change.previous);
  const isIn = change.type !== "DELETED" && match(change.object);
  if (isIn) return { eventType: wasIn ? "MODIFIED" : "ADDED", object: change.object };
  if (!wasIn) return undefined;
  // Leaving the selection: the object as the watcher last saw it, at this revision.
  const object = change.type === "DELETED" ? change.object : {
    ...change.previous!,
    metadata: { ...meta(change.previous!), resourceVersion: String(change.rv) },
  };
  return { eventType: "DELETED", object };
}

/** One open watch: the events it sends, its bookmarks and timeout, and its closing. */
class WatchSession implements WatchStream {
  #open = true;
  /** Whether the next Table event is the first (the one with the column definitions). */
  #first = true;
  #timers: ReturnType<typeof setTimeout>[] = [];
  #unlisten = () => {};
  readonly #format: string;

  constructor(
    private readonly ctx: ServerContext,
    private readonly request: WatchRequest,
    private readonly record: CallRecord,
    private readonly controller: ReadableStreamDefaultController<Uint8Array>,
  ) {
    this.#format = groupVersion(request.type);
  }

  /** Sends the initial objects or the changes since the asked revision, then follows the store. */
  start(): void {
    const { rvParam, sendInitial, bookmarks, timeoutSeconds, type } = this.request;
    if (rvParam === "" || rvParam === "0" || sendInitial) {
      this.#sendInitial();
    } else if (!this.#replay()) {
      return;
    }
    this.#unlisten = this.ctx.store.listen(type.storage, (change) => this.#deliver(change));
    this.ctx.watches.add(this);
    if (bookmarks) {
      this.#timers.push(setInterval(() => this.#bookmark(), this.ctx.bookmarkIntervalMs));
    }
    if (timeoutSeconds > 0) {
      this.#timers.push(setTimeout(() => this.close(), timeoutSeconds * 1000));
    }
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#unlisten();
    for (const t of this.#timers) clearTimeout(t);
    this.ctx.watches.delete(this);
    try {
      this.controller.close();
    } catch {
      // Already closed by the client going away.
    }
  }

  /** Every object in the selection as ADDED; with sendInitialEvents, a bookmark that ends them. */
  #sendInitial(): void {
    const { type, namespace, match, sendInitial, bookmarks } = this.request;
    for (const obj of this.ctx.store.list(type.storage, namespace || undefined)) {
      if (match(obj)) this.#send("ADDED", present(type, obj));
    }
    if (sendInitial && bookmarks) this.#bookmark({ "k8s.io/initial-events-end": "true" });
  }

  /** The changes since the asked revision; false (and an ERROR event) when they are compacted. */
  #replay(): boolean {
    const { type, rvParam, fromRv } = this.request;
    const store = this.ctx.store;
    const changes = store.changesSince(type.storage, fromRv);
    if (changes === undefined) {
      const compacted = store.compactedResourceVersion(type.storage);
      this.#send(
        "ERROR",
        expired(`too old resource version: ${rvParam} (${compacted})`).toStatus(),
      );
      this.#open = false;
      this.controller.close();
      return false;
    }
    for (const change of changes) this.#deliver(change);
    return true;
  }

  /** Sends a change as this watcher sees it; watchers of one format share its encoded bytes. */
  #deliver(change: Change): void {
    const { type, fromRv, match, table } = this.request;
    if (change.rv <= fromRv) return;
    const event = eventOf(change, match);
    if (!event) return;
    const { eventType, object } = event;
    if (table) {
      this.#send(eventType, present(type, object));
      return;
    }
    const key = `${this.#format}|${eventType}|${object === change.object ? "" : "left"}`;
    change.encoded ??= new Map();
    let line = change.encoded.get(key);
    if (!line) {
      line = this.#encode(eventType, present(type, object));
      change.encoded.set(key, line);
    }
    this.#write(line);
  }

  #bookmark(annotations?: Record<string, string>): void {
    const { type } = this.request;
    this.#send("BOOKMARK", {
      kind: type.kind,
      apiVersion: groupVersion(type),
      metadata: {
        resourceVersion: String(this.ctx.store.resourceVersion),
        ...(annotations ? { annotations } : {}),
      },
    });
  }

  #send(eventType: string, obj: KubeObject): void {
    this.#write(this.#encode(eventType, obj));
  }

  /** One event line; as a Table (columns on the first only) when the watcher asked for one. */
  #encode(eventType: string, obj: KubeObject): Uint8Array {
    const { type, table, include } = this.request;
    let object = obj;
    if (table && eventType !== "ERROR" && eventType !== "BOOKMARK") {
      object = toTable(type, [obj], {
        include,
        now: this.ctx.now(),
        listMeta: { resourceVersion: meta(obj).resourceVersion },
        withColumns: this.#first,
      });
      this.#first = false;
    }
    return encoder.encode(JSON.stringify({ type: eventType, object }) + "\n");
  }

  #write(line: Uint8Array): void {
    if (!this.#open) return;
    // A watcher that stopped reading is closed, as the real server does, not buffered forever.
    if ((this.controller.desiredSize ?? 0) < -MAX_WATCH_BUFFER) {
      this.close();
      return;
    }
    this.record.bytesOut += line.length;
    this.controller.enqueue(line);
  }
}

/** A watch that starts (200) and ends at once after one `ERROR` event carrying `error`'s Status. */
export function watchError(error: ApiError, record: CallRecord): Response {
  const line = encoder.encode(JSON.stringify({ type: "ERROR", object: error.toStatus() }) + "\n");
  record.bytesOut = line.length;
  return new Response(line, {
    headers: { ...JSON_HEADERS, "cache-control": "no-cache, private" },
  });
}
