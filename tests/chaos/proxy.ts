// A fault-injecting, request-logging HTTP proxy between one node-heal replica and the API server:
// every request logged (arrival by performance.now() and Date.now(), method, path and query,
// status, replica), answered by a rule's fault or forwarded with fetch, bodies streamed (so watches
// work), watch streams ended when a test says so. The chaos tests prove with its log what each
// replica sent.

/** What a request did to the cluster, as the chaos tests count it. */
export type RequestKind =
  | "eviction"
  | "node-patch"
  | "node-delete"
  | "pod-delete"
  | "nodeclaim-delete"
  | "machine-delete"
  | "configmap-write"
  | "lease-read"
  | "lease-write"
  | "event-write"
  | "node-list"
  | "node-watch"
  | "other-write"
  | "read";

/**
 * The writes that take something away, fenced by authority at the moment of action
 * (ARCHITECTURE.md, "Fences"): the ledger (a ConfigMap) included, Lease and Event writes not.
 */
export const ACTION_KINDS: readonly RequestKind[] = [
  "eviction",
  "node-patch",
  "node-delete",
  "pod-delete",
  "nodeclaim-delete",
  "machine-delete",
  "configmap-write",
];

/** One request as the proxy saw it. */
export interface ProxyEntry {
  /** The replica behind the proxy. */
  replica: string;
  /** Arrival, by the test process's performance.now() (ms). */
  t: number;
  /** Arrival, by Date.now() (ms since the epoch). */
  at: number;
  method: string;
  /** Path and query, as sent. */
  path: string;
  kind: RequestKind;
  /** The object's namespace and name from the path, when it names one. */
  namespace?: string;
  name?: string;
  /** The answer's status; undefined while waiting for it (a held request). */
  status?: number;
  /** The fault that answered it, if one did. */
  fault?: string;
  /** A write's body as text (the first 64 KiB). */
  body?: string;
}

/** What a fault does to a request it matches. */
export type FaultAction =
  /** Answers this status with a Kubernetes Status body. */
  | { status: number; reason?: string; message?: string }
  /** Answers a watch 200 with one in-band ERROR event carrying this Status code, then ends it. */
  | { watchError: number; reason?: string; message?: string }
  /** Holds the request until `until` settles (or `ms` pass), then forwards it. */
  | { hold: Promise<unknown> | number };

/** A fault rule: which requests (all that are given must match) and what to do. */
export interface FaultRule {
  /** A name for the log. */
  name: string;
  method?: string;
  /** The path without the query: equal to a string, or matching a RegExp. */
  path?: string | RegExp;
  /** Only watches (true) or only other requests (false). */
  watch?: boolean;
  action: FaultAction;
  /** Applies this many times at most (default: every match). */
  times?: number;
}

/** How long a write's body is kept in the log. */
const BODY_CAP = 65_536;

/** Headers that belong to one hop, not to be forwarded. */
const HOP = [
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "content-encoding",
  "host",
  "upgrade",
];

