// What node-heal does to the cluster, as types only: the KubeClient interface and its errors. The
// library-backed implementation is under kube/ (connected by kube_client.ts), the one place that
// imports the client library.
import type { NodePatch } from "../../decide/decision.ts";
import type { Node } from "../../base/node.ts";
import type { Pod } from "../../base/pod.ts";

/** A core/v1 Event as node-heal writes it. */
export interface EventBody {
  metadata: { name: string; namespace: string };
  involvedObject: { apiVersion: string; kind: string; name: string; uid: string };
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  source: { component: string; host?: string };
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}

/** What node-heal knows of a stored Event after writing or reading it: enough to count it again. */
export interface EventVersion {
  count: number;
  /** The version that holds `count`; a patch carrying an older one fails with 409. */
  resourceVersion: string;
  lastTimestamp?: string;
}

/** What one count of a repeated Event sets on it. */
export interface EventCountUpdate {
  count: number;
  lastTimestamp: string;
  resourceVersion: string;
  /** The message, replaced (a combined Event's latest); kept as it is when absent. */
  message?: string;
}

/** A `coordination.k8s.io/v1` Lease as leader election reads and writes it. */
export interface LeaseRecord {
  /** Who holds it; empty when released. */
  holder: string;
  leaseDurationSeconds: number;
  /** RFC 3339 with microseconds, as the API's MicroTime. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
  /** The version read; an update carrying an older one fails with 409. */
  resourceVersion?: string;
  /** Fields of the Lease as read that failed their schema (read as harmless values instead). */
  malformed?: string[];
}

/**
 * A kind of object, named as its API paths name it: `{ group: "karpenter.sh", version: "v1",
 * plural: "nodeclaims" }`; the core group is `""`.
 */
export interface ObjectKind {
  group: string;
  version: string;
  plural: string;
}

/** Any object, as plain JSON: what replacement reads and writes (NodeClaims, Machines, ConfigMaps). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    ownerReferences?: {
      apiVersion: string;
      kind: string;
      name: string;
      uid?: string;
      controller?: boolean;
    }[];
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  data?: Record<string, string>;
}

/** Callbacks of a Node watch. */
export interface NodeWatchHandlers {
  upsert(node: Node): void;
  /**
   * Whether Node `name` is held at `resourceVersion` already (node-heal's own write, whose answer
   * it took in): its watch event is then passed over unread, as the same version is the same object.
   */
  known?(name: string, resourceVersion: string): boolean;
  remove(name: string): void;
  /** Called after each full list (the first one, and re-lists after a 410). */
  listed(nodes: Node[]): void;
  /** Called when the watch is running again after an error (resumed without a list). */
  recovered(): void;
  error(err: unknown): void;
}

/** A running watch; stop it to release its connection. */
export interface Stoppable {
  stop(): Promise<void>;
}

