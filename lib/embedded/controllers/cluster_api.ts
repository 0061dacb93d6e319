// The embedded cluster's Cluster API: deleting a Machine does what CAPI's Machine controller does
// (the Machine shows a deletionTimestamp behind its finalizer while its Node, the Node's pods and
// Lease go, then goes itself), and what its MachineSet controller does (a while later a new
// Machine of the same MachineSet and a fresh Ready Node with the old Node's labels come up). A
// Machine no MachineSet owns is not replaced. See docs/embedded-api-server.md, "Cluster API
// Machines".

import { type KubeObject, meta, pathValue } from "../store/objects.ts";
import {
  CAPI_API_VERSION,
  MACHINE_FINALIZER,
  machineFor,
  machineName,
  type MachineSetRef,
  NODE_ANNOTATIONS,
  nodeAnnotations,
} from "../seed/cluster_api_objects.ts";
import { cloudOfProviderID } from "../seed/karpenter_claims.ts";
import {
  createStored,
  freshNode,
  joinNode,
  type NodeManagerContext,
  removeNode,
} from "./node_lifecycle.ts";
import { findResource } from "../store/resources.ts";
import { objectKey } from "../store/store.ts";
import { rfc3339 } from "../store/times.ts";

const MACHINE_TYPE = findResource("cluster.x-k8s.io", "v1beta1", "machines")!;
const MACHINES = MACHINE_TYPE.storage;
const MACHINE_SETS = findResource("cluster.x-k8s.io", "v1beta1", "machinesets")!.storage;

/** The label nodes/clouds.ts gives a Node's pool: a replacement is of the same pool. */
const POOL_LABEL = "acme.io/workload-class";

/** Options of the embedded Cluster API (given to the API server). */
export interface ClusterApiOptions {
  /** How long a deleted Machine stays Deleting before it and its Node go (default 500 ms). */
  machineDeletionMs?: number;
}

/** How fast the embedded Cluster API acts. */
export interface ClusterApiState {
  readonly deletionMs: number;
}

/** What the embedded Cluster API reads and changes of the API server. */
export interface ClusterApiContext extends NodeManagerContext {
  /** How fast the embedded Cluster API acts. */
  readonly clusterApi: ClusterApiState;
}

/** The embedded Cluster API's starting state. */
export function clusterApiState(options: ClusterApiOptions = {}): ClusterApiState {
  return { deletionMs: options.machineDeletionMs ?? 500 };
}

/** The Machine of `node`, by the annotations CAPI put on it, if it still exists. */
export function machineOfNode(ctx: ClusterApiContext, node: KubeObject): KubeObject | undefined {
  const annotations = meta(node).annotations ?? {};
  const name = annotations[NODE_ANNOTATIONS.machine];
  const namespace = annotations[NODE_ANNOTATIONS.clusterNamespace];
  if (!name || !namespace) return undefined;
  return ctx.store.get(MACHINES, objectKey(namespace, name));
}

/**
 * Deletes a Machine as CAPI's finalizer has it: the Machine shows a deletionTimestamp and phase
 * Deleting (and is returned so) until its Node is gone, then goes itself. A Machine without the
 * finalizer goes at once, its Node with it. Either way, a MachineSet's Machine is replaced, by
 * a Node labelled as its Node was (`deletedNode`, when that was deleted first).
 */
export function deleteMachine(
  ctx: ClusterApiContext,
  machine: KubeObject,
  deletedNode?: KubeObject,
): KubeObject {
  const key = objectKey(meta(machine).namespace, meta(machine).name!);
  const finalizers = (meta(machine).finalizers ?? []) as string[];
  if (!finalizers.includes(MACHINE_FINALIZER)) {
    const gone = ctx.store.remove(MACHINES, key)!;
    terminate(ctx, machine, deletedNode);
    return gone;
  }
  if (meta(machine).deletionTimestamp) return machine;
  const deleting = ctx.store.put(MACHINES, key, {
    ...machine,
    metadata: {
      ...meta(machine),
      deletionTimestamp: rfc3339(ctx.now()),
      deletionGracePeriodSeconds: 0,
    },
    status: { ...(machine.status as Record<string, unknown>), phase: "Deleting" },
  });
  const uid = meta(machine).uid;
  ctx.timers.schedule(() => {
    const current = ctx.store.get(MACHINES, key);
    if (!current || meta(current).uid !== uid) return;
    terminate(ctx, current, deletedNode);
    ctx.store.remove(MACHINES, key);
  }, ctx.clusterApi.deletionMs);
  return deleting;
}

/** Removes the Machine's Node with its pods and Lease; schedules the replacement, if owned. */
function terminate(ctx: ClusterApiContext, machine: KubeObject, deletedNode?: KubeObject): void {
  const nodeName = String(pathValue(machine, "status.nodeRef.name") ?? "");
  const node = (nodeName ? removeNode(ctx, nodeName) : undefined) ?? deletedNode;
  const owner = (meta(machine).ownerReferences ?? []).find((o) =>
    o.kind === "MachineSet" && o.apiVersion === CAPI_API_VERSION && o.controller === true
  );
  if (!owner) return;
  const namespace = meta(machine).namespace!;
  ctx.timers.schedule(() => {
    const set = ctx.store.get(MACHINE_SETS, objectKey(namespace, String(owner.name)));
    // A MachineSet deleted meanwhile (or another of that name) replaces nothing.
    if (!set || meta(set).uid !== owner.uid) return;
    replace(ctx, { machine, node, set });
  }, ctx.replacements.replaceDelayMs);
}

/**
 * Brings up the replacement of `machine`: a new Machine of MachineSet `set` and a new Ready Node
 * with the labels of the old one (as the MachineSet's template would give it).
 */
function replace(
  ctx: ClusterApiContext,
  options: { machine: KubeObject; node?: KubeObject; set: KubeObject },
): void {
  const { machine, node, set } = options;
  const namespace = meta(set).namespace!;
  const cloud = cloudOfProviderID(String(pathValue(machine, "spec.providerID") ?? ""));
  const pool = meta(node ?? {}).labels?.[POOL_LABEL];
  const fresh = freshNode(ctx, { cloud, pool, nodeManager: "cluster-api", predecessor: node });
  const nodeName = fresh.node.metadata.name;
  if (node) {
    fresh.node.metadata.labels = {
      ...meta(node).labels,
      "kubernetes.io/hostname": nodeName,
    };
  }
  const setRef: MachineSetRef = {
    name: meta(set).name!,
    uid: meta(set).uid!,
    deployment: meta(set).labels?.["cluster.x-k8s.io/deployment-name"] ?? "",
    templateHash: meta(set).labels?.["machine-template-hash"] ?? "",
  };
  const name = machineName(
    setRef.name,
    `machine/${nodeName}/${ctx.random()}`,
    (n) => ctx.store.get(MACHINES, objectKey(namespace, n)) !== undefined,
  );
  Object.assign(fresh.node.metadata.annotations, nodeAnnotations(name, setRef.name, namespace));
  const at = fresh.node.metadata.creationTimestamp;
  const next = machineFor(fresh.node, { name, machineSet: setRef, at, namespace });
  createStored(ctx, MACHINE_TYPE, next);
  joinNode(ctx, fresh);
}
