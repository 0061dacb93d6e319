import { parseLean } from "./lean_json.ts";
import type * as k8s from "@kubernetes/client-node";
import type { Kubeconfig } from "./kubeconfig.ts";
import type { NodePatch } from "../../decide/decision.ts";
import type { Node } from "../../base/node.ts";
import type { Pod } from "../../base/pod.ts";
import type {
  EventBody,
  EventCountUpdate,
  EventVersion,
  KubeClient,
  KubeObject,
  LeaseRecord,
  NodeWatchHandlers,
  ObjectKind,
  Stoppable,
} from "./types.ts";
import { toEventVersion, toKubeError, toNode } from "./convert.ts";
import { type NodeWatchOptions, watchNodes } from "./node_watch.ts";
import { TimeBounds } from "./time_bound.ts";
import { closeNative, rawJson } from "./raw.ts";
import { ReadCalls } from "./reads.ts";
import { ObjectCalls, type ObjectCallsDeps } from "./objects.ts";
import { LeaseCalls } from "./leases.ts";
import { type Evicted, evictionFailure, evictionRequest } from "./eviction.ts";
import { Slots } from "./slots.ts";
import type { Fence, FencedWrite } from "../fence.ts";

const MERGE_PATCH = "application/merge-patch+json";

/** Events wait for a slot after every other call waiting: a remediation's write goes first. */
const LOW = true;

/** The answers of a call that takes no status for an answer. */
const NO_ANSWERS: Record<number, never> = Object.freeze({});

/** The write a method of an object call is, for the fence (reads are not fenced). */
const OBJECT_WRITES: Partial<Record<string, FencedWrite>> = {
  POST: "create",
  PUT: "replace",
  DELETE: "delete",
};

/**
 * API calls in flight at once, at most (the watch aside). A burst (a storm of alerts) waits its
 * turn instead of opening a connection per call; client-go bounds its calls the same way.
 */
export const MAX_IN_FLIGHT = 16;

/** The KubeClient of a real API server, through the client library. */
export class LibraryClient implements KubeClient {
  readonly server: string;
  readonly dryRun: boolean;
  #kc: Kubeconfig;
  #timeoutMs: number;
  #bounds: TimeBounds;
  #slots: Slots;
  #objects: ObjectCalls;
  #unfenced: ObjectCalls;
  #leases: LeaseCalls;
  #reads: ReadCalls;
  #fence?: Fence;
  #watch?: Omit<NodeWatchOptions, "timeoutMs">;

