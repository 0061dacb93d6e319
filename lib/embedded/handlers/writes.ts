// Writes: create, update (of the object or its status) and patch, with the server-set metadata,
// preconditions and generations of the real server.

import { type Call, getObject, type Route, type ServerContext } from "./context.ts";
import {
  alreadyExists,
  ApiError,
  badRequest,
  conflict,
  notFound,
  PatchError,
} from "../store/errors.ts";
import { clone, jsonEqual } from "../store/json.ts";
import { type KubeObject, meta } from "../store/objects.ts";
import { applyPatch, patchTypeOf } from "../patch/patch.ts";
import { GENERATION_GROUPS, prepareNew, storageApiVersion } from "../store/prepare.ts";
import { groupVersion, type ResourceType } from "../store/resources.ts";
import { objectKey } from "../store/store.ts";
import { normalizeTimes } from "../store/times.ts";
import { validateObject } from "../store/validation.ts";
import { parseBody } from "./wire.ts";

/** Whether two objects are the same but for their resourceVersion, whatever the key order. */
function sameButVersion(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, resourceVersion: "" } });
  return jsonEqual(strip(a), strip(b));
}

/** Creates the object of a POST; returns it as stored (or as it would be, for a dry run). */
export function createObject(ctx: ServerContext, call: Call, obj: KubeObject): KubeObject {
  const { route, dryRun } = call;
  const { type } = route;
  checkTypeMeta(type, obj);
  if (meta(obj).resourceVersion) {
    throw new ApiError(
      "Internal error occurred: resourceVersion should not be set on objects to be created",
      { code: 500, reason: "InternalError" },
    );
  }
  const namespace = checkNamespace(ctx, route, obj);
  const fresh = prepareNew(ctx, withDefaults(type, type.toStorage(obj)), {
    type,
    namespace,
    identity: "server",
  });
  const key = objectKey(meta(fresh).namespace, meta(fresh).name!);
  if (ctx.store.get(type.storage, key)) {
    throw alreadyExists({ resource: type.resource, group: type.group, name: meta(fresh).name! });
  }
  return dryRun ? fresh : ctx.store.put(type.storage, key, fresh);
}

/** The defaults the real server's strategies give new objects that clients rely on. */
function withDefaults(type: ResourceType, obj: KubeObject): KubeObject {
  if (type.group !== "") return obj;
  if (type.resource === "pods") {
    const status = (obj.status ?? {}) as Record<string, unknown>;
    return { ...obj, status: { ...status, phase: status.phase ?? "Pending" } };
  }
  if (type.resource === "namespaces") {
    const name = meta(obj).name ?? "";
    return {
      ...obj,
      metadata: {
        ...meta(obj),
        labels: { ...meta(obj).labels, "kubernetes.io/metadata.name": name },
      },
      spec: obj.spec ?? { finalizers: ["kubernetes"] },
      status: { phase: "Active" },
    };
  }
  return obj;
}

/** The namespace an object goes to: from the URL, which the body may repeat but not contradict. */
export function checkNamespace(ctx: ServerContext, route: Route, obj: KubeObject): string {
  const { type } = route;
  if (!type.namespaced) return "";
  const given = meta(obj).namespace ?? "";
  if (given !== "" && given !== route.namespace) {
    throw badRequest(
      "the namespace of the provided object does not match the namespace sent on the request",
    );
  }
  if (route.namespace === "") {
    throw new ApiError("the server could not find the requested resource", {
      code: 404,
      reason: "NotFound",
    });
  }
  if (!ctx.store.get("/namespaces", route.namespace)) {
    throw notFound({ resource: "namespaces", group: "", name: route.namespace });
  }
  return route.namespace;
}

/** Replaces the object of a PUT (or its status). */
export function updateObject(ctx: ServerContext, call: Call, obj: KubeObject): KubeObject {
  const { route } = call;
  const { type, name } = route;
  checkTypeMeta(type, obj);
  if ((meta(obj).name ?? "") !== name) {
    throw badRequest(
      `the name of the object (${
        meta(obj).name ?? ""
      }) does not match the name on the URL (${name})`,
    );
  }
  const namespace = checkNamespace(ctx, route, obj);
  const current = getObject(ctx, route);
  return writeObject(ctx, call, { current, next: type.toStorage(obj), namespace });
}

/** What {@link writeObject} stores: `next` in place of `current`, in `namespace`. */
export interface Write {
  /** The object as stored now. */
  current: KubeObject;
  /** The object as the request has it, in its storage version. */
  next: KubeObject;
  /** The namespace the object is in ("" for a cluster-scoped one). */
  namespace: string;
}

