// What the embedded cluster's node managers (Karpenter, karpenter.ts; Cluster API,
// cluster_api.ts) share: removing a terminated Node with what the node lifecycle and pod garbage
// collection would remove with it, and bringing up a fresh Ready Node with a new name and address.

import { type KubeObject, meta, pathValue } from "../store/objects.ts";
import type { NodeCloud, NodeManager } from "../nodes/clouds.ts";
import { findResource, type ResourceType } from "../store/resources.ts";
import { node as buildNode, nodeLease, pod, suffix } from "../seed/builders.ts";
import { objectKey, type Store } from "../store/store.ts";
import type { Timers } from "./timers.ts";
import { rfc3339 } from "../store/times.ts";
import { cloudOfProviderID } from "../seed/karpenter_claims.ts";
import { type PrepareContext, prepareNew } from "../store/prepare.ts";

const NODE_TYPE = findResource("", "v1", "nodes")!;
const POD_TYPE = findResource("", "v1", "pods")!;
const LEASE_TYPE = findResource("coordination.k8s.io", "v1", "leases")!;

/** Options of the node managers' replacements (given to the API server). */
export interface ReplacementOptions {
  /** How long after a NodeClaim or Machine is gone its replacement comes up, Ready (default 3000 ms). */
  replaceDelayMs?: number;
}

/**
 * What the node managers keep between replacements. One counter for both, so that names and
 * addresses stay distinct whoever makes the Node.
 */
export interface ReplacementState {
  readonly replaceDelayMs: number;
  /** Replacement Nodes made so far; the next is `heal-worker-r<replaced + 1>`. */
  replaced: number;
  /** The lowest node index (address and pod CIDR) not yet given to a replacement. */
  nextIndex: number;
}

/**
 * What the node managers read and change of the API server: its store, clock and random source,
 * the timers of their delayed steps, and the replacements' state. The server's context is one.
 */
export interface NodeManagerContext extends PrepareContext {
  readonly store: Store;
  /** The controllers' timers, cleared when the server closes. */
  readonly timers: Timers;
  /** What both node managers keep between replacements, and how long these take. */
  readonly replacements: ReplacementState;
}

/** The replacements' starting state. */
export function replacementState(options: ReplacementOptions = {}): ReplacementState {
  return { replaceDelayMs: options.replaceDelayMs ?? 3000, replaced: 0, nextIndex: 0 };
}

/**
 * Removes Node `nodeName` with its pods and Lease; returns the Node as it was, if there was one.
 * Its address is not handed out again.
 */
export function removeNode(ctx: NodeManagerContext, nodeName: string): KubeObject | undefined {
  for (const p of ctx.store.list(POD_TYPE.storage)) {
    if (pathValue(p, "spec.nodeName") === nodeName) {
      ctx.store.remove(POD_TYPE.storage, objectKey(meta(p).namespace, meta(p).name!));
    }
  }
  ctx.store.remove(LEASE_TYPE.storage, objectKey("kube-node-lease", nodeName));
  const node = ctx.store.remove(NODE_TYPE.storage, nodeName);
  // freshIndex only sees the Nodes still there: remember this one's.
  const index = indexOfAddress(internalIP(node));
  ctx.replacements.nextIndex = Math.max(ctx.replacements.nextIndex, index + 1);
  return node;
}

/** The node index of an InternalIP (172.18.0.2 is 0), as seed/builders.ts `nodeAddress` gives them. */
export function indexOfAddress(address: string): number {
  const parts = address.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return -1;
  const n = ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
  return n - ((172 << 24 | 18 << 16) >>> 0) - 2;
}

/** The InternalIP of a node, or "". */
function internalIP(node: KubeObject | undefined): string {
  const addresses = (pathValue(node, "status.addresses") ?? []) as {
    type: string;
    address: string;
  }[];
  return addresses.find((a) => a.type === "InternalIP")?.address ?? "";
}

/** The next node index no Node uses nor used before: its InternalIP and pod CIDR are fresh. */
function freshIndex(ctx: NodeManagerContext): number {
  let next = ctx.replacements.nextIndex;
  for (const n of ctx.store.list(NODE_TYPE.storage)) {
    next = Math.max(next, indexOfAddress(internalIP(n)) + 1);
  }
  ctx.replacements.nextIndex = next + 1;
  return next;
}

/** Stores a new object of `type` (as the seed does: its own uid and times, validated). */
export function createStored(ctx: NodeManagerContext, type: ResourceType, obj: KubeObject): void {
  const namespace = meta(obj).namespace ?? "";
  const stored = prepareNew(ctx, obj, { type, namespace, identity: "keep" });
  ctx.store.put(type.storage, objectKey(namespace || undefined, meta(stored).name!), stored);
}

/** A Node not stored yet, and its node index (for its pods' addresses). */
export interface FreshNode {
  node: ReturnType<typeof buildNode>;
  index: number;
}

