import { serveOpenApi } from "./openapi.ts";
import { applyPatch, patchTypeOf } from "./patch.ts";
import {
  apiGroupList,
  apiGroups,
  apiResourceList,
  findResource,
  groupVersion,
  RESOURCES,
  type ResourceType,
} from "./resources.ts";
import {
  checkFieldsSupported,
  type FieldSelector,
  type LabelSelector,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from "./selectors.ts";
import {
  alreadyExists,
  ApiError,
  badRequest,
  conflict,
  invalid,
  methodNotAllowed,
  notFound,
  PatchError,
  type StatusCause,
} from "./errors.ts";
import type { KubeObject, ObjectMeta } from "./objects.ts";
import { type Change, objectKey, Store } from "./store.ts";
import { type IncludeObject, toTable, wantsTable } from "./table.ts";
import { type FaultRule, type RequestRecord, Traffic } from "./traffic.ts";
import { refreshDisruptionBudgets, tryEvict } from "./disruption.ts";

/** The Kubernetes version the embedded API server reports at `/version`. */
export const SERVER_VERSION = {
  major: "1",
  minor: "29",
  gitVersion: "v1.29.2",
  gitCommit: "4b8e819355d791d96b7e9d9efe4cbafae2311c88",
  gitTreeState: "clean",
  buildDate: "2024-02-14T10:32:40Z",
  goVersion: "go1.21.7",
  compiler: "gc",
  platform: "linux/amd64",
};

/** Options of an {@link ApiServer}. */
export interface ApiServerOptions {
  /** Clock, for creation timestamps and ages; defaults to `Date.now`. */
  now?: () => number;
  /** Changes kept for watches to resume from (default 10,000). */
  historySize?: number;
  /** How often an open watch that asked for bookmarks gets one (default 10 s). */
  bookmarkIntervalMs?: number;
  /** Random source for fault rates and generated names; defaults to `Math.random`. */
  random?: () => number;
  /**
   * Deleted pods stay Terminating for their grace period times this (0, the default, deletes
   * them at once; 0.01 turns a 30 s grace period into 0.3 s).
   */
  podGraceScale?: number;
}

/** What a request path names. */
interface Route {
  type: ResourceType;
  namespace: string;
  name: string;
  subresource: string;
  watchPath: boolean;
}

/** One open watch stream. */
interface WatchStream {
  close(): void;
}

const JSON_HEADERS = { "content-type": "application/json" };
const encoder = new TextEncoder();
/** Bytes a watcher may leave unread before its watch is closed. */
const MAX_WATCH_BUFFER = 64 * 1024 * 1024;
const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789";
/** Namespaces the real server refuses to delete. */
const PROTECTED_NAMESPACES = new Set(["default", "kube-system", "kube-public"]);
/** Groups whose objects carry `metadata.generation`, bumped on every spec change. */
const GENERATION_GROUPS = new Set(["apps", "policy"]);

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function meta(obj: KubeObject): ObjectMeta {
  return obj.metadata ?? {};
}

function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

const TIME_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const TIME_KEY = /(Time|Timestamp|At)$|^time$/;
/** Fields of type `metav1.MicroTime`, serialized with microseconds; other times have seconds. */
const MICRO_TIME_KEYS = new Set(["eventTime", "renewTime", "acquireTime", "lastObservedTime"]);
/** Maps whose keys are data, not fields: never rewritten. */
const OPAQUE_KEYS = new Set(["labels", "annotations", "data", "stringData", "selector"]);

/**
 * Rewrites timestamps as the real server's round trip through Go types does: `metav1.Time`
 * to RFC 3339 seconds, `metav1.MicroTime` to microseconds, both in UTC. Without it a client
 * that sends `.000Z` would make every unchanged update look like a change.
 */
export function normalizeTimes(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => normalizeTimes(v, key));
  if (value !== null && typeof value === "object") {
    if (OPAQUE_KEYS.has(key)) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalizeTimes(v, k);
    return out;
  }
  if (typeof value === "string" && TIME_KEY.test(key)) {
    const m = TIME_RE.exec(value);
    if (!m) return value;
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) return value;
    const iso = new Date(ms).toISOString();
    if (MICRO_TIME_KEYS.has(key)) {
      const fraction = ((m[2] ?? ".") + "000000").slice(1, 7);
      return `${iso.slice(0, 19)}.${fraction}Z`;
    }
    return `${iso.slice(0, 19)}Z`;
  }
  return value;
}

/** Structural JSON equality: member order is irrelevant, array order matters. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  }
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length &&
    ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Whether two objects are the same but for their resourceVersion, whatever the key order. */
