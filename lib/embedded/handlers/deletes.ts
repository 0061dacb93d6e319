// Deletes: of one object (with preconditions; pods through pods.ts; NodeClaims, Machines and the
// Nodes they manage through their controllers), of a collection, and of a namespace with
// everything in it.

import { type Call, getObject, type ServerContext } from "./context.ts";
import { ApiError, conflict, methodNotAllowed } from "../store/errors.ts";
import { type KubeObject, meta, pathValue } from "../store/objects.ts";
import { findResource, groupVersion, RESOURCES, type ResourceType } from "../store/resources.ts";
import { objectKey, type Store } from "../store/store.ts";
import { matcherFor } from "./list.ts";
import { deletePod } from "./pods.ts";
import { deleteNodeClaim } from "../controllers/karpenter.ts";
import { TERMINATION_FINALIZER } from "../seed/karpenter_claims.ts";
import { deleteMachine, machineOfNode } from "../controllers/cluster_api.ts";
import { removeNode } from "../controllers/node_lifecycle.ts";
import { rfc3339 } from "../store/times.ts";
import { json, parseBody } from "./wire.ts";

const CLAIMS = findResource("karpenter.sh", "v1", "nodeclaims")!.storage;
const NODES = findResource("", "v1", "nodes")!.storage;

/** Namespaces the real server refuses to delete. */
const PROTECTED_NAMESPACES = new Set(["default", "kube-system", "kube-public"]);

/**
 * Deletes the object the call's route names, honouring the preconditions of the DeleteOptions in
 * its body.
 */
export function deleteObject(ctx: ServerContext, call: Call): KubeObject {
  const { route, body, dryRun } = call;
  const { type, name, namespace } = route;
  const current = getObject(ctx, route);
  const options = body.trim() === "" ? {} : parseBody(body);
  const pre = (options.preconditions ?? {}) as { uid?: string; resourceVersion?: string };
  if (pre.uid && pre.uid !== meta(current).uid) {
    throw conflict({
      resource: type.resource,
      group: type.group,
      name,
      why: `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${
        meta(current).uid
      }`,
    });
  }
  if (pre.resourceVersion && pre.resourceVersion !== meta(current).resourceVersion) {
    throw conflict({
      resource: type.resource,
      group: type.group,
      name,
      why: `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ` +
        `ResourceVersion in object meta: ${meta(current).resourceVersion}`,
    });
  }
  if (type.resource === "namespaces" && type.group === "" && PROTECTED_NAMESPACES.has(name)) {
    throw new ApiError(`namespaces "${name}" is forbidden: this namespace may not be deleted`, {
      code: 403,
      reason: "Forbidden",
      details: { name, kind: "namespaces" },
    });
  }
  if (dryRun) return current;
  if (type.resource === "namespaces" && type.group === "") emptyNamespace(ctx.store, name);
  if (type.resource === "pods" && type.group === "") {
    const grace = (options as { gracePeriodSeconds?: number }).gracePeriodSeconds;
    return deletePod(ctx, current, grace);
  }
  return controlledDelete(ctx, type, current) ??
    ctx.store.remove(type.storage, objectKey(namespace || undefined, name))!;
}

/**
 * Deletes an object a controller of the embedded cluster acts on (a NodeClaim, a Machine, a Node
 * one of them manages) as that controller would; undefined for any other object.
 */
function controlledDelete(
  ctx: ServerContext,
  type: ResourceType,
  obj: KubeObject,
): KubeObject | undefined {
  if (type.group === "karpenter.sh" && type.resource === "nodeclaims") {
    return deleteNodeClaim(ctx, obj);
  }
  if (type.group === "cluster.x-k8s.io" && type.resource === "machines") {
    return deleteMachine(ctx, obj);
  }
  if (type.group === "" && type.resource === "nodes") return deleteManagedNode(ctx, obj);
  return undefined;
}

/**
 * Deletes a Node Karpenter or Cluster API manages, as they would; undefined for another Node.
 * Karpenter's termination finalizer holds its Node while its NodeClaim is deleted (the usual
 * replacement follows). A Cluster API Node goes at once, and its Machine is deleted as
 * MachineHealthCheck would, when the Machine's Node is gone: the MachineSet replaces it.
 */
function deleteManagedNode(ctx: ServerContext, node: KubeObject): KubeObject | undefined {
  const name = meta(node).name!;
  const claim = ctx.store.list(CLAIMS).find((c) => pathValue(c, "status.nodeName") === name);
  if (claim) {
    if (meta(node).deletionTimestamp) return node;
    const finalizers = (meta(node).finalizers ?? []) as string[];
    // Karpenter puts its finalizer on every Node it launched; the seed leaves it out.
    const terminating = ctx.store.put(NODES, name, {
      ...node,
      metadata: {
        ...meta(node),
        deletionTimestamp: rfc3339(ctx.now()),
        deletionGracePeriodSeconds: 0,
        finalizers: [
          ...finalizers.filter((f) => f !== TERMINATION_FINALIZER),
          TERMINATION_FINALIZER,
        ],
      },
    });
    deleteNodeClaim(ctx, claim);
    // A claim without Karpenter's finalizer took its Node at once.
    return ctx.store.get(NODES, name) ?? terminating;
  }
  const machine = machineOfNode(ctx, node);
  if (!machine) return undefined;
  const gone = removeNode(ctx, name) ?? node;
  deleteMachine(ctx, machine, gone);
  return gone;
}

/** Removes every object of a namespace. */
function emptyNamespace(store: Store, namespace: string): void {
  const storages = new Set(RESOURCES.filter((r) => r.namespaced).map((r) => r.storage));
  for (const storage of storages) {
    for (const obj of store.list(storage, namespace)) {
      store.remove(storage, objectKey(namespace, meta(obj).name!));
    }
  }
}

/** Deletes every object of the collection the call's route names that its selectors match. */
export function deleteCollection(ctx: ServerContext, call: Call): Response {
  const { route, q, dryRun } = call;
  const { type } = route;
  if (type.resource === "namespaces") throw methodNotAllowed("deletecollection", "namespaces");
  const match = matcherFor(route, q);
  const victims = ctx.store.list(type.storage, route.namespace || undefined).filter(match);
  const items = victims.map((obj) =>
    dryRun ? obj : controlledDelete(ctx, type, obj) ??
      ctx.store.remove(type.storage, objectKey(meta(obj).namespace, meta(obj).name!))!
  );
  return json({
    kind: `${type.kind}List`,
    apiVersion: groupVersion(type),
    metadata: { resourceVersion: String(ctx.store.resourceVersion) },
    items: items.map((o) => type.fromStorage(o)),
  });
}
