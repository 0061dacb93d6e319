// An in-memory KubeClient for unit tests of the act and report stages and the pipeline: Nodes
// and Events with resourceVersions (a stale one in a patch is 409, as the API server answers),
// Pods that an eviction removes, and failures scripted per method. Integration tests use the
// embedded API server and the real client library instead.
import type { NodePatch } from "../../lib/decide/decision.ts";
import {
  type EventBody,
  type EventCountUpdate,
  type EventVersion,
  type KubeClient,
  KubeError,
  type KubeObject,
  type LeaseRecord,
  type NodeWatchHandlers,
  type ObjectKind,
  type Stoppable,
} from "../../lib/act/kube/types.ts";
import type { Node } from "../../lib/base/node.ts";
import { NodeIndex } from "../../lib/resolve/node_index.ts";
import type { Pod } from "../../lib/base/pod.ts";

type Method = Exclude<keyof KubeClient, "server" | "dryRun">;

/** A fake KubeClient; see the module comment. */
export class FakeClient implements KubeClient {
  readonly server = "fake://cluster";
  readonly dryRun: boolean;
  nodes = new Map<string, Node>();
  pods = new Map<string, Pod>();
  /** Events by namespace/name; delete one to have it expire. */
  events = new Map<string, EventBody>();
  daemonSets = new Set<string>();
  /** Pods (namespace/name) whose eviction a disruption budget blocks. */
  blocked = new Set<string>();
  /** Every Node patch sent, in order, whether it succeeded or not. */
  patches: { name: string; patch: NodePatch }[] = [];
  /** Every call, in order: method and first argument. */
  calls: { method: Method; arg: unknown }[] = [];
  #failures = new Map<Method, number[]>();
  #handlers: NodeWatchHandlers[] = [];
  #eventVersions = new Map<string, string>();
  #version = 1;

  constructor(options: { dryRun?: boolean; nodes?: Node[]; pods?: Pod[] } = {}) {
    this.dryRun = options.dryRun ?? false;
    for (const n of options.nodes ?? []) this.putNode(n);
    for (const p of options.pods ?? []) {
      this.pods.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
    }
  }

  /** The next `statuses.length` calls of `method` fail with those statuses (0: no status, a network error). */
  fail(method: Method, ...statuses: number[]): void {
    this.#failures.set(method, [...(this.#failures.get(method) ?? []), ...statuses]);
  }

