import { type Call, type ServerContext, type WatchStream } from "../handlers/context.ts";
import { deleteCollection, deleteObject } from "../handlers/deletes.ts";
import { ApiError, methodNotAllowed } from "../store/errors.ts";
import { clone } from "../store/json.ts";
import { serveGet, serveList } from "../handlers/list.ts";
import { type KubeObject, meta } from "../store/objects.ts";
import { serveOpenApi } from "./openapi.ts";
import { evict, keepBudgetsCurrent } from "../handlers/pods.ts";
import { RESOURCES, type ResourceType } from "../store/resources.ts";
import { routeOf, verbOf } from "./routing.ts";
import { objectKey, Store } from "../store/store.ts";
import { type FaultRule, Traffic } from "./traffic.ts";
import { serveWatch, watchError } from "../handlers/watch.ts";
import { errorResponse, json, parseBody, parseDryRun, present } from "../handlers/wire.ts";
import { createObject, patchObject, updateObject } from "../handlers/writes.ts";
import { prepareNew } from "../store/prepare.ts";
import { type KarpenterOptions, karpenterState } from "../controllers/karpenter.ts";
import { type ClusterApiOptions, clusterApiState } from "../controllers/cluster_api.ts";
import {
  joinSuccessor,
  removeNode,
  type ReplacementOptions,
  replacementState,
} from "../controllers/node_lifecycle.ts";
import { Timers } from "../controllers/timers.ts";
import { sleep } from "../../base/timing.ts";
import { systemClock } from "../../base/clock.ts";

/** Options of an {@link ApiServer}. */
export interface ApiServerOptions extends KarpenterOptions, ClusterApiOptions, ReplacementOptions {
  /** Clock, for creation timestamps and ages; defaults to the system clock. */
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

const encoder = new TextEncoder();

/**
 * An in-memory Kubernetes API server speaking the real wire protocol: discovery, CRUD,
 * list and watch with resourceVersions and selectors, patches, Tables, Status errors,
 * evictions that honour PodDisruptionBudgets, a request record and fault injection.
 * `handler` is a plain `(Request) => Response`; `startEmbeddedCluster` (cluster.ts) serves it over HTTP.
 */
export class ApiServer {
  /** The object store behind the API. */
  readonly store: Store;
  /** Recorded requests and injected faults. */
  readonly traffic: Traffic;
  #ctx: ServerContext;
  #watches = new Set<WatchStream>();

  constructor(options: ApiServerOptions = {}) {
    this.store = new Store({ historySize: options.historySize });
    const random = options.random ?? Math.random;
    this.traffic = new Traffic(random);
    this.#ctx = {
      store: this.store,
      now: options.now ?? (() => systemClock().getTime()),
      random,
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 10_000,
      podGraceScale: options.podGraceScale ?? 0,
      watches: this.#watches,
      timers: new Timers(),
      karpenter: karpenterState(options),
      clusterApi: clusterApiState(options),
      replacements: replacementState(options),
    };
    keepBudgetsCurrent(this.store, this.#ctx);
  }

  /** The number of watch streams open now. */
  get openWatches(): number {
    return this.#watches.size;
  }