/** Where a Kubernetes API path points: group, namespace, resource, name, subresource. */
export function parseApiPath(pathname: string) {
  const parts = pathname.split("/").filter(Boolean);
  let rest: string[];
  let group = "";
  if (parts[0] === "api" && parts.length >= 2) rest = parts.slice(2);
  else if (parts[0] === "apis" && parts.length >= 3) {
    group = parts[1];
    rest = parts.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  return { group, namespace, resource: rest[0] ?? "", name: rest[1], sub: rest[2] };
}

/** Whether a query asks for a watch. */
function isWatch(search: URLSearchParams): boolean {
  const w = search.get("watch");
  return w === "true" || w === "1";
}

/** The kind of a request, from its method, path and query. */
export function classify(method: string, url: URL): RequestKind {
  const p = parseApiPath(url.pathname);
  if (!p) return "read";
  const write = method !== "GET" && method !== "HEAD";
  const { group, resource, name, sub } = p;
  if (!write) {
    if (group === "" && resource === "nodes" && !name) {
      return isWatch(url.searchParams) ? "node-watch" : "node-list";
    }
    if (resource === "leases" && group === "coordination.k8s.io") return "lease-read";
    return "read";
  }
  if (group === "" && resource === "pods" && sub === "eviction" && method === "POST") {
    return "eviction";
  }
  if (group === "" && resource === "nodes" && name) {
    if (method === "DELETE") return "node-delete";
    return "node-patch";
  }
  if (group === "" && resource === "pods" && name && !sub && method === "DELETE") {
    return "pod-delete";
  }
  if (group === "karpenter.sh" && resource === "nodeclaims" && method === "DELETE") {
    return "nodeclaim-delete";
  }
  if (group === "cluster.x-k8s.io" && resource === "machines" && method === "DELETE") {
    return "machine-delete";
  }
  if (group === "" && resource === "configmaps") return "configmap-write";
  if (group === "coordination.k8s.io" && resource === "leases") return "lease-write";
  if (resource === "events" && (group === "" || group === "events.k8s.io")) return "event-write";
  return "other-write";
}

/** A Kubernetes Status object for an error answer. */
export function statusBody(code: number, reason?: string, message?: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: message ?? `injected by the chaos proxy: ${code}`,
    reason: reason ?? (code === 410 ? "Expired" : code === 500 ? "InternalError" : "Unknown"),
    code,
  };
}

/** A watch stream the proxy passes on, which it can end or hold. */
interface OpenWatch {
  end(abort: boolean): void;
  /** Passes nothing more on until `until` settles. */
  hold(until: Promise<unknown>): void;
}

/** Options of {@link startProxy}. */
export interface ProxyOptions {
  /** The API server's base URL, such as `http://127.0.0.1:6443`. */
  upstream: string;
  /** The replica behind this proxy, for the log. */
  replica: string;
}

/**
 * A running proxy: its URL (the replica's kubeconfig server), its log, its fault rules, and the
 * watch streams it passes on.
 */
export class ChaosProxy implements AsyncDisposable {
  readonly replica: string;
  readonly url: string;
  /** Every request, in arrival order. */
  readonly log: ProxyEntry[] = [];
  #upstream: string;
  #server: Deno.HttpServer;
  #rules: FaultRule[] = [];
  #used = new Map<FaultRule, number>();
  #watches = new Set<OpenWatch>();
  /** Calls of endWatches() so far, and whether the last asked to cut: a watch whose answer was
   * still awaited then is ended as soon as it comes. */
  #ended = { count: 0, abort: false };
  #closing = new AbortController();

  private constructor(options: ProxyOptions, server: Deno.HttpServer, url: string) {
    this.replica = options.replica;
    this.#upstream = options.upstream.replace(/\/$/, "");
    this.#server = server;
    this.url = url;
  }

