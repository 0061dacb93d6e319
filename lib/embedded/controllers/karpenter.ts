// The embedded cluster's Karpenter: deleting a NodeClaim terminates its Node (the Node, its Lease
// and the pods bound to it go, as the node lifecycle and pod garbage collection would remove
// them), and a while later a fresh NodeClaim and a fresh Ready Node of the same NodePool come
// up, with the DaemonSets' pods on it. See docs/embedded-api-server.md, "NodeClaims".

import { type KubeObject, meta, pathValue } from "../store/objects.ts";
import {
  cloudOfProviderID,
  nodeClaimFor,
  nodeClaimName,
  NODEPOOL_LABEL,
  TERMINATION_FINALIZER,
} from "../seed/karpenter_claims.ts";
import { findResource } from "../store/resources.ts";
import {
  createStored,
  freshNode,
  joinNode,
  type NodeManagerContext,
  removeNode,
} from "./node_lifecycle.ts";
import { rfc3339 } from "../store/times.ts";

const CLAIM_TYPE = findResource("karpenter.sh", "v1", "nodeclaims")!;
const CLAIMS = CLAIM_TYPE.storage;

/** Options of the embedded Karpenter (given to the API server). */
export interface KarpenterOptions {
  /** How long a deleted NodeClaim stays Terminating before it and its Node go (default 500 ms). */
  nodeClaimTerminationMs?: number;
}

/** How fast the embedded Karpenter acts. */
export interface KarpenterState {
  readonly terminationMs: number;
}

/** What the embedded Karpenter reads and changes of the API server. */
export interface KarpenterContext extends NodeManagerContext {
  /** How fast the embedded Karpenter acts. */
  readonly karpenter: KarpenterState;
}

/** The embedded Karpenter's starting state. */
export function karpenterState(options: KarpenterOptions = {}): KarpenterState {
  return { terminationMs: options.nodeClaimTerminationMs ?? 500 };
}

/**
 * Deletes a NodeClaim as Karpenter's termination finalizer has it: the claim shows a
 * deletionTimestamp (and is returned so) until its Node is gone, then goes itself. A claim
 * without the finalizer goes at once, its Node with it. Either way a replacement follows.
 */
export function deleteNodeClaim(ctx: KarpenterContext, claim: KubeObject): KubeObject {
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
function terminate(ctx: KarpenterContext, claim: KubeObject): void {
  const nodeName = String(pathValue(claim, "status.nodeName") ?? "");
  const node = nodeName ? removeNode(ctx, nodeName) : undefined;
  const pool = meta(claim).labels?.[NODEPOOL_LABEL];
  if (!pool) return;
  ctx.timers.schedule(() => replace(ctx, { claim, node, pool }), ctx.replacements.replaceDelayMs);
}

/** Brings up the replacement of `claim`: a new NodeClaim and a new Ready Node in `pool`. */
function replace(
  ctx: KarpenterContext,
  options: { claim: KubeObject; node?: KubeObject; pool: string },
): void {
  const { claim, node, pool } = options;
  const cloud = cloudOfProviderID(String(pathValue(claim, "status.providerID") ?? ""));
  const fresh = freshNode(ctx, { cloud, pool, nodeManager: "karpenter", predecessor: node });
  const name = fresh.node.metadata.name;
  fresh.node.metadata.labels[NODEPOOL_LABEL] = pool;
  const claimName = nodeClaimName(
    pool,
    `nodeclaim/${name}/${ctx.random()}`,
    (n) => ctx.store.get(CLAIMS, n) !== undefined,
  );
  const at = fresh.node.metadata.creationTimestamp;
  createStored(ctx, CLAIM_TYPE, nodeClaimFor(fresh.node, { name: claimName, at }));
  joinNode(ctx, fresh);
}