  /** Stores a Node as someone else's write would (a new resourceVersion), telling watchers. */
  putNode(node: Node): Node {
    const stored = structuredClone(node);
    stored.metadata.resourceVersion = String(++this.#version);
    this.nodes.set(stored.metadata.name, stored);
    for (const h of this.#handlers) h.upsert(structuredClone(stored));
    return structuredClone(stored);
  }

  /** Stores an Event as someone else's write would (a new resourceVersion). */
  putEvent(event: EventBody): EventVersion {
    const key = `${event.metadata.namespace}/${event.metadata.name}`;
    this.events.set(key, structuredClone(event));
    const resourceVersion = String(++this.#version);
    this.#eventVersions.set(key, resourceVersion);
    return { count: event.count, resourceVersion, lastTimestamp: event.lastTimestamp };
  }

  #enter(method: Method, arg: unknown): void {
    this.calls.push({ method, arg });
    const queue = this.#failures.get(method);
    const status = queue?.shift();
    if (status === undefined) return;
    throw new KubeError(`Cannot ${method}: scripted failure`, status === 0 ? undefined : status);
  }

  getNode(name: string): Promise<Node | undefined> {
    this.#enter("getNode", name);
    const node = this.nodes.get(name);
    return Promise.resolve(node && structuredClone(node));
  }

  patchNode(name: string, patch: NodePatch): Promise<Node> {
    this.patches.push({ name, patch: structuredClone(patch) });
    this.#enter("patchNode", name);
    const current = this.nodes.get(name);
    if (!current) throw new KubeError(`nodes "${name}" not found`, 404);
    const rv = patch.metadata.resourceVersion;
    if (rv !== undefined && rv !== current.metadata.resourceVersion) {
      throw new KubeError(`Operation cannot be fulfilled on nodes "${name}"`, 409);
    }
    const next = structuredClone(current);
    const annotations = { ...next.metadata.annotations };
    for (const [k, v] of Object.entries(patch.metadata.annotations ?? {})) {
      if (v === null) delete annotations[k];
      else annotations[k] = v;
    }
    next.metadata.annotations = annotations;
    if (patch.spec) {
      next.spec = { ...next.spec };
      if (patch.spec.unschedulable === null) delete next.spec.unschedulable;
      else next.spec.unschedulable = patch.spec.unschedulable;
    }
    // A dry run answers with the Node as it would be, and stores nothing.
    if (this.dryRun) return Promise.resolve(next);
    return Promise.resolve(this.putNode(next));
  }

  createEvent(event: EventBody): Promise<EventVersion | undefined> {
    this.#enter("createEvent", event.metadata.name);
    const key = `${event.metadata.namespace}/${event.metadata.name}`;
    if (this.events.has(key)) return Promise.resolve(undefined);
    // A dry run answers with a version too, and stores nothing.
    if (this.dryRun) {
      return Promise.resolve({
        count: event.count,
        resourceVersion: String(this.#version + 1),
        lastTimestamp: event.lastTimestamp,
      });
    }
    return Promise.resolve(this.putEvent(event));
  }

  readEvent(namespace: string, name: string): Promise<EventVersion | undefined> {
    this.#enter("readEvent", name);
    const key = `${namespace}/${name}`;
    const event = this.events.get(key);
    return Promise.resolve(
      event && {
        count: event.count,
        resourceVersion: this.#eventVersions.get(key)!,
        lastTimestamp: event.lastTimestamp,
      },
    );
  }

  patchEventCount(
    namespace: string,
    name: string,
    update: EventCountUpdate,
  ): Promise<EventVersion> {
    this.#enter("patchEventCount", name);
    const key = `${namespace}/${name}`;
    const event = this.events.get(key);
    if (!event) throw new KubeError(`events "${name}" not found`, 404);
    const current = this.#eventVersions.get(key)!;
    if (update.resourceVersion !== current) {
      throw new KubeError(`Operation cannot be fulfilled on events "${name}"`, 409);
    }
    const next = { ...structuredClone(event), count: update.count };
    next.lastTimestamp = update.lastTimestamp;
    if (update.message !== undefined) next.message = update.message;
    // A dry run answers with the Event as it would be, and stores nothing.
    if (this.dryRun) {
      return Promise.resolve({
        count: next.count,
        resourceVersion: current,
        lastTimestamp: next.lastTimestamp,
      });
    }
    return Promise.resolve(this.putEvent(next));
  }

  watchNodes(handlers: NodeWatchHandlers): Promise<Stoppable> {
    this.#enter("watchNodes", undefined);
    this.#handlers.push(handlers);
    handlers.listed([...this.nodes.values()].map((n) => structuredClone(n)));
    return Promise.resolve({
      stop: () => {
        this.#handlers = this.#handlers.filter((h) => h !== handlers);
        return Promise.resolve();
      },
    });
  }

  /** Other objects (NodeClaims, Machines, ConfigMaps) by `group/plural/namespace/name`. */
  objects = new Map<string, KubeObject>();

  /** The key of object `name` of `kind` in {@link objects}. */
  static key(kind: ObjectKind, name: string, namespace = ""): string {
    return `${kind.group}/${kind.plural}/${namespace}/${name}`;
  }

  /** Stores an object as someone else's write would (a new resourceVersion, a uid if none). */
  putObject(kind: ObjectKind, object: KubeObject): KubeObject {
    const stored = structuredClone(object);
    stored.metadata.resourceVersion = String(++this.#version);
    stored.metadata.uid ??= crypto.randomUUID();
    this.objects.set(FakeClient.key(kind, stored.metadata.name, stored.metadata.namespace), stored);
    return structuredClone(stored);
  }

  listObjects(kind: ObjectKind, options: { namespace?: string } = {}): Promise<KubeObject[]> {
    this.#enter("listObjects", kind.plural);
    const prefix = `${kind.group}/${kind.plural}/${options.namespace ?? ""}`;
    return Promise.resolve(
      [...this.objects].filter(([k]) =>
        options.namespace ? k.startsWith(`${prefix}/`) : k.startsWith(prefix)
      ).map(([, o]) => structuredClone(o)),
    );
  }

  getObject(kind: ObjectKind, name: string, namespace?: string): Promise<KubeObject | undefined> {
    this.#enter("getObject", `${kind.plural}/${name}`);
    const o = this.objects.get(FakeClient.key(kind, name, namespace));
    return Promise.resolve(o && structuredClone(o));
  }

  createObject(
    kind: ObjectKind,
    object: KubeObject,
    _options?: { fenced?: boolean },
  ): Promise<KubeObject> {
    this.#enter("createObject", `${kind.plural}/${object.metadata.name}`);
    const key = FakeClient.key(kind, object.metadata.name, object.metadata.namespace);
    if (this.objects.has(key)) {
      throw new KubeError(`${kind.plural} "${object.metadata.name}" already exists`, 409);
    }
    if (this.dryRun) return Promise.resolve(structuredClone(object));
    return Promise.resolve(this.putObject(kind, { ...object, metadata: { ...object.metadata } }));
  }

  replaceObject(kind: ObjectKind, object: KubeObject): Promise<KubeObject> {
    this.#enter("replaceObject", `${kind.plural}/${object.metadata.name}`);
    const key = FakeClient.key(kind, object.metadata.name, object.metadata.namespace);
    const current = this.objects.get(key);
    if (!current) throw new KubeError(`${kind.plural} "${object.metadata.name}" not found`, 404);
    if (object.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw new KubeError(
        `Operation cannot be fulfilled on ${kind.plural} "${object.metadata.name}"`,
        409,
      );
    }
    if (this.dryRun) return Promise.resolve(structuredClone(object));
    return Promise.resolve(
      this.putObject(kind, {
        ...object,
        metadata: { ...object.metadata, uid: current.metadata.uid },
      }),
    );
  }

  deleteObject(
    kind: ObjectKind,
    name: string,
    options: { namespace?: string; uid?: string; resourceVersion?: string } = {},
  ): Promise<KubeObject | undefined> {
    this.#enter("deleteObject", `${kind.plural}/${name}`);
    if (kind.group === "" && kind.plural === "nodes") {
      const node = this.nodes.get(name);
      if (!node) return Promise.resolve(undefined);
      if (options.uid && node.metadata.uid !== options.uid) {
        throw new KubeError(`Precondition failed: UID in precondition: ${options.uid}`, 409);
      }
      if (!this.dryRun) {
        this.nodes.delete(name);
        for (const h of this.#handlers) h.remove(name);
      }
      return Promise.resolve(structuredClone(node) as unknown as KubeObject);
    }
    const key = FakeClient.key(kind, name, options.namespace);
    const current = this.objects.get(key);
    if (!current) return Promise.resolve(undefined);
    if (options.uid && current.metadata.uid !== options.uid) {
      throw new KubeError(`Precondition failed: UID in precondition: ${options.uid}`, 409);
    }
    if (options.resourceVersion && current.metadata.resourceVersion !== options.resourceVersion) {
      throw new KubeError(
        `Precondition failed: ResourceVersion in precondition: ${options.resourceVersion}`,
        409,
      );
    }
    if (!this.dryRun) this.objects.delete(key);
    return Promise.resolve(structuredClone(current));
  }

  /** Leases by `namespace/name`. */
  leases = new Map<string, LeaseRecord>();

  getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    this.#enter("getLease", `${namespace}/${name}`);
    const lease = this.leases.get(`${namespace}/${name}`);
    return Promise.resolve(lease && { ...lease });
  }

  createLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    this.#enter("createLease", `${namespace}/${name}`);
    const key = `${namespace}/${name}`;
    if (this.leases.has(key)) throw new KubeError(`leases "${name}" already exists`, 409);
    const stored = { ...record, resourceVersion: String(++this.#version) };
    this.leases.set(key, stored);
    return Promise.resolve({ ...stored });
  }

  updateLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    this.#enter("updateLease", `${namespace}/${name}`);
    const key = `${namespace}/${name}`;
    const current = this.leases.get(key);
    if (!current) throw new KubeError(`leases "${name}" not found`, 404);
    if (record.resourceVersion !== current.resourceVersion) {
      throw new KubeError(`Operation cannot be fulfilled on leases "${name}"`, 409);
    }
    const stored = { ...record, resourceVersion: String(++this.#version) };
    this.leases.set(key, stored);
    return Promise.resolve({ ...stored });
  }

  namespacePaused(name: string): Promise<boolean> {
    this.#enter("namespacePaused", name);
    return Promise.resolve(false);
  }

  listPodsOnNode(node: string): Promise<Pod[]> {
    this.#enter("listPodsOnNode", node);
    return Promise.resolve(
      [...this.pods.values()].filter((p) => p.spec?.nodeName === node).map((p) =>
        structuredClone(p)
      ),
    );
  }

  getPod(namespace: string, name: string): Promise<Pod | undefined> {
    this.#enter("getPod", `${namespace}/${name}`);
    const pod = this.pods.get(`${namespace}/${name}`);
    return Promise.resolve(pod && structuredClone(pod));
  }

  daemonSetExists(namespace: string, name: string): Promise<boolean> {
    this.#enter("daemonSetExists", `${namespace}/${name}`);
    return Promise.resolve(this.daemonSets.has(`${namespace}/${name}`));
  }

  evictPod(
    namespace: string,
    name: string,
    _options?: { gracePeriodSeconds?: number; uid?: string },
  ): Promise<{ result: "evicted" | "gone" } | { result: "blocked"; message: string }> {
    const key = `${namespace}/${name}`;
    this.#enter("evictPod", key);
    if (!this.pods.has(key)) return Promise.resolve({ result: "gone" });
    if (this.blocked.has(key)) {
      return Promise.resolve({
        result: "blocked",
        message: `Cannot evict pod as it would violate the pod's disruption budget.`,
      });
    }
    if (!this.dryRun) this.pods.delete(key);
    return Promise.resolve({ result: "evicted" });
  }
}

/** A worker Node named `name`, Ready, with an InternalIP. */
export function workerNode(name: string, ip = "10.0.0.1"): Node {
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name }, annotations: {} },
    spec: {},
    status: {
      addresses: [{ type: "InternalIP", address: ip }],
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
}

/** A Pod `namespace/name` on Node `node`, owned by a ReplicaSet. */
export function podOn(node: string, name: string, namespace = "default"): Pod {
  return {
    metadata: {
      name,
      namespace,
      uid: `uid-${namespace}-${name}`,
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: "rs",
        controller: true,
      }],
    },
    spec: { nodeName: node },
    status: { phase: "Running" },
  };
}

/** A node index fed by the client's watch, as the service feeds it. */
export function watchedIndex(client: FakeClient): NodeIndex {
  const index = new NodeIndex();
  client.watchNodes({
    listed: (ns) => index.replaceAll(ns),
    upsert: (n) => index.upsert(n),
    remove: (n) => index.remove(n),
    recovered: () => {},
    error: () => {},
  });
  return index;
}