  /** Starts a proxy on a free loopback port. */
  static async start(options: ProxyOptions): Promise<ChaosProxy> {
    const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
    const made = Promise.withResolvers<ChaosProxy>();
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: (addr) => resolve(addr as Deno.NetAddr),
      onError: (err) => {
        const status = (err as Error).name === "AbortError" ? 499 : 502;
        return Response.json(statusBody(status, "ProxyError", String(err)), { status });
      },
    }, async (req) => (await made.promise).#handle(req));
    const addr = await promise;
    const proxy = new ChaosProxy(options, server, `http://127.0.0.1:${addr.port}`);
    made.resolve(proxy);
    return proxy;
  }

  /** Adds a fault rule (checked before those added earlier); returns its removal. */
  fault(rule: FaultRule): () => void {
    this.#rules.unshift(rule);
    return () => {
      this.#rules = this.#rules.filter((r) => r !== rule);
    };
  }

  /** Removes every fault rule. */
  clearFaults(): void {
    this.#rules = [];
  }

  /** Watch streams open now. */
  get openWatches(): number {
    return this.#watches.size;
  }

  /**
   * Ends every open watch stream: closed cleanly (the client sees the stream end), or with
   * `abort`, cut (the client sees a broken connection).
   */
  endWatches(options: { abort?: boolean } = {}): number {
    const n = this.#watches.size;
    this.#ended = { count: this.#ended.count + 1, abort: options.abort ?? false };
    for (const w of [...this.#watches]) w.end(this.#ended.abort);
    return n;
  }

  /**
   * Stops passing on every open watch stream until `until` settles: the client's connection stays
   * open and hears nothing, as behind a proxy that stopped forwarding (the server's bytes wait in
   * the proxy, then follow). Watches made later are not held: a fault rule holds those. Returns
   * how many were held.
   */
  holdWatches(until: Promise<unknown>): number {
    for (const w of this.#watches) w.hold(until);
    return this.#watches.size;
  }

  /** Log entries of these kinds (all when none is given), optionally since `t` (performance.now()). */
  entries(kinds?: readonly RequestKind[], since = -Infinity): ProxyEntry[] {
    return this.log.filter((e) => e.t >= since && (!kinds || kinds.includes(e.kind)));
  }

  /** Writes that take something away (see {@link ACTION_KINDS}) since `t`. */
  actions(since = -Infinity): ProxyEntry[] {
    return this.entries(ACTION_KINDS, since);
  }

  /** Full Node LISTs (GET /api/v1/nodes, not a watch) since `t`. */
  nodeLists(since = -Infinity): ProxyEntry[] {
    return this.entries(["node-list"], since);
  }

  /** Evictions since `t`. */
  evictions(since = -Infinity): ProxyEntry[] {
    return this.entries(["eviction"], since);
  }

  /** Lease reads and writes since `t`. */
  leaseCalls(since = -Infinity): ProxyEntry[] {
    return this.entries(["lease-read", "lease-write"], since);
  }

  /** Counts of the log's entries by kind since `t`. */
  counts(since = -Infinity): Partial<Record<RequestKind, number>> {
    const counts: Partial<Record<RequestKind, number>> = {};
    for (const e of this.entries(undefined, since)) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
    return counts;
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const kind = classify(req.method, url);
    const p = parseApiPath(url.pathname);
    const entry: ProxyEntry = {
      replica: this.replica,
      t: performance.now(),
      at: Date.now(),
      method: req.method,
      path: url.pathname + url.search,
      kind,
      ...(p?.namespace ? { namespace: p.namespace } : {}),
      ...(p?.name ? { name: p.name } : {}),
    };
    this.log.push(entry);
    let body: Uint8Array<ArrayBuffer> | undefined;
    if (req.method !== "GET" && req.method !== "HEAD" && req.body) {
      body = new Uint8Array(await req.arrayBuffer());
      entry.body = new TextDecoder().decode(body.subarray(0, BODY_CAP));
    }
    const watch = isWatch(url.searchParams);
    const rule = this.#match(req.method, url.pathname, watch);
    if (rule) {
      const { action } = rule;
      if ("status" in action) {
        entry.fault = rule.name;
        entry.status = action.status;
        return Response.json(statusBody(action.status, action.reason, action.message), {
          status: action.status,
        });
      }
      if ("watchError" in action) {
        entry.fault = rule.name;
        entry.status = 200;
        const event = {
          type: "ERROR",
          object: statusBody(action.watchError, action.reason, action.message),
        };
        return new Response(JSON.stringify(event) + "\n", {
          headers: { "content-type": "application/json" },
        });
      }
      entry.fault = rule.name;
      const hold = action.hold;
      await (typeof hold === "number" ? new Promise((r) => setTimeout(r, hold)) : hold);
    }
    return await this.#forward(req, url, entry, body, watch);
  }

  #match(method: string, pathname: string, watch: boolean): FaultRule | undefined {
    for (const rule of this.#rules) {
      if (rule.method && rule.method !== method) continue;
      if (typeof rule.path === "string" && rule.path !== pathname) continue;
      if (rule.path instanceof RegExp && !rule.path.test(pathname)) continue;
      if (rule.watch !== undefined && rule.watch !== watch) continue;
      const used = this.#used.get(rule) ?? 0;
      if (rule.times !== undefined && used >= rule.times) continue;
      this.#used.set(rule, used + 1);
      return rule;
    }
    return undefined;
  }

  async #forward(
    req: Request,
    url: URL,
    entry: ProxyEntry,
    body: Uint8Array<ArrayBuffer> | undefined,
    watch: boolean,
  ): Promise<Response> {
    const headers = new Headers(req.headers);
    for (const h of HOP) headers.delete(h);
    headers.set("accept-encoding", "identity");
    const upstreamAbort = new AbortController();
    const endedBefore = this.#ended.count;
    // Not req.signal: Deno.serve aborts it once a response is delivered. A client that goes away
    // cancels the body passed on, which cancels the upstream one.
    const signal = AbortSignal.any([upstreamAbort.signal, this.#closing.signal]);
    let res: Response;
    try {
      res = await fetch(this.#upstream + url.pathname + url.search, {
        method: req.method,
        headers,
        body,
        signal,
        redirect: "manual",
      });
    } catch (err) {
      entry.status = 502;
      return Response.json(statusBody(502, "ProxyError", `upstream: ${err}`), { status: 502 });
    }
    entry.status = res.status;
    const out = new Headers(res.headers);
    for (const h of HOP) out.delete(h);
    if (!watch || !res.body) {
      return new Response(res.body, {
        status: res.status,
        statusText: res.statusText,
        headers: out,
      });
    }
    // A watch: passed on chunk by chunk, and ended when the test says so.
    if (this.#ended.count !== endedBefore) {
      // Ended while its answer was awaited.
      upstreamAbort.abort();
      await res.body.cancel().catch(() => {});
      const cut = this.#ended.abort;
      const ended = new ReadableStream<Uint8Array>({
        start(c) {
          if (cut) c.error(new Error("watch cut by the chaos proxy"));
          else c.close();
        },
      });
      return new Response(ended, { status: res.status, headers: out });
    }
    const reader = res.body.getReader();
    const watches = this.#watches;
    let open: OpenWatch;
    let held: Promise<unknown> = Promise.resolve();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        open = {
          end(abort) {
            watches.delete(open);
            upstreamAbort.abort();
            reader.cancel().catch(() => {});
            try {
              if (abort) controller.error(new Error("watch cut by the chaos proxy"));
              else controller.close();
            } catch {
              // Ended already.
            }
          },
          hold(until) {
            held = until.catch(() => {});
          },
        };
        watches.add(open);
      },
      async pull(controller) {
        try {
          await held;
          const { done, value } = await reader.read();
          // Held while it was read: passed on once let go.
          await held;
          if (done) {
            watches.delete(open);
            controller.close();
          } else controller.enqueue(value);
        } catch (err) {
          watches.delete(open);
          try {
            controller.error(err);
          } catch {
            // Ended already.
          }
        }
      },
      cancel() {
        watches.delete(open);
        upstreamAbort.abort();
        reader.cancel().catch(() => {});
      },
    });
    return new Response(stream, { status: res.status, headers: out });
  }

  /** Ends every watch and stops serving. */
  async close(): Promise<void> {
    this.endWatches({ abort: true });
    this.#closing.abort();
    await this.#server.shutdown();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Starts a {@link ChaosProxy} on a free loopback port in front of `upstream`. */
export function startProxy(options: ProxyOptions): Promise<ChaosProxy> {
  return ChaosProxy.start(options);
}

/** Entries of several proxies' logs merged in arrival order. */
export function merged(proxies: readonly ChaosProxy[], kinds?: readonly RequestKind[]) {
  return proxies.flatMap((p) => p.entries(kinds)).sort((a, b) => a.t - b.t);
}
