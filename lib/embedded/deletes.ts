// Deletes: of one object (with preconditions; pods through pods.ts), of a collection, and of a
// namespace with everything in it.

import { type Call, getObject, type ServerContext } from "./context.ts";
import { ApiError, conflict, methodNotAllowed } from "./errors.ts";
import { type KubeObject, meta } from "./objects.ts";
import { groupVersion, RESOURCES } from "./resources.ts";
import { objectKey, type Store } from "./store.ts";
import { matcherFor } from "./list.ts";
import { deletePod } from "./pods.ts";
import { deleteNodeClaim } from "./karpenter.ts";
import { json, parseBody } from "./wire.ts";

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
  if (type.resource === "nodeclaims" && type.group === "karpenter.sh") {
    return deleteNodeClaim(ctx, current);
  }
  return ctx.store.remove(type.storage, objectKey(namespace || undefined, name))!;
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
  const claims = type.resource === "nodeclaims" && type.group === "karpenter.sh";
  const items = victims.map((obj) =>
    dryRun
      ? obj
      : claims
      ? deleteNodeClaim(ctx, obj)
      : ctx.store.remove(type.storage, objectKey(meta(obj).namespace, meta(obj).name!))!
  );
  return json({
    kind: `${type.kind}List`,
    apiVersion: groupVersion(type),
    metadata: { resourceVersion: String(ctx.store.resourceVersion) },
    items: items.map((o) => type.fromStorage(o)),
  });
}