  /** Closes every open watch stream, as an API server restart or a network cut would. */
  dropWatches(): void {
    for (const w of [...this.#watches]) w.close();
  }

  /** Stops the server's controllers (pending pod deletions, node replacements) and its watches. */
  close(): void {
    this.#ctx.timers.clear();
    this.dropWatches();
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
      const type = typeOfObject(obj);
      const stored = prepareNew(this.#ctx, clone(type.toStorage(obj)), {
        type,
        namespace: meta(obj).namespace ?? "",
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

  /**
   * Removes Node `name` with its pods and Lease, as a cloud's node lifecycle does once its
   * machine is gone (no NodeClaim or Machine is touched); returns a copy of the Node as it was.
   * For tests that play a cloud (an Auto Scaling group, a managed instance group).
   */
  removeNode(name: string): KubeObject | undefined {
    const node = removeNode(this.#ctx, name);
    return node ? clone(node) : undefined;
  }

  /**
   * Joins a fresh Ready Node in the place of `predecessor` (a Node as read before it went): its
   * cloud, pool and labels, with `providerID` and `name` when given (a recreated VM registers
   * again under its name, with a new uid). Returns a copy of the Node stored.
   */
  joinSuccessor(
    predecessor: KubeObject,
    options: { name?: string; providerID?: string } = {},
  ): KubeObject {
    return clone(joinSuccessor(this.#ctx, predecessor, options));
  }

  /** The stored object of `kind` (as `Node`, `Pod`, ...) or undefined; a copy, safe to change. */
  read(kind: string, name: string, namespace = ""): KubeObject | undefined {
    const type = typeOfKind(kind);
    const obj = this.store.get(type.storage, objectKey(namespace || undefined, name));
    return obj ? clone(obj) : undefined;
  }

  /** Every stored object of `kind`, optionally in one namespace; copies. */
  readAll(kind: string, namespace?: string): KubeObject[] {
    return this.store.list(typeOfKind(kind).storage, namespace).map(clone);
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
          routeOf(url);
      if (route instanceof Response) {
        record.verb = "discovery";
        response = route;
      } else {
        const verb = verbOf(req.method, url, route);
        Object.assign(record, {
          verb,
          resource: route.type.resource,
          group: route.type.group,
          subresource: route.subresource,
          namespace: route.namespace,
          name: route.name,
        });
        const fault = this.traffic.decide(record);
        if (fault.latencyMs > 0) await sleep(fault.latencyMs);
        if (fault.error) {
          const { status, reason, message, retryAfterSeconds, inBand } = fault.error;
          const error = new ApiError(message, {
            code: status,
            reason,
            details: { retryAfterSeconds },
          });
          if (!inBand || verb !== "watch") throw error;
          response = watchError(error, record);
        } else {
          const body = ["POST", "PUT", "PATCH", "DELETE"].includes(req.method)
            ? await req.text()
            : "";
          record.bytesIn = encoder.encode(body).length;
          response = await this.#serve(verb, { route, req, q: url.searchParams, body, record });
        }
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

  /** Serves a request to a resource, by its verb; works out whether it is a dry run. */
  #serve(verb: string, request: Omit<Call, "dryRun">): Response | Promise<Response> {
    const { route, q, body } = request;
    let dryRun = parseDryRun(q.getAll("dryRun"));
    const { type, name, subresource } = route;
    if (subresource === "eviction") {
      if (verb !== "create") throw methodNotAllowed(verb, "pods/eviction");
      const eviction = parseBody(body);
      const options = (eviction.deleteOptions ?? {}) as { dryRun?: unknown };
      dryRun ||= parseDryRun(options.dryRun);
      return evict(this.#ctx, { ...request, dryRun }, eviction);
    }
    if ((verb === "delete" || verb === "deletecollection") && body.trim() !== "") {
      dryRun ||= parseDryRun((parseBody(body) as { dryRun?: unknown }).dryRun);
    }
    const ctx = this.#ctx;
    const call: Call = { ...request, dryRun };
    switch (verb) {
      case "get":
        return serveGet(ctx, call);
      case "list":
        return serveList(ctx, call);
      case "watch":
        return serveWatch(ctx, call);
      case "create":
        if (name !== "" || subresource !== "") throw methodNotAllowed("create", type.resource);
        return json(present(type, createObject(ctx, call, parseBody(body))), 201);
      case "update":
        return json(present(type, updateObject(ctx, call, parseBody(body))));
      case "patch":
        return json(present(type, patchObject(ctx, call)));
      case "delete":
        return json(present(type, deleteObject(ctx, call)));
      case "deletecollection":
        return deleteCollection(ctx, call);
    }
    throw methodNotAllowed(verb, type.resource);
  }
}

/** The first resource type serving `kind`; throws for a kind not served. */
function typeOfKind(kind: string): ResourceType {
  const type = RESOURCES.find((r) => r.kind === kind);
  if (!type) {
    throw new Error(`Cannot read kind "${kind}": the embedded API server does not serve it`);
  }
  return type;
}

/** The resource type of an object by its apiVersion and kind; throws for one not served. */
function typeOfObject(obj: KubeObject): ResourceType {
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
