// The reads a remediation makes besides Nodes and Leases: a node's pods and one pod (a drain), a
// DaemonSet (is a pod's owner one), an Event (to count a repeat), node-heal's namespace (paused?).
// Plain JSON over the same bounded, timed transport as every other call, each answer bounded in
// bytes (raw.ts), a node's pods read in pages (pages.ts).
import type * as k8s from "@kubernetes/client-node";
import type { Pod } from "../../base/pod.ts";
import type { EventVersion } from "./types.ts";
import { toEventVersion, toPod } from "./convert.ts";
import { type ObjectCallsDeps, objectPath } from "./objects.ts";
import { eachPage, MAX_PAGE_BYTES, type Page } from "./pages.ts";

/** Pods per page of a node's pod list (a node runs 110 at most by default: one page). */
const POD_PAGE = 250;

const POD = { group: "", version: "v1", plural: "pods" };
const EVENT = { group: "", version: "v1", plural: "events" };
const NAMESPACE = { group: "", version: "v1", plural: "namespaces" };
const DAEMON_SET = { group: "apps", version: "v1", plural: "daemonsets" };

/** The KubeClient's reads of pods, DaemonSets, Events and namespaces. */
export class ReadCalls {
  #send: ObjectCallsDeps["send"];

  constructor(send: ObjectCallsDeps["send"]) {
    this.#send = send;
  }

  async readEvent(namespace: string, name: string): Promise<EventVersion | undefined> {
    const event = await this.#send<k8s.CoreV1Event, undefined>(
      `read event "${name}"`,
      { method: "GET", path: objectPath(EVENT, namespace, name) },
      { 404: undefined },
    );
    return event && toEventVersion(event);
  }

  async listPodsOnNode(node: string): Promise<Pod[]> {
    const pods: Pod[] = [];
    const selector = encodeURIComponent(`spec.nodeName=${node}`);
    await eachPage<k8s.V1Pod>(
      (limit, token) =>
        this.#send(`list the pods of node "${node}"`, {
          method: "GET",
          path: `${objectPath(POD)}?fieldSelector=${selector}&limit=${limit}${
            token ? `&continue=${encodeURIComponent(token)}` : ""
          }`,
          maxBytes: MAX_PAGE_BYTES,
        }) as Promise<Page<k8s.V1Pod>>,
      { limit: POD_PAGE, each: (items) => items.forEach((p) => pods.push(toPod(p))) },
    );
    return pods;
  }

  async getPod(namespace: string, name: string): Promise<Pod | undefined> {
    const pod = await this.#send<k8s.V1Pod, undefined>(
      `read pod "${namespace}/${name}"`,
      { method: "GET", path: objectPath(POD, namespace, name) },
      { 404: undefined },
    );
    return pod && toPod(pod);
  }

  async daemonSetExists(namespace: string, name: string): Promise<boolean> {
    const found = await this.#send<unknown, false>(
      `read daemonset "${namespace}/${name}"`,
      { method: "GET", path: objectPath(DAEMON_SET, namespace, name) },
      { 404: false },
    );
    return found !== false;
  }

  async namespacePaused(name: string): Promise<boolean> {
    const ns = await this.#send<k8s.V1Namespace, undefined>(
      `read namespace "${name}"`,
      { method: "GET", path: objectPath(NAMESPACE, undefined, name) },
      { 404: undefined },
    );
    return ns?.metadata?.annotations?.["node-heal.io/paused"] === "true";
  }
}