function sameButVersion(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, resourceVersion: "" } });
  return sameJson(strip(a), strip(b));
}

/**
 * An in-memory Kubernetes API server speaking the real wire protocol: discovery, CRUD,
 * list and watch with resourceVersions and selectors, patches, Tables, Status errors,
 * evictions that honour PodDisruptionBudgets, a request record and fault injection.
 * `handler` is a plain `(Request) => Response`; {@link startApiServer} serves it over HTTP.
 */
export class ApiServer {
  /** The object store behind the API. */
  readonly store: Store;
  /** Recorded requests and injected faults. */
  readonly traffic: Traffic;
  #now: () => number;
  #random: () => number;
  #bookmarkIntervalMs: number;
  #podGraceScale: number;
  #watches = new Set<WatchStream>();

  constructor(options: ApiServerOptions = {}) {
    this.store = new Store({ historySize: options.historySize });
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.traffic = new Traffic(this.#random);
    this.#bookmarkIntervalMs = options.bookmarkIntervalMs ?? 10_000;
    this.#podGraceScale = options.podGraceScale ?? 0;
    // The disruption controller's work, done after the change has reached every watcher.
    this.store.listen("/pods", (change) => this.#scheduleBudgetRefresh(change));
    this.store.listen("policy/poddisruptionbudgets", (change) => {
      if (change.type !== "DELETED") this.#scheduleBudgetRefresh(change);
    });
  }

  /** The number of watch streams open now. */
  get openWatches(): number {
    return this.#watches.size;
  }

  /** Closes every open watch stream, as an API server restart or a network cut would. */
  dropWatches(): void {
    for (const w of [...this.#watches]) w.close();
  }

  /** Forgets the change history, so that resuming any earlier watch gets 410 Gone. */
  compact(): void {
    this.store.compact();
  }

  /** Injects a fault for matching requests; returns a function that removes it. */
  injectFault(rule: FaultRule): () => void {
    return this.traffic.inject(rule);
  }

  /** Stores objects as they are (status included), creating what is missing and replacing what exists. */
  seed(objects: KubeObject[]): void {
    for (const obj of objects) {
      const type = this.#typeOfObject(obj);
      const stored = this.#prepareNew(type, clone(type.toStorage(obj)), meta(obj).namespace ?? "", {
        identity: "keep",
      });
      const key = objectKey(meta(stored).namespace, meta(stored).name!);
      const current = this.store.get(type.storage, key);
      if (current) {
        stored.metadata!.uid = meta(current).uid;
        stored.metadata!.creationTimestamp = meta(current).creationTimestamp;
      }
      this.store.put(type.storage, key, stored);
    }
  }

  /** The stored object of `kind` (as `Node`, `Pod`, ...) or undefined; a copy, safe to change. */
  read(kind: string, name: string, namespace = ""): KubeObject | undefined {
    const type = RESOURCES.find((r) => r.kind === kind);
    if (!type) {
      throw new Error(`Cannot read kind "${kind}": the embedded API server does not serve it`);
    }
    const obj = this.store.get(type.storage, objectKey(namespace || undefined, name));
    return obj ? clone(obj) : undefined;
  }

  /** Every stored object of `kind`, optionally in one namespace; copies. */
  readAll(kind: string, namespace?: string): KubeObject[] {
    const type = RESOURCES.find((r) => r.kind === kind);
    if (!type) {
      throw new Error(`Cannot read kind "${kind}": the embedded API server does not serve it`);
    }
    return this.store.list(type.storage, namespace).map(clone);
  }

  #typeOfObject(obj: KubeObject): ResourceType {
    const [group, version] = (obj.apiVersion ?? "").includes("/")
      ? obj.apiVersion!.split("/")
      : ["", obj.apiVersion ?? ""];
    const type = RESOURCES.find((r) =>
      r.kind === obj.kind && r.group === group && r.version === version
    );
    if (!type) {
      throw new Error(
        `Cannot store object of kind "${obj.kind}" and apiVersion "${obj.apiVersion}": not served`,
      );
    }
    return type;
  }

  /** Serves one HTTP request. */
  handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const record = this.traffic.record({
      verb: "",
      resource: "",
      group: "",
      subresource: "",
      namespace: "",
      name: "",
      method: req.method,
      path: url.pathname,
      code: 0,
      bytesIn: 0,
      bytesOut: 0,
      userAgent: req.headers.get("user-agent") ?? "",
    });
    let response: Response;
    try {
      const route =
        (req.method === "GET" ? serveOpenApi(url, req.headers.get("accept")) : undefined) ??
          this.#route(url);
      if (route instanceof Response) {
        record.verb = "discovery";
        response = route;
      } else {
        const verb = this.#verb(req.method, url, route);
        Object.assign(record, {
          verb,
          resource: route.type.resource,
          group: route.type.group,
          subresource: route.subresource,
          namespace: route.namespace,
          name: route.name,
        });
        const fault = this.traffic.decide(record);
        if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
        if (fault.error) {
          const { status, reason, message, retryAfterSeconds } = fault.error;
          throw new ApiError(status, reason, message, { retryAfterSeconds });
        }
        const body = ["POST", "PUT", "PATCH", "DELETE"].includes(req.method)
          ? await req.text()
          : "";
        record.bytesIn = encoder.encode(body).length;
        response = await this.#serve(verb, route, req, url, body, record);
      }
    } catch (err) {
      response = errorResponse(err);
    }
    record.code = response.status;
    if (response.body && !(record.verb === "watch" && response.ok)) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      record.bytesOut = bytes.length;
      return new Response(bytes, { status: response.status, headers: response.headers });
    }
    return response;
  };

  #route(url: URL): Route | Response {
    const parts = url.pathname.split("/").filter((p) => p !== "");
    const p = parts.join("/");
    if (p === "version") return json(SERVER_VERSION);
    if (["healthz", "livez", "readyz"].includes(p)) {
      return new Response("ok", { headers: { "content-type": "text/plain" } });
    }
    if (p === "api") {
      return json({
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: url.host }],
      });
    }
    if (p === "apis") return json(apiGroupList());
    let group: string, version: string, rest: string[];
    if (parts[0] === "api" && parts.length >= 2) {
      [group, version, rest] = ["", parts[1], parts.slice(2)];
    } else if (parts[0] === "apis" && parts.length >= 2) {
      if (parts.length === 2) {
        const g = apiGroups().find((x) => x.name === parts[1]);
        if (!g) throw pathNotFound(url);
        return json({ kind: "APIGroup", apiVersion: "v1", ...g });
      }
      [group, version, rest] = [parts[1], parts[2], parts.slice(3)];
    } else {
      throw pathNotFound(url);
    }
    if (!RESOURCES.some((r) => r.group === group && r.version === version)) {
      throw pathNotFound(url);
    }
    if (rest.length === 0) return json(apiResourceList(group, version));
    let watchPath = false;
    if (rest[0] === "watch") {
      watchPath = true;
      rest = rest.slice(1);
    }
    let namespace = "";
    if (rest[0] === "namespaces" && rest.length >= 3 && findResource(group, version, rest[2])) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const type = findResource(group, version, rest[0] ?? "");
    if (!type || rest.length > 3) throw pathNotFound(url);
    if (type.namespaced === false && namespace !== "") throw pathNotFound(url);
    const subresource = rest[2] ?? "";
    if (subresource !== "" && !type.subresources.includes(subresource)) throw pathNotFound(url);
    return { type, namespace, name: rest[1] ?? "", subresource, watchPath };
  }

  #verb(method: string, url: URL, route: Route): string {
    const watchParam = url.searchParams.get("watch");
    const watch = route.watchPath || watchParam === "true" || watchParam === "1";
    switch (method) {
      case "GET":
        if (watch) return "watch";
        return route.name === "" ? "list" : "get";
      case "POST":
        return "create";
      case "PUT":
        return "update";
      case "PATCH":
        return "patch";
      case "DELETE":
        return route.name === "" ? "deletecollection" : "delete";
      default:
        throw methodNotAllowed(method, route.type.resource);
    }
  }

  #serve(
    verb: string,
    route: Route,
    req: Request,
    url: URL,
    body: string,
    record: RequestRecord,
  ): Response | Promise<Response> {
    const q = url.searchParams;
    let dryRun = parseDryRun(q.getAll("dryRun"));
    const { type, name, subresource } = route;
    if (subresource === "eviction") {
      if (verb !== "create") throw methodNotAllowed(verb, "pods/eviction");
      const eviction = parseBody(body);
      const options = (eviction.deleteOptions ?? {}) as { dryRun?: unknown };
      dryRun ||= parseDryRun(options.dryRun);
      return this.#evict(route, eviction, dryRun);
    }
    if ((verb === "delete" || verb === "deletecollection") && body.trim() !== "") {
      dryRun ||= parseDryRun((parseBody(body) as { dryRun?: unknown }).dryRun);
    }
    switch (verb) {
      case "get": {
        const obj = this.#present(type, this.#get(route));
        if (!wantsTable(req.headers.get("accept"))) return json(obj);
        const include = (q.get("includeObject") ?? "Metadata") as IncludeObject;
        const listMeta = { resourceVersion: meta(obj).resourceVersion };
        return json(toTable(type, [obj], { include, now: this.#now(), listMeta }));
      }
      case "list":
        return this.#list(route, req, q);
      case "watch":
        return this.#watch(route, req, q, record);
      case "create":
        if (name !== "" || subresource !== "") throw methodNotAllowed("create", type.resource);
        return json(this.#present(type, this.#create(route, parseBody(body), dryRun)), 201);
      case "update":
        return json(this.#present(type, this.#update(route, parseBody(body), dryRun)));
      case "patch": {
        const patched = this.#patch(route, req.headers.get("content-type"), body, dryRun);
        return json(this.#present(type, patched));
      }
      case "delete":
        return json(this.#present(type, this.#delete(route, body, dryRun)));
      case "deletecollection":
        return this.#deleteCollection(route, q, dryRun);
    }
    throw methodNotAllowed(verb, type.resource);
  }

  /** The object as the API of `type` shows it, with kind and apiVersion set. */
  #present(type: ResourceType, stored: KubeObject): KubeObject {
    const obj = type.fromStorage(stored);
    const { metadata, ...rest } = obj;
    return { ...rest, kind: type.kind, apiVersion: groupVersion(type), metadata };
  }

  #get(route: Route): KubeObject {
    const { type, namespace, name } = route;
    const obj = this.store.get(type.storage, objectKey(namespace || undefined, name));
    if (!obj) throw notFound(type.resource, type.group, name);
    return obj;
  }

  #selectors(route: Route, q: URLSearchParams): (obj: KubeObject) => boolean {
    const labels: LabelSelector = parseLabelSelector(q.get("labelSelector"));
    const fields: FieldSelector = parseFieldSelector(q.get("fieldSelector"));
    checkFieldsSupported(fields, route.type.fieldNames);
    const { type, namespace } = route;
    return (obj) =>
      (namespace === "" || meta(obj).namespace === namespace) &&
      (route.name === "" || meta(obj).name === route.name) &&
      matchesLabels(labels, meta(obj).labels) &&
      (fields.length === 0 || matchesFields(fields, type.fields(obj)));
  }

  #list(route: Route, req: Request, q: URLSearchParams): Response {
    const { type } = route;
    const match = this.#selectors(route, q);
    let items = this.store.list(type.storage, route.namespace || undefined).filter(match);
    let rv = String(this.store.resourceVersion);
    const asked = q.get("resourceVersion") ?? "";
    if (/^\d+$/.test(asked) && Number(asked) > this.store.resourceVersion) {
      throw new ApiError(
        504,
        "Timeout",
        `Too large resource version: ${asked}, current: ${this.store.resourceVersion}`,
        {
          causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
          retryAfterSeconds: 1,
        },
      );
    }
    const token = q.get("continue");
    if (token) {
      const decoded = decodeContinue(token);
      rv = decoded.rv;
      items = items.filter((o) => objectKey(meta(o).namespace, meta(o).name!) > decoded.key);
    }
    const limit = Number(q.get("limit") ?? 0);
    if (!Number.isInteger(limit) || limit < 0) {
      throw badRequest(`invalid limit "${q.get("limit")}": must be a non-negative integer`);
    }
    const listMeta: Record<string, unknown> = { resourceVersion: rv };
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1];
      listMeta.continue = encodeContinue(rv, objectKey(meta(last).namespace, meta(last).name!));
      // The real server can count what remains only when nothing is filtered.
      if (!q.get("labelSelector") && !q.get("fieldSelector")) {
        listMeta.remainingItemCount = items.length - limit;
      }
      items = items.slice(0, limit);
    }
    if (wantsTable(req.headers.get("accept"))) {
      const include = (q.get("includeObject") ?? "Metadata") as IncludeObject;
      const shown = items.map((o) => this.#present(type, o));
      return json(toTable(type, shown, { include, now: this.#now(), listMeta }));
    }
    return json({
      kind: `${type.kind}List`,
      apiVersion: groupVersion(type),
      metadata: listMeta,
      items: items.map((o) => {
        const { kind: _k, apiVersion: _a, ...rest } = type.fromStorage(o);
        return rest;
      }),
    });
  }

  #watch(route: Route, req: Request, q: URLSearchParams, record: RequestRecord): Response {
    const { type } = route;
    const match = this.#selectors(route, q);
    const rvParam = q.get("resourceVersion") ?? "";
    if (rvParam !== "" && !/^\d+$/.test(rvParam)) {
      throw badRequest(`invalid resource version "${rvParam}": must be a non-negative integer`);
    }
    const fromRv = rvParam === "" ? 0 : Number(rvParam);
    const bookmarks = q.get("allowWatchBookmarks") === "true";
    const sendInitial = q.get("sendInitialEvents") === "true";
    const timeoutSeconds = Number(q.get("timeoutSeconds") ?? 0);
    const table = wantsTable(req.headers.get("accept"));
    const include = (q.get("includeObject") ?? "Metadata") as IncludeObject;
    const store = this.store;
    const now = this.#now;
    const interval = this.#bookmarkIntervalMs;
    const watches = this.#watches;
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
            send(eventType, this.#present(type, object));
            return;
          }
          // Every watcher of one format shares the bytes of one change.
          const key = `${format}|${eventType}|${object === change.object ? "" : "left"}`;
          change.encoded ??= new Map();
          let line = change.encoded.get(key);
          if (!line) {
            line = encode(eventType, this.#present(type, object));
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
            if (match(obj)) send("ADDED", this.#present(type, obj));
          }
          if (sendInitial && bookmarks) bookmark({ "k8s.io/initial-events-end": "true" });
        } else {
          const changes = store.changesSince(type.storage, fromRv);
          if (changes === undefined) {
            send("ERROR", {
              kind: "Status",
              apiVersion: "v1",
              metadata: {},
              status: "Failure",
              message: `too old resource version: ${rvParam} (${
                store.compactedResourceVersion(type.storage)
              })`,
              reason: "Expired",
              code: 410,
            });
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

  #create(route: Route, obj: KubeObject, dryRun: boolean): KubeObject {
    const { type } = route;
    checkTypeMeta(type, obj);
    if (meta(obj).resourceVersion) {
      throw new ApiError(
        500,
        "InternalError",
        "Internal error occurred: resourceVersion should not be set on objects to be created",
      );
    }
    const namespace = this.#checkNamespace(route, obj);
    const fresh = this.#prepareNew(type, withDefaults(type, type.toStorage(obj)), namespace, {
      identity: "server",
    });
    const key = objectKey(meta(fresh).namespace, meta(fresh).name!);
    if (this.store.get(type.storage, key)) {
      throw alreadyExists(type.resource, type.group, meta(fresh).name!);
    }
    return dryRun ? fresh : this.store.put(type.storage, key, fresh);
  }

  /**
   * Fills in and checks the server-set metadata of an object about to be created. A create
   * through the API gets a new uid and creation time; a seeded object may bring its own.
   */
  #prepareNew(
    type: ResourceType,
    obj: KubeObject,
    namespace: string,
    options: { identity: "server" | "keep" },
  ): KubeObject {
    const m: ObjectMeta = { ...meta(obj) };
    if (!m.name && m.generateName) {
      let suffix = "";
      for (let i = 0; i < 5; i++) {
        suffix += GENERATE_CHARS[Math.floor(this.#random() * GENERATE_CHARS.length)];
      }
      m.name = `${m.generateName}${suffix}`;
    }
    if (type.namespaced) m.namespace = namespace;
    else delete m.namespace;
    this.#validate(type, { ...obj, metadata: m });
    const keep = options.identity === "keep";
    m.uid = keep && m.uid ? m.uid : this.#uid();
    m.creationTimestamp = keep && m.creationTimestamp ? m.creationTimestamp : rfc3339(this.#now());
    if (GENERATION_GROUPS.has(type.group)) m.generation = 1;
    delete m.resourceVersion;
    delete m.deletionTimestamp;
    const normalized = normalizeTimes({ ...obj, metadata: m }) as KubeObject;
    return { ...normalized, apiVersion: storageApiVersion(type), kind: type.kind };
  }

  #uid(): string {
    return crypto.randomUUID();
  }

  #validate(type: ResourceType, obj: KubeObject): void {
    const name = meta(obj).name ?? "";
    const causes: StatusCause[] = [];
    if (name === "") {
      causes.push({
        reason: "FieldValueRequired",
        message: "metadata.name: Required value: name or generateName is required",
        field: "metadata.name",
      });
    } else {
      const re = type.resource === "namespaces" ? LABEL_NAME_RE : NAME_RE;
      if (!re.test(name) || name.length > 253) {
        causes.push({
          reason: "FieldValueInvalid",
          message: `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must ` +
            `consist of lower case alphanumeric characters, '-' or '.', and must start and end ` +
            `with an alphanumeric character`,
          field: "metadata.name",
        });
      }
    }
    causes.push(...type.validate(obj));
    if (causes.length > 0) throw invalid(type.kind, type.group, name, causes);
  }

  /** The namespace an object goes to: from the URL, which the body may repeat but not contradict. */
  #checkNamespace(route: Route, obj: KubeObject): string {
    const { type } = route;
    if (!type.namespaced) return "";
    const given = meta(obj).namespace ?? "";
    if (given !== "" && given !== route.namespace) {
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    if (route.namespace === "") {
      throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    }
    if (!this.store.get("/namespaces", route.namespace)) {
      throw notFound("namespaces", "", route.namespace);
    }
    return route.namespace;
  }

  #update(route: Route, obj: KubeObject, dryRun: boolean): KubeObject {
    const { type, name } = route;
    checkTypeMeta(type, obj);
    if ((meta(obj).name ?? "") !== name) {
      throw badRequest(
        `the name of the object (${
          meta(obj).name ?? ""
        }) does not match the name on the URL (${name})`,
      );
    }
    const namespace = this.#checkNamespace(route, obj);
    return this.#write(route, this.#get(route), type.toStorage(obj), namespace, dryRun);
  }

  /** Stores `next` in place of `current`, as an update of the object or of its status does. */
  #write(
    route: Route,
    current: KubeObject,
    next: KubeObject,
    namespace: string,
    dryRun: boolean,
  ): KubeObject {
    const { type, name, subresource } = route;
    const wanted = meta(next).resourceVersion;
    if (wanted !== undefined && wanted !== "" && wanted !== meta(current).resourceVersion) {
      throw conflict(type.resource, type.group, name);
    }
    if (meta(next).uid !== undefined && meta(next).uid !== meta(current).uid) {
      throw conflict(
        type.resource,
        type.group,
        name,
        `Precondition failed: UID in precondition: ${meta(next).uid}, UID in object meta: ${
          meta(current).uid
        }`,
      );
    }
    let result: KubeObject;
    if (subresource === "status") {
      result = { ...current, status: next.status };
    } else {
      result = { ...next, apiVersion: storageApiVersion(type), kind: type.kind };
      if (type.subresources.includes("status")) {
        if (current.status === undefined) delete result.status;
        else result.status = current.status;
      }
      result.metadata = {
        ...meta(next),
        name,
        uid: meta(current).uid,
        creationTimestamp: meta(current).creationTimestamp,
        ...(type.namespaced ? { namespace } : {}),
      };
      if (!type.namespaced) delete result.metadata.namespace;
      // Server-managed: a client cannot set or clear them by writing the object.
      delete result.metadata.deletionTimestamp;
      delete result.metadata.generation;
      if (meta(current).deletionTimestamp) {
        result.metadata.deletionTimestamp = meta(current).deletionTimestamp;
      }
      if (meta(current).generation !== undefined) {
        result.metadata.generation = meta(current).generation;
      }
      if (GENERATION_GROUPS.has(type.group)) {
        const gen = Number(meta(current).generation ?? 1);
        const changed = !sameJson(result.spec, current.spec);
        result.metadata.generation = changed ? gen + 1 : gen;
      }
      this.#validate(type, result);
    }
    result = normalizeTimes(result) as KubeObject;
    result.metadata = { ...meta(result), resourceVersion: meta(current).resourceVersion };
    if (sameButVersion(result, current)) return current;
    if (dryRun) return result;
    return this.store.put(type.storage, objectKey(namespace || undefined, name), result);
  }

  #patch(route: Route, contentType: string | null, body: string, dryRun: boolean): KubeObject {
    const { type } = route;
    const patchType = patchTypeOf(contentType);
    if (!patchType) {
      throw new ApiError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: ` +
          `application/json-patch+json, application/merge-patch+json, ` +
          `application/strategic-merge-patch+json`,
      );
    }
    const current = this.#get(route);
    const patch = parseBody(body, true);
    let patched: KubeObject;
    try {
      const view = type.fromStorage(clone(current));
      patched = applyPatch(view, patch, { type: patchType, kind: type.kind }) as KubeObject;
    } catch (err) {
      if (err instanceof PatchError) {
        throw new ApiError(err.code, err.code === 422 ? "Invalid" : "BadRequest", err.message);
      }
      throw err;
    }
    if ((meta(patched).name ?? "") !== route.name) {
      throw badRequest(`metadata.name: Invalid value: "${meta(patched).name}": field is immutable`);
    }
    const namespace = route.type.namespaced ? route.namespace : "";
    return this.#write(route, current, type.toStorage(patched), namespace, dryRun);
  }

  #delete(route: Route, body: string, dryRun: boolean): KubeObject {
    const { type, name, namespace } = route;
    const current = this.#get(route);
    const options = body.trim() === "" ? {} : parseBody(body);
    const pre = (options.preconditions ?? {}) as { uid?: string; resourceVersion?: string };
    if (pre.uid && pre.uid !== meta(current).uid) {
      throw conflict(
        type.resource,
        type.group,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${
          meta(current).uid
        }`,
      );
    }
    if (pre.resourceVersion && pre.resourceVersion !== meta(current).resourceVersion) {
      throw conflict(
        type.resource,
        type.group,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ` +
          `ResourceVersion in object meta: ${meta(current).resourceVersion}`,
      );
    }
    if (type.resource === "namespaces" && type.group === "" && PROTECTED_NAMESPACES.has(name)) {
      throw new ApiError(
        403,
        "Forbidden",
        `namespaces "${name}" is forbidden: this namespace may not be deleted`,
        { name, kind: "namespaces" },
      );
    }
    if (dryRun) return current;
    if (type.resource === "namespaces" && type.group === "") this.#emptyNamespace(name);
    if (type.resource === "pods" && type.group === "") {
      const grace = (options as { gracePeriodSeconds?: number }).gracePeriodSeconds;
      return this.#deletePod(current, grace);
    }
    return this.store.remove(type.storage, objectKey(namespace || undefined, name))!;
  }

  /**
   * Deletes a pod as kubelet would confirm it: at once, or, when the server's `podGraceScale`
   * is set, after its grace period (the request's, else the pod's
   * `terminationGracePeriodSeconds`) times that scale, showing as Terminating meanwhile.
   */
  #deletePod(pod: KubeObject, graceOverride?: number): KubeObject {
    const key = objectKey(meta(pod).namespace, meta(pod).name!);
    const grace = graceOverride ??
      Number(
        (pod.spec as { terminationGracePeriodSeconds?: number })?.terminationGracePeriodSeconds ??
          30,
      );
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (this.#podGraceScale <= 0 || grace <= 0 || phase === "Succeeded" || phase === "Failed") {
      return this.store.remove("/pods", key)!;
    }
    if (meta(pod).deletionTimestamp) return pod;
    const terminating = this.store.put("/pods", key, {
      ...pod,
      metadata: {
        ...meta(pod),
        deletionTimestamp: rfc3339(this.#now() + grace * 1000),
        deletionGracePeriodSeconds: grace,
      },
    });
    const uid = meta(pod).uid;
    setTimeout(() => {
      if (meta(this.store.get("/pods", key) ?? {}).uid === uid) this.store.remove("/pods", key);
    }, grace * 1000 * this.#podGraceScale);
    return terminating;
  }

  #emptyNamespace(namespace: string): void {
    const storages = new Set(RESOURCES.filter((r) => r.namespaced).map((r) => r.storage));
    for (const storage of storages) {
      for (const obj of this.store.list(storage, namespace)) {
        this.store.remove(storage, objectKey(namespace, meta(obj).name!));
      }
    }
  }

  #deleteCollection(route: Route, q: URLSearchParams, dryRun: boolean): Response {
    const { type } = route;
    if (type.resource === "namespaces") throw methodNotAllowed("deletecollection", "namespaces");
    const match = this.#selectors(route, q);
    const victims = this.store.list(type.storage, route.namespace || undefined).filter(match);
    const items = victims.map((obj) =>
      dryRun
        ? obj
        : this.store.remove(type.storage, objectKey(meta(obj).namespace, meta(obj).name!))!
    );
    return json({
      kind: `${type.kind}List`,
      apiVersion: groupVersion(type),
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items: items.map((o) => type.fromStorage(o)),
    });
  }

  #evict(route: Route, eviction: KubeObject, dryRun: boolean): Response {
    const name = meta(eviction).name ?? "";
    if (name !== route.name) {
      throw badRequest(`name in URL does not match name in Eviction object`);
    }
    const pod = this.#get(route);
    const verdict = tryEvict(pod, this.store.list("policy/poddisruptionbudgets", route.namespace));
    if (verdict) throw verdict;
    if (!dryRun) {
      const opts = (eviction.deleteOptions ?? {}) as { preconditions?: { uid?: string } };
      if (opts.preconditions?.uid && opts.preconditions.uid !== meta(pod).uid) {
        throw conflict("pods", "", route.name, "Precondition failed: UID mismatch");
      }
      const grace = (eviction.deleteOptions as { gracePeriodSeconds?: number } | undefined)
        ?.gracePeriodSeconds;
      this.#deletePod(pod, grace);
    }
    return json({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      code: 201,
    }, 201);
  }

  #pendingBudgetRefresh = new Set<string>();

  #scheduleBudgetRefresh(change: Change): void {
    const namespace = meta(change.object).namespace ?? "";
    if (this.#pendingBudgetRefresh.has(namespace)) return;
    this.#pendingBudgetRefresh.add(namespace);
    queueMicrotask(() => {
      this.#pendingBudgetRefresh.delete(namespace);
      this.#refreshBudgets(namespace);
    });
  }

  #refreshBudgets(namespace: string): void {
    const budgets = this.store.list("policy/poddisruptionbudgets", namespace);
    if (budgets.length === 0) return;
    const pods = this.store.list("/pods", namespace);
    for (const updated of refreshDisruptionBudgets(budgets, pods)) {
      this.store.put(
        "policy/poddisruptionbudgets",
        objectKey(namespace, meta(updated).name!),
        updated,
      );
    }
  }
}

/** The apiVersion objects are stored under: that of the first resource type of their storage. */
function storageApiVersion(type: ResourceType): string {
  const first = RESOURCES.find((r) => r.storage === type.storage)!;
  return groupVersion(first);
}

/** The defaults the real server's strategies give new objects that clients rely on. */
function withDefaults(type: ResourceType, obj: KubeObject): KubeObject {
  if (type.group !== "") return obj;
  if (type.resource === "pods") {
    const status = (obj.status ?? {}) as Record<string, unknown>;
    return { ...obj, status: { ...status, phase: status.phase ?? "Pending" } };
  }
  if (type.resource === "namespaces") {
    const name = meta(obj).name ?? "";
    return {
      ...obj,
      metadata: {
        ...meta(obj),
        labels: { ...meta(obj).labels, "kubernetes.io/metadata.name": name },
      },
      spec: obj.spec ?? { finalizers: ["kubernetes"] },
      status: { phase: "Active" },
    };
  }
  return obj;
}

/** Reads `dryRun` (query values or DeleteOptions.dryRun); only `All` is valid, as in the real server. */
function parseDryRun(values: unknown): boolean {
  if (values === undefined || values === null) return false;
  const list = Array.isArray(values) ? values : [values];
  for (const v of list) {
    if (v !== "All") {
      throw invalid("DeleteOptions", "", "", [{
        reason: "FieldValueNotSupported",
        message: `dryRun: Unsupported value: ${JSON.stringify(v)}: supported values: "All"`,
        field: "dryRun",
      }]);
    }
  }
  return list.length > 0;
}

function checkTypeMeta(type: ResourceType, obj: KubeObject): void {
  const expected = groupVersion(type);
  if (obj.apiVersion !== undefined && obj.apiVersion !== expected) {
    throw badRequest(
      `the API version in the data (${obj.apiVersion}) does not match the expected API version (${expected})`,
    );
  }
  if (obj.kind !== undefined && obj.kind !== type.kind) {
    throw badRequest(
      `the kind in the data (${obj.kind}) does not match the expected kind (${type.kind})`,
    );
  }
}

function parseBody(body: string, allowArray = false): KubeObject {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw badRequest(`Cannot parse request body as JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || (Array.isArray(value) && !allowArray)) {
    throw badRequest(
      `Cannot parse request body: expected a JSON object, got ${JSON.stringify(value)}`,
    );
  }
  return value as KubeObject;
}

function encodeContinue(rv: string, key: string): string {
  return btoa(JSON.stringify({ rv, start: key })).replaceAll("=", "");
}

function decodeContinue(token: string): { rv: string; key: string } {
  try {
    const padded = token + "=".repeat((4 - token.length % 4) % 4);
    const parsed = JSON.parse(atob(padded));
    if (typeof parsed.rv === "string" && typeof parsed.start === "string") {
      return { rv: parsed.rv, key: parsed.start };
    }
  } catch {
    // Falls through to the error below.
  }
  throw badRequest(`invalid continue token "${token}"`);
}

function pathNotFound(url: URL): ApiError {
  return new ApiError(
    404,
    "NotFound",
    `the server could not find the requested resource`,
    {
      causes: [{
        reason: "UnexpectedServerResponse",
        message: `404 page not found: ${url.pathname}`,
      }],
    },
  );
}

function errorResponse(err: unknown): Response {
  const apiError = err instanceof ApiError
    ? err
    : new ApiError(500, "InternalError", `Internal error: ${(err as Error)?.message ?? err}`);
  const headers: Record<string, string> = {};
  if (apiError.details.retryAfterSeconds !== undefined) {
    headers["retry-after"] = String(apiError.details.retryAfterSeconds);
  }
  return json(apiError.toStatus(), apiError.code, headers);
}