/** Stores `next` in place of `current`, as an update of the object or of its status does. */
export function writeObject(ctx: ServerContext, call: Call, write: Write): KubeObject {
  const { current, next, namespace } = write;
  const { route, dryRun } = call;
  const { type, name, subresource } = route;
  const wanted = meta(next).resourceVersion;
  if (wanted !== undefined && wanted !== "" && wanted !== meta(current).resourceVersion) {
    throw conflict({ resource: type.resource, group: type.group, name });
  }
  if (meta(next).uid !== undefined && meta(next).uid !== meta(current).uid) {
    throw conflict({
      resource: type.resource,
      group: type.group,
      name,
      why: `Precondition failed: UID in precondition: ${meta(next).uid}, UID in object meta: ${
        meta(current).uid
      }`,
    });
  }
  let result: KubeObject;
  if (subresource === "status") {
    result = { ...current, status: next.status };
  } else {
    result = { ...next, apiVersion: storageApiVersion(type), kind: type.kind };
    if (type.subresources.includes("status")) {
      if (current.status === undefined) delete result.status;
      else result.status = current.status;
    }
    result.metadata = {
      ...meta(next),
      name,
      uid: meta(current).uid,
      creationTimestamp: meta(current).creationTimestamp,
      ...(type.namespaced ? { namespace } : {}),
    };
    if (!type.namespaced) delete result.metadata.namespace;
    // Server-managed: a client cannot set or clear them by writing the object.
    delete result.metadata.deletionTimestamp;
    delete result.metadata.generation;
    if (meta(current).deletionTimestamp) {
      result.metadata.deletionTimestamp = meta(current).deletionTimestamp;
    }
    if (meta(current).generation !== undefined) {
      result.metadata.generation = meta(current).generation;
    }
    if (GENERATION_GROUPS.has(type.group)) {
      const gen = Number(meta(current).generation ?? 1);
      const changed = !jsonEqual(result.spec, current.spec);
      result.metadata.generation = changed ? gen + 1 : gen;
    }
    validateObject(type, result);
  }
  result = normalizeTimes(result) as KubeObject;
  result.metadata = { ...meta(result), resourceVersion: meta(current).resourceVersion };
  if (sameButVersion(result, current)) return current;
  if (dryRun) return result;
  return ctx.store.put(type.storage, objectKey(namespace || undefined, name), result);
}

/** Applies a PATCH in the format its Content-Type names. */
export function patchObject(ctx: ServerContext, call: Call): KubeObject {
  const { route, req, body } = call;
  const { type } = route;
  const patchType = patchTypeOf(req.headers.get("content-type"));
  // Custom resources have no Go struct tags to merge by, so no strategic merge patch.
  if (!patchType || (type.custom && patchType === "strategic")) {
    throw new ApiError(
      `the body of the request was in an unknown format - accepted media types include: ` +
        `application/json-patch+json, application/merge-patch+json, ` +
        (type.custom ? `application/apply-patch+yaml` : `application/strategic-merge-patch+json`),
      { code: 415, reason: "UnsupportedMediaType" },
    );
  }
  const current = getObject(ctx, route);
  const patch = parseBody(body, { allowArray: true });
  let patched: KubeObject;
  try {
    const view = type.fromStorage(clone(current));
    patched = applyPatch(view, patch, { type: patchType, kind: type.kind }) as KubeObject;
  } catch (err) {
    if (err instanceof PatchError) {
      throw new ApiError(err.message, {
        code: err.code,
        reason: err.code === 422 ? "Invalid" : "BadRequest",
      });
    }
    throw err;
  }
  if ((meta(patched).name ?? "") !== route.name) {
    throw badRequest(`metadata.name: Invalid value: "${meta(patched).name}": field is immutable`);
  }
  const namespace = route.type.namespaced ? route.namespace : "";
  return writeObject(ctx, call, { current, next: type.toStorage(patched), namespace });
}

/** Refuses an object whose apiVersion or kind is not those of `type` (either may be left out). */
function checkTypeMeta(type: ResourceType, obj: KubeObject): void {
  const expected = groupVersion(type);
  if (obj.apiVersion !== undefined && obj.apiVersion !== expected) {
    throw badRequest(
      `the API version in the data (${obj.apiVersion}) does not match the expected API version (${expected})`,
    );
  }
  if (obj.kind !== undefined && obj.kind !== type.kind) {
    throw badRequest(
      `the kind in the data (${obj.kind}) does not match the expected kind (${type.kind})`,
    );
  }
}
