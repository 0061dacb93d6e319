// Watch: a stream of changes from a resourceVersion, with selectors, bookmarks, Table events and
// a timeout; a watcher that stops reading is cut off.

import type { Call, CallRecord, ServerContext, WatchStream } from "./context.ts";
import { type ApiError, badRequest, expired } from "../store/errors.ts";
import { type KubeObject, meta } from "../store/objects.ts";
import { groupVersion } from "../store/resources.ts";
import type { Change } from "../store/store.ts";
import { includeOf, toTable, wantsTable } from "../table/table.ts";
import { JSON_HEADERS, present } from "./wire.ts";
import { matcherFor } from "./list.ts";

const encoder = new TextEncoder();
/** Bytes a watcher may leave unread before its watch is closed. */
const MAX_WATCH_BUFFER = 64 * 1024 * 1024;

/** Serves a watch of the objects the call's route names. */
export function serveWatch(ctx: ServerContext, call: Call): Response {
  const { route, req, q, record } = call;
  const { type } = route;
  const match = matcherFor(route, q);
  const rvParam = q.get("resourceVersion") ?? "";
  if (rvParam !== "" && !/^\d+$/.test(rvParam)) {
    throw badRequest(`invalid resource version "${rvParam}": must be a non-negative integer`);
  }
  const fromRv = rvParam === "" ? 0 : Number(rvParam);
  const bookmarks = q.get("allowWatchBookmarks") === "true";
  const sendInitial = q.get("sendInitialEvents") === "true";
  const timeoutSeconds = Number(q.get("timeoutSeconds") ?? 0);
  const table = wantsTable(req.headers.get("accept"));
  const include = includeOf(q);
  const store = ctx.store;
  const now = ctx.now;
  const interval = ctx.bookmarkIntervalMs;
  const watches = ctx.watches;
  const format = groupVersion(type);
  let first = true;

  const encode = (eventType: string, obj: KubeObject): Uint8Array => {
    let object = obj;
    if (table && eventType !== "ERROR" && eventType !== "BOOKMARK") {
      object = toTable(type, [obj], {
        include,
        now: now(),
        listMeta: { resourceVersion: meta(obj).resourceVersion },
        withColumns: first,
      });
      first = false;
    }
    return encoder.encode(JSON.stringify({ type: eventType, object }) + "\n");
  };

  let cleanup = () => {};
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => {
      let open = true;
      const write = (line: Uint8Array) => {
        if (!open) return;
        // A watcher that stopped reading is closed, as the real server does, not buffered forever.
        if ((controller.desiredSize ?? 0) < -MAX_WATCH_BUFFER) {
          stream.close();
          return;
        }
        record.bytesOut += line.length;
        controller.enqueue(line);
      };
      const send = (eventType: string, obj: KubeObject) => write(encode(eventType, obj));
      const bookmark = (annotations?: Record<string, string>) =>
        send("BOOKMARK", {
          kind: type.kind,
          apiVersion: groupVersion(type),
          metadata: {
            resourceVersion: String(store.resourceVersion),
            ...(annotations ? { annotations } : {}),
          },
        });
      const deliver = (change: Change) => {
        if (change.rv <= fromRv) return;
        const wasIn = change.previous !== undefined && match(change.previous);
        const isIn = change.type !== "DELETED" && match(change.object);
        let eventType: string;
        let object: KubeObject;
        if (isIn) {
          eventType = wasIn ? "MODIFIED" : "ADDED";
          object = change.object;
        } else if (wasIn) {
          // Leaving the selection: the object as the watcher last saw it, at this revision.
          eventType = "DELETED";
          object = change.type === "DELETED" ? change.object : {
            ...change.previous!,
            metadata: { ...meta(change.previous!), resourceVersion: String(change.rv) },
          };
        } else {
          return;
        }
        if (table) {
          send(eventType, present(type, object));
          return;
        }
        // Every watcher of one format shares the bytes of one change.
        const key = `${format}|${eventType}|${object === change.object ? "" : "left"}`;
        change.encoded ??= new Map();
        let line = change.encoded.get(key);
        if (!line) {
          line = encode(eventType, present(type, object));
          change.encoded.set(key, line);
        }
        write(line);
      };
      const timers: ReturnType<typeof setTimeout>[] = [];
      const stream: WatchStream = {
        close() {
          if (!open) return;
          open = false;
          unlisten();
          for (const t of timers) clearTimeout(t);
          watches.delete(stream);
          try {
            controller.close();
          } catch {
            // Already closed by the client going away.
          }
        },
      };
      let unlisten = () => {};
      cleanup = () => stream.close();
      if (rvParam === "" || rvParam === "0" || sendInitial) {
        for (const obj of store.list(type.storage, route.namespace || undefined)) {
          if (match(obj)) send("ADDED", present(type, obj));
        }
        if (sendInitial && bookmarks) bookmark({ "k8s.io/initial-events-end": "true" });
      } else {
        const changes = store.changesSince(type.storage, fromRv);
        if (changes === undefined) {
          const compacted = store.compactedResourceVersion(type.storage);
          send("ERROR", expired(`too old resource version: ${rvParam} (${compacted})`).toStatus());
          open = false;
          controller.close();
          return;
        }
        for (const change of changes) deliver(change);
      }
      unlisten = store.listen(type.storage, deliver);
      watches.add(stream);
      if (bookmarks) timers.push(setInterval(() => bookmark(), interval));
      if (timeoutSeconds > 0) {
        timers.push(setTimeout(() => stream.close(), timeoutSeconds * 1000));
      }
    },
    cancel: () => cleanup(),
  }, new ByteLengthQueuingStrategy({ highWaterMark: 1 << 20 }));
  return new Response(body, {
    headers: { ...JSON_HEADERS, "cache-control": "no-cache, private" },
  });
}

/** A watch that starts (200) and ends at once after one `ERROR` event carrying `error`'s Status. */
export function watchError(error: ApiError, record: CallRecord): Response {
  const line = encoder.encode(JSON.stringify({ type: "ERROR", object: error.toStatus() }) + "\n");
  record.bytesOut = line.length;
  return new Response(line, {
    headers: { ...JSON_HEADERS, "cache-control": "no-cache, private" },
  });
}