/** Everything node-heal does to the cluster. */
export interface KubeClient {
  /** Where it points (server URL), for logs. */
  readonly server: string;
  /** Whether writes are sent with `dryRun=All` (validated by the API server, never stored). */
  readonly dryRun: boolean;
  getNode(name: string): Promise<Node | undefined>;
  /** Applies a JSON merge patch; a stale `metadata.resourceVersion` in it fails with 409. */
  patchNode(name: string, patch: NodePatch): Promise<Node>;
  /**
   * Creates an Event: resolves with the version created (in a dry run, the version the API
   * server answered with, nothing stored), or undefined (not throws) when one of that name exists.
   */
  createEvent(event: EventBody): Promise<EventVersion | undefined>;
  /** Reads an Event's count and version; undefined when it does not exist (expired, deleted). */
  readEvent(namespace: string, name: string): Promise<EventVersion | undefined>;
  /**
   * Sets `count` and `lastTimestamp` (and `message`, when given: a combined Event's latest) of an
   * existing Event with one JSON merge patch carrying `resourceVersion`: fails with 409 when the
   * Event changed since (another writer counted it) and 404 when it is gone. Resolves with the
   * version written.
   */
  patchEventCount(
    namespace: string,
    name: string,
    update: EventCountUpdate,
  ): Promise<EventVersion>;
  /**
   * Lists and watches Nodes, re-listing after 410 Gone and reconnecting after errors; a watch
   * whose connection breaks, or stays silent or open past its bounds, is an error.
   */
  watchNodes(handlers: NodeWatchHandlers): Promise<Stoppable>;
  /** Whether namespace `name` carries the pause annotation `node-heal.io/paused=true` (false when it does not exist). */
  namespacePaused(name: string): Promise<boolean>;
  /** Every pod bound to a node (one LIST, for a drain). */
  listPodsOnNode(node: string): Promise<Pod[]>;
  /** A pod, or undefined when it is gone. */
  getPod(namespace: string, name: string): Promise<Pod | undefined>;
  /** Whether a DaemonSet exists (kubectl drain leaves its pods only then). */
  daemonSetExists(namespace: string, name: string): Promise<boolean>;
  /** Lease `name` in `namespace`, or undefined when there is none. */
  getLease(namespace: string, name: string): Promise<LeaseRecord | undefined>;
  /** Creates Lease `name`; fails with 409 when it exists. */
  createLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord>;
  /** Replaces Lease `name`; fails with 409 when `record.resourceVersion` is not the current one. */
  updateLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord>;
  /** Objects of `kind` (in `namespace`, or cluster-wide), all pages read. */
  listObjects(kind: ObjectKind, options?: { namespace?: string }): Promise<KubeObject[]>;
  /** Object `name` of `kind`, or undefined when there is none. */
  getObject(kind: ObjectKind, name: string, namespace?: string): Promise<KubeObject | undefined>;
  /**
   * Creates `object`; fails with 409 when one of its name exists. Fenced (act/fence.ts) unless
   * `fenced` is false: for an object that takes nothing away, which a replica that does not lead
   * may need (node-heal's state key).
   */
  createObject(
    kind: ObjectKind,
    object: KubeObject,
    options?: { fenced?: boolean },
  ): Promise<KubeObject>;
  /** Replaces `object`; fails with 409 when its `metadata.resourceVersion` is not the current one. */
  replaceObject(kind: ObjectKind, object: KubeObject): Promise<KubeObject>;
  /**
   * Deletes object `name` of `kind`, only if its uid is still `uid` and its resourceVersion still
   * `resourceVersion` when given (preconditions: 409 when another object of that name took its
   * place, or it changed since it was read). Resolves with the object as the API
   * server answered (still there, Terminating, behind a finalizer; or as it was), or undefined
   * when there was none (404). In a dry run nothing is deleted.
   */
  deleteObject(
    kind: ObjectKind,
    name: string,
    options?: { namespace?: string; uid?: string; resourceVersion?: string },
  ): Promise<KubeObject | undefined>;
  /** Releases what the client holds open (its connections), at shutdown. */
  close?(): Promise<void>;
  /**
   * Evicts a pod through the Eviction API: `evicted`, `gone` (404, or 409 when `uid` is given
   * and another pod took the name), or `blocked` with the API server's reason (429: a
   * PodDisruptionBudget forbids it now). With `uid`, only that pod is evicted (a precondition).
   * A write the fence refuses throws {@link KubeError} `Fenced`.
   */
  evictPod(
    namespace: string,
    name: string,
    options?: { gracePeriodSeconds?: number; uid?: string },
  ): Promise<{ result: "evicted" | "gone" } | { result: "blocked"; message: string }>;
}

/** A failed call to the Kubernetes API: `status` is the HTTP code, absent for network errors. */
export class KubeError extends Error {
  readonly status?: number;
  /** How long the API server asked to wait before trying again (429's `retryAfterSeconds`). */
  readonly retryAfterMs?: number;
  constructor(message: string, status?: number, retryAfterMs?: number) {
    super(message);
    this.status = status;
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs;
  }
}