  constructor(
    kc: Kubeconfig,
    server: string,
    options: {
      dryRun: boolean;
      timeoutMs: number;
      maxInFlight?: number;
      fence?: Fence;
      /** The Node watch's bounds, past the API timeout (see watchNodes). */
      watch?: Omit<NodeWatchOptions, "timeoutMs">;
    },
  ) {
    this.#kc = kc;
    this.server = server;
    this.dryRun = options.dryRun;
    this.#timeoutMs = options.timeoutMs;
    this.#bounds = new TimeBounds(options.timeoutMs);
    this.#slots = new Slots(options.maxInFlight ?? MAX_IN_FLIGHT);
    this.#fence = options.fence;
    this.#watch = options.watch;
    this.#objects = new ObjectCalls({
      send: (what, request, answers) => {
        const write = OBJECT_WRITES[request.method];
        return this.#call(
          what,
          (signal, beforeSend) => rawJson(this.#kc, { ...request, beforeSend }, signal),
          answers,
          write && { write, target: what },
        );
      },
      dryQuery: this.dryRun ? "?dryRun=All" : "",
    });
    // The election's own calls, and objects that take nothing away (node-heal's state key), go
    // unfenced: a replica that does not lead yet needs them.
    const unfenced: ObjectCallsDeps["send"] = (what, request, answers) =>
      this.#call(what, (signal) => rawJson(this.#kc, request, signal), answers);
    this.#leases = new LeaseCalls(unfenced);
    this.#reads = new ReadCalls(unfenced);
    this.#unfenced = new ObjectCalls({
      send: unfenced,
      dryQuery: this.dryRun ? "?dryRun=All" : "",
    });
  }

  /** Closes the connections of Deno's HTTP client, if one was made. */
  close(): Promise<void> {
    return closeNative(this.#kc);
  }

  /** The query of a write: `?dryRun=All` in a dry run. */
  get #dryQuery(): string {
    return this.dryRun ? "?dryRun=All" : "";
  }

  /**
   * One API call within the time limit: a failure becomes a {@link KubeError} that says what
   * failed, and a status named in `answers` becomes that answer instead (404: gone, say).
   */
  async #call<T, U = never>(
    what: string,
    call: (signal: AbortSignal, beforeSend?: () => void) => Promise<T>,
    answers: Record<number, U> = NO_ANSWERS,
    fenced?: { write: FencedWrite; target: string },
    low = false,
  ): Promise<T | U> {
    const controller = new AbortController();
    try {
      return await this.#start(what, call, controller, fenced, low);
    } catch (err) {
      controller.abort(); // As #bounded does.
      const e = toKubeError(err, what);
      if (e.status !== undefined && Object.hasOwn(answers, e.status)) return answers[e.status];
      throw e;
    }
  }

  /**
   * Runs `call` in a slot within the time limit. A call that times out is aborted: one still
   * waiting for a slot never runs (a write reported failed must not land later), and one under
   * way gives its connection and slot back instead of holding them until the server answers.
   * A `fenced` write is checked by the fence once it has its slot, and again immediately before
   * it is sent, its credentials at hand, at every sending (`call` passes `beforeSend` on to
   * rawJson): one that waited (for a slot, for an exec plugin, in a paused process) is not sent by
   * a replica that no longer leads.
   */
  async #bounded<T>(
    what: string,
    call: (signal: AbortSignal, beforeSend?: () => void) => Promise<T>,
    fenced?: { write: FencedWrite; target: string },
  ): Promise<T> {
    const controller = new AbortController();
    try {
      return await this.#start(what, call, controller, fenced);
    } catch (err) {
      // A call that answered has read its answer whole: only one given up on is aborted (an
      // abort makes an exception, stack and all: a tenth of a cordon's CPU when made each call).
      controller.abort();
      throw err;
    }
  }

  /** Starts `call` in a slot, bounded in time, as {@link #bounded} says; `controller` aborts it. */
  #start<T>(
    what: string,
    call: (signal: AbortSignal, beforeSend?: () => void) => Promise<T>,
    controller: AbortController,
    fenced?: { write: FencedWrite; target: string },
    low = false,
  ): Promise<T> {
    const signal = controller.signal;
    let send = () => call(signal);
    if (fenced) {
      const check = () => this.#fence?.check(fenced.write, fenced.target);
      send = () => {
        check();
        return call(signal, check);
      };
    }
    return this.#bounds.bound(this.#slots.run(send, signal, low), what);
  }

  async getNode(name: string): Promise<Node | undefined> {
    const node = await this.#call(
      `read node "${name}"`,
      (signal) =>
        rawJson<k8s.V1Node>(this.#kc, {
          method: "GET",
          path: `/api/v1/nodes/${encodeURIComponent(name)}`,
          parse: parseLean,
        }, signal),
      { 404: undefined },
    );
    return node && toNode(node);
  }

  async patchNode(name: string, patch: NodePatch): Promise<Node> {
    return toNode(
      await this.#call(
        `patch node "${name}"`,
        (signal, beforeSend) =>
          rawJson<k8s.V1Node>(this.#kc, {
            method: "PATCH",
            path: `/api/v1/nodes/${encodeURIComponent(name)}${this.#dryQuery}`,
            body: patch,
            contentType: MERGE_PATCH,
            beforeSend,
            parse: parseLean,
          }, signal),
        NO_ANSWERS,
        { write: "patch", target: `node "${name}"` },
      ),
    );
  }

  async createEvent(event: EventBody): Promise<EventVersion | undefined> {
    const { namespace } = event.metadata;
    return await this.#call(
      `create event "${event.metadata.name}"`,
      async (signal) =>
        toEventVersion(
          await rawJson<k8s.CoreV1Event>(this.#kc, {
            method: "POST",
            path: `/api/v1/namespaces/${namespace}/events${this.#dryQuery}`,
            body: { apiVersion: "v1", kind: "Event", ...event },
          }, signal),
        ),
      { 409: undefined },
      undefined,
      LOW,
    );
  }

  async patchEventCount(
    namespace: string,
    name: string,
    update: EventCountUpdate,
  ): Promise<EventVersion> {
    return toEventVersion(
      await this.#call(
        `update event "${name}"`,
        (signal) =>
          rawJson<k8s.CoreV1Event>(this.#kc, {
            method: "PATCH",
            path: `/api/v1/namespaces/${namespace}/events/${
              encodeURIComponent(name)
            }${this.#dryQuery}`,
            body: {
              metadata: { resourceVersion: update.resourceVersion },
              count: update.count,
              lastTimestamp: update.lastTimestamp,
              ...(update.message === undefined ? {} : { message: update.message }),
            },
            contentType: MERGE_PATCH,
          }, signal),
        NO_ANSWERS,
        undefined,
        LOW,
      ),
    );
  }

  async evictPod(
    namespace: string,
    name: string,
    options: { gracePeriodSeconds?: number; uid?: string } = {},
  ): Promise<Evicted> {
    const what = `evict pod "${namespace}/${name}"`;
    const request = evictionRequest(namespace, name, { ...options, dryRun: this.dryRun });
    try {
      // Sent as plain JSON, as every other write: aborted at the time limit, and fenced once its
      // credentials are at hand.
      await this.#bounded(
        what,
        (signal, beforeSend) => rawJson(this.#kc, { ...request, beforeSend }, signal),
        { write: "evict", target: `pod "${namespace}/${name}"` },
      );
      return { result: "evicted" };
    } catch (err) {
      return evictionFailure(err, what, options.uid);
    }
  }

  readEvent(namespace: string, name: string): Promise<EventVersion | undefined> {
    return this.#reads.readEvent(namespace, name);
  }

  listPodsOnNode(node: string): Promise<Pod[]> {
    return this.#reads.listPodsOnNode(node);
  }

  getPod(namespace: string, name: string): Promise<Pod | undefined> {
    return this.#reads.getPod(namespace, name);
  }

  daemonSetExists(namespace: string, name: string): Promise<boolean> {
    return this.#reads.daemonSetExists(namespace, name);
  }

  namespacePaused(name: string): Promise<boolean> {
    return this.#reads.namespacePaused(name);
  }

  getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    return this.#leases.get(namespace, name);
  }

  createLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    return this.#leases.create(namespace, name, record);
  }

  updateLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord> {
    return this.#leases.update(namespace, name, record);
  }

  listObjects(kind: ObjectKind, options: { namespace?: string } = {}): Promise<KubeObject[]> {
    return this.#objects.list(kind, options);
  }

  getObject(kind: ObjectKind, name: string, namespace?: string): Promise<KubeObject | undefined> {
    return this.#objects.get(kind, name, namespace);
  }

  createObject(
    kind: ObjectKind,
    object: KubeObject,
    options: { fenced?: boolean } = {},
  ): Promise<KubeObject> {
    return (options.fenced === false ? this.#unfenced : this.#objects).create(kind, object);
  }

  replaceObject(kind: ObjectKind, object: KubeObject): Promise<KubeObject> {
    return this.#objects.replace(kind, object);
  }

  deleteObject(
    kind: ObjectKind,
    name: string,
    options: { namespace?: string; uid?: string; resourceVersion?: string } = {},
  ): Promise<KubeObject | undefined> {
    return this.#objects.delete(kind, name, options);
  }

  watchNodes(handlers: NodeWatchHandlers): Promise<Stoppable> {
    return watchNodes(this.#kc, { ...this.#watch, timeoutMs: this.#timeoutMs }, handlers);
  }
}