/**
 * A fresh Ready worker Node, `heal-worker-r<n>` (or `name`, as a machine rebuilt under the same
 * name registers again), with a fresh address, not stored yet (its manager labels it and makes its
 * NodeClaim or Machine first; then {@link joinNode}). Its kubelet version is that of
 * `predecessor`, when known.
 */
export function freshNode(
  ctx: NodeManagerContext,
  options: {
    cloud: NodeCloud;
    pool?: string;
    nodeManager: NodeManager;
    predecessor?: KubeObject;
    name?: string;
  },
): FreshNode {
  const { cloud, pool, nodeManager, predecessor } = options;
  let name = options.name ?? "";
  while (!name || (!options.name && ctx.store.get(NODE_TYPE.storage, name))) {
    name = `heal-worker-r${++ctx.replacements.replaced}`;
  }
  const index = freshIndex(ctx);
  const kubelet = String(pathValue(predecessor, "status.nodeInfo.kubeletVersion") ?? "v1.29.2");
  const at = rfc3339(ctx.now());
  const node = buildNode(
    { name, index, controlPlane: false, kubelet, cloud, pool, nodeManager },
    at,
  );
  // Registered again under its old name, it is another object all the same.
  if (options.name) node.metadata.uid = crypto.randomUUID();
  return { node, index };
}

/**
 * Joins a fresh Ready Node in the place of `predecessor` (as it was before it went), as a cloud's
 * group brings a machine up: the same cloud, pool and labels, the given `providerID` (else a new
 * one of the cloud), and `name` (else a fresh `heal-worker-r<n>`). No NodeClaim or Machine is
 * made. Returns the Node as stored.
 */
export function joinSuccessor(
  ctx: NodeManagerContext,
  predecessor: KubeObject,
  options: { name?: string; providerID?: string } = {},
): KubeObject {
  const labels = meta(predecessor).labels ?? {};
  const fresh = freshNode(ctx, {
    cloud: cloudOfProviderID(String(pathValue(predecessor, "spec.providerID") ?? "")),
    pool: labels["acme.io/workload-class"],
    nodeManager: labels["karpenter.sh/nodepool"] ? "karpenter" : "cluster-api",
    predecessor,
    name: options.name,
  });
  const name = fresh.node.metadata.name;
  fresh.node.metadata.labels = { ...labels, "kubernetes.io/hostname": name };
  // A machine rebuilt under its name (a GCP recreate) is the same VM in the same zone: its
  // providerID stays, whatever zone a fresh node would have been given.
  const kept = options.name ? pathValue(predecessor, "spec.providerID") : undefined;
  const providerID = options.providerID ?? (typeof kept === "string" ? kept : undefined);
  if (providerID) fresh.node.spec.providerID = providerID;
  joinNode(ctx, fresh);
  return ctx.store.get(NODE_TYPE.storage, name)!;
}

/** Stores a fresh Node with its Lease and the pods the DaemonSets run on it. */
export function joinNode(ctx: NodeManagerContext, fresh: FreshNode): void {
  const { node, index } = fresh;
  const at = meta(node).creationTimestamp!;
  createStored(ctx, NODE_TYPE, node);
  createStored(ctx, LEASE_TYPE, nodeLease(meta(node).name!, at));
  for (const p of daemonPods(ctx, { node, index, at })) createStored(ctx, POD_TYPE, p);
}

/** Whether a node with `labels` satisfies a pod's `nodeSelector` (every pair present). */
export function matchesLabels(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

/** The pods the DaemonSets (whose node selectors match) run on a new node, Running. */
function daemonPods(
  ctx: NodeManagerContext,
  options: { node: KubeObject; index: number; at: string },
): KubeObject[] {
  const { node, index, at } = options;
  const nodeName = meta(node).name!;
  const out: KubeObject[] = [];
  for (const ds of ctx.store.list("apps/daemonsets")) {
    const template = (pathValue(ds, "spec.template") ?? {}) as {
      metadata?: { labels?: Record<string, string> };
      spec?: {
        containers?: { image?: string }[];
        nodeSelector?: Record<string, string>;
        hostNetwork?: boolean;
        priorityClassName?: string;
        tolerations?: Record<string, unknown>[];
      };
    };
    if (!matchesLabels(template.spec?.nodeSelector, meta(node).labels)) continue;
    const { name, namespace, uid } = meta(ds);
    out.push(pod({
      name: `${name}-${suffix(`${namespace}/${name}/${nodeName}`)}`,
      namespace: namespace!,
      nodeName,
      nodeIndex: index,
      podIndex: out.length,
      labels: template.metadata?.labels ?? {},
      image: template.spec?.containers?.[0]?.image ?? "registry.k8s.io/pause:3.9",
      owner: { apiVersion: "apps/v1", kind: "DaemonSet", name: name!, uid: uid! },
      hostNetwork: template.spec?.hostNetwork,
      priorityClassName: template.spec?.priorityClassName,
      tolerations: template.spec?.tolerations,
    }, at));
  }
  return out;
}
