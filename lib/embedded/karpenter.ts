// The embedded cluster's Karpenter: deleting a NodeClaim terminates its Node (the Node, its Lease
// and the pods bound to it go, as the node lifecycle and pod garbage collection would remove
// them), and a while later a fresh NodeClaim and a fresh Ready Node of the same NodePool come
// up, with the DaemonSets' pods on it. See docs/embedded-api-server.md, "NodeClaims".

import type { ServerContext } from "./context.ts";
import { type KubeObject, meta, pathValue } from "./objects.ts";
import {
  cloudOfProviderID,
  nodeClaimFor,
  nodeClaimName,
  NODEPOOL_LABEL,
  TERMINATION_FINALIZER,
} from "./karpenter_claims.ts";
import { findResource, type ResourceType } from "./resources.ts";
import { node as buildNode, nodeLease, pod, suffix } from "./seed_objects.ts";
import { objectKey } from "./store.ts";
import { rfc3339 } from "./times.ts";
import { prepareNew } from "./writes.ts";

const CLAIM_TYPE = findResource("karpenter.sh", "v1", "nodeclaims")!;
const NODE_TYPE = findResource("", "v1", "nodes")!;
const POD_TYPE = findResource("", "v1", "pods")!;
const LEASE_TYPE = findResource("coordination.k8s.io", "v1", "leases")!;
const CLAIMS = CLAIM_TYPE.storage;
const NODES = NODE_TYPE.storage;
const PODS = POD_TYPE.storage;
const LEASES = LEASE_TYPE.storage;

/** Options of the embedded Karpenter (given to the API server). */
export interface KarpenterOptions {
  /** How long a deleted NodeClaim stays Terminating before it and its Node go (default 500 ms). */
  nodeClaimTerminationMs?: number;
  /** How long after a NodeClaim is gone its replacement comes up, Ready (default 3000 ms). */
  replaceDelayMs?: number;
}

/** What the embedded Karpenter keeps between replacements. */
export interface KarpenterState {
  readonly terminationMs: number;
  readonly replaceDelayMs: number;
  /** Replacement Nodes made so far; the next is `heal-worker-r<replaced + 1>`. */
  replaced: number;
  /** The lowest node index (address and pod CIDR) not yet given to a replacement. */
  nextIndex: number;
}

/** The embedded Karpenter's starting state. */
export function karpenterState(options: KarpenterOptions = {}): KarpenterState {
  return {
    terminationMs: options.nodeClaimTerminationMs ?? 500,
    replaceDelayMs: options.replaceDelayMs ?? 3000,
    replaced: 0,
    nextIndex: 0,
  };
}

/**
 * Deletes a NodeClaim as Karpenter's termination finalizer has it: the claim shows a
 * deletionTimestamp (and is returned so) until its Node is gone, then goes itself. A claim
 * without the finalizer goes at once, its Node with it. Either way a replacement follows.
 */
export function deleteNodeClaim(ctx: ServerContext, claim: KubeObject): KubeObject {
  const name = meta(claim).name!;
  const finalizers = (meta(claim).finalizers ?? []) as string[];
  if (!finalizers.includes(TERMINATION_FINALIZER)) {
    const gone = ctx.store.remove(CLAIMS, name)!;
    terminate(ctx, claim);
    return gone;
  }
  if (meta(claim).deletionTimestamp) return claim;
  const terminating = ctx.store.put(CLAIMS, name, {
    ...claim,
    metadata: {
      ...meta(claim),
      deletionTimestamp: rfc3339(ctx.now()),
      deletionGracePeriodSeconds: 0,
    },
  });
  const uid = meta(claim).uid;
  ctx.timers.schedule(() => {
    const current = ctx.store.get(CLAIMS, name);
    if (!current || meta(current).uid !== uid) return;
    terminate(ctx, current);
    ctx.store.remove(CLAIMS, name);
  }, ctx.karpenter.terminationMs);
  return terminating;
}

/** Removes the claim's Node with its pods and Lease, then schedules the replacement. */
function terminate(ctx: ServerContext, claim: KubeObject): void {
  const nodeName = String(pathValue(claim, "status.nodeName") ?? "");
  const node = nodeName ? ctx.store.get(NODES, nodeName) : undefined;
  if (nodeName) {
    for (const p of ctx.store.list(PODS)) {
      if (pathValue(p, "spec.nodeName") === nodeName) {
        ctx.store.remove(PODS, objectKey(meta(p).namespace, meta(p).name!));
      }
    }
    // Its address is not handed out again (freshIndex only sees the Nodes still there).
    const index = indexOfAddress(internalIP(node));
    ctx.karpenter.nextIndex = Math.max(ctx.karpenter.nextIndex, index + 1);
    ctx.store.remove(LEASES, objectKey("kube-node-lease", nodeName));
    ctx.store.remove(NODES, nodeName);
  }
  const pool = meta(claim).labels?.[NODEPOOL_LABEL];
  if (!pool) return;
  ctx.timers.schedule(() => replace(ctx, { claim, node, pool }), ctx.karpenter.replaceDelayMs);
}

/** The node index of an InternalIP (172.18.0.2 is 0), as seed_objects.ts `nodeAddress` gives them. */
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
function freshIndex(ctx: ServerContext): number {
  let next = ctx.karpenter.nextIndex;
  for (const n of ctx.store.list(NODES)) {
    next = Math.max(next, indexOfAddress(internalIP(n)) + 1);
  }
  ctx.karpenter.nextIndex = next + 1;
  return next;
}

/** Stores a new object of `type` (as the seed does: its own uid and times, validated). */
function create(ctx: ServerContext, type: ResourceType, obj: KubeObject): void {
  const namespace = meta(obj).namespace ?? "";
  const stored = prepareNew(ctx, obj, { type, namespace, identity: "keep" });
  ctx.store.put(type.storage, objectKey(namespace || undefined, meta(stored).name!), stored);
}

/** Whether a node with `labels` satisfies a pod's `nodeSelector` (every pair present). */
export function matchesLabels(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

/** Brings up the replacement of `claim`: a new NodeClaim and a new Ready Node in `pool`. */
function replace(
  ctx: ServerContext,
  options: { claim: KubeObject; node?: KubeObject; pool: string },
): void {
  const { claim, node, pool } = options;
  let name: string;
  do {
    name = `heal-worker-r${++ctx.karpenter.replaced}`;
  } while (ctx.store.get(NODES, name));
  const index = freshIndex(ctx);
  const at = rfc3339(ctx.now());
  const kubelet = String(pathValue(node, "status.nodeInfo.kubeletVersion") ?? "v1.29.2");
  const cloud = cloudOfProviderID(String(pathValue(claim, "status.providerID") ?? ""));
  const fresh = buildNode({ name, index, controlPlane: false, kubelet, cloud, pool }, at);
  fresh.metadata.labels[NODEPOOL_LABEL] = pool;
  const claimName = nodeClaimName(
    pool,
    `nodeclaim/${name}/${ctx.random()}`,
    (n) => ctx.store.get(CLAIMS, n) !== undefined,
  );
  create(ctx, CLAIM_TYPE, nodeClaimFor(fresh, { name: claimName, at }));
  create(ctx, NODE_TYPE, fresh);
  create(ctx, LEASE_TYPE, nodeLease(name, at));
  for (const p of daemonPods(ctx, { node: fresh, index, at })) create(ctx, POD_TYPE, p);
}

/** The pods the DaemonSets (whose node selectors match) run on a new node, Running. */
function daemonPods(
  ctx: ServerContext,
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
