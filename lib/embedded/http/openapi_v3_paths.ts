// The paths and operations of the embedded API server's OpenAPI v3 documents, one builder a kind
// of path, as the real server names them (openapi_v3.ts puts them in documents with their schemas).
import type { ResourceType } from "../store/resources.ts";

export type Json = Record<string, unknown>;

export const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
export const OBJECT_META = `${META}.ObjectMeta`;
export const LIST_META = `${META}.ListMeta`;
export const STATUS = `${META}.Status`;
export const DELETE_OPTIONS = `${META}.DeleteOptions`;
export const PATCH = `${META}.Patch`;
export const EVICTION = "io.k8s.api.policy.v1.Eviction";

/** The patch types the embedded server applies: no server-side apply. */
const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
];

export function ref(schema: string): Json {
  return { $ref: `#/components/schemas/${schema}` };
}

/**
 * The Go package of a group in schema names and operation ids: `core`, `apps`, `coordination`;
 * for a custom resource, the group in camel case (`karpenterSh`), as the CRD's document has it.
 */
function packageOf(t: Pick<ResourceType, "group" | "custom">): string {
  if (t.custom) return t.group.split(".").map((p, i) => i === 0 ? p : capitalize(p)).join("");
  return t.group === "" ? "core" : t.group.split(".")[0];
}

/** The schema name of a kind: `io.k8s.api.core.v1.Pod`; `sh.karpenter.v1.NodeClaim` for a CRD's. */
export function schemaName(t: Pick<ResourceType, "group" | "version" | "kind" | "custom">): string {
  if (t.custom) return `${t.group.split(".").reverse().join(".")}.${t.version}.${t.kind}`;
  return `io.k8s.api.${packageOf(t)}.${t.version}.${t.kind}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function queryParam(name: string, type: string, description: string): Json {
  return { name, in: "query", description, schema: { type, uniqueItems: true } };
}

function pathParam(name: string, description: string): Json {
  return {
    name,
    in: "path",
    description,
    required: true,
    schema: { type: "string", uniqueItems: true },
  };
}

const PRETTY = queryParam("pretty", "string", "If 'true', then the output is pretty printed.");
const WRITE_PARAMS = [
  queryParam("dryRun", "string", "When present, modifications are not persisted: All"),
  queryParam("fieldManager", "string", "The name of the actor making these changes."),
  queryParam(
    "fieldValidation",
    "string",
    "How the server handles unknown or duplicate fields: Ignore, Warn or Strict.",
  ),
];
const LIST_PARAMS = [
  queryParam("allowWatchBookmarks", "boolean", "Requests watch events of type BOOKMARK."),
  queryParam("continue", "string", "The continue token of the previous page."),
  queryParam("fieldSelector", "string", "Restricts the objects by their fields."),
  queryParam("labelSelector", "string", "Restricts the objects by their labels."),
  queryParam("limit", "integer", "The maximum number of objects in one page."),
  queryParam("resourceVersion", "string", "Which resource versions may serve the request."),
  queryParam("resourceVersionMatch", "string", "How resourceVersion is applied."),
  queryParam("sendInitialEvents", "boolean", "Whether a watch starts with the current objects."),
  queryParam("timeoutSeconds", "integer", "Timeout for the list or watch call."),
  queryParam("watch", "boolean", "Watch for changes to the described resources."),
];

/** A request body of `schema`, in the media `types` (default any), required unless told. */
function requestBody(
  schema: string,
  options: { types?: string[]; required?: boolean } = {},
): Json {
  const { types = ["*/*"], required = true } = options;
  return {
    ...(required ? { required: true } : {}),
    content: Object.fromEntries(types.map((t) => [t, { schema: ref(schema) }])),
  };
}

function responses(schema: string, codes: string[]): Json {
  const text: Record<string, string> = { "200": "OK", "201": "Created", "202": "Accepted" };
  const out: Json = {};
  for (const code of codes) {
    out[code] = {
      description: text[code],
      content: { "application/json": { schema: ref(schema) } },
    };
  }
  out["401"] = { description: "Unauthorized" };
  return out;
}

/** What the operations of one resource type share: its names, paths and scope parameters. */
interface ResourceNames {
  t: ResourceType;
  /** The schema name of the kind (`io.k8s.api.core.v1.Pod`). */
  kind: string;
  gvk: { group: string; version: string; kind: string };
  tag: string;
  /** `Namespaced` in operation ids of a namespaced type, else empty. */
  scopeName: string;
  /** The namespace path parameter of a namespaced type, else none. */
  scope: Json[];
  /** `/api/v1` or `/apis/{group}/{version}`. */
  base: string;
  collection: string;
  item: string;
}

function resourceNames(t: ResourceType): ResourceNames {
  const base = t.group === "" ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
  const collection = t.namespaced
    ? `${base}/namespaces/{namespace}/${t.resource}`
    : `${base}/${t.resource}`;
  return {
    t,
    kind: schemaName(t),
    gvk: { group: t.group, version: t.version, kind: t.kind },
    tag: `${packageOf(t)}_${t.version}`,
    scopeName: t.namespaced ? "Namespaced" : "",
    scope: t.namespaced
      ? [pathParam("namespace", "object name and auth scope, such as for teams and projects")]
      : [],
    base,
    collection,
    item: `${collection}/{name}`,
  };
}

/** An operationId: `infix` (default the scope) goes before the kind, `suffix` after it. */
function operationId(
  n: ResourceNames,
  verb: string,
  options: { suffix?: string; infix?: string } = {},
): string {
  const { suffix = "", infix = n.scopeName } = options;
  const groupVersion = `${capitalize(packageOf(n.t))}${capitalize(n.t.version)}`;
  return `${verb}${groupVersion}${infix}${n.t.kind}${suffix}`;
}

/** One operation of the type, tagged with its group version and kind. */
function operation(
  n: ResourceNames,
  action: string,
  options: { operationId: string; description: string } & Json,
): Json {
  const { operationId, description, ...extra } = options;
  return {
    tags: [n.tag],
    description,
    operationId,
    ...extra,
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": n.gvk,
  };
}

/** The collection: list or watch, create and (but for namespaces) delete collection. */
function collectionPath(n: ResourceNames): Json {
  const { t, kind } = n;
  return {
    get: operation(n, "list", {
      operationId: operationId(n, "list"),
      description: `list or watch objects of kind ${t.kind}`,
      parameters: LIST_PARAMS,
      responses: responses(`${kind}List`, ["200"]),
    }),
    post: operation(n, "post", {
      operationId: operationId(n, "create"),
      description: `create a ${t.kind}`,
      parameters: WRITE_PARAMS,
      requestBody: requestBody(kind),
      responses: responses(kind, ["200", "201", "202"]),
    }),
    ...(t.resource === "namespaces" ? {} : {
      delete: operation(n, "deletecollection", {
        operationId: operationId(n, "delete", { infix: `Collection${n.scopeName}` }),
        description: `delete collection of ${t.kind}`,
        parameters: [WRITE_PARAMS[0], ...LIST_PARAMS.filter((p) => p.name !== "watch")],
        requestBody: requestBody(DELETE_OPTIONS, { required: false }),
        responses: responses(STATUS, ["200"]),
      }),
    }),
    parameters: [...n.scope, PRETTY],
  };
}

/** GET, PUT and PATCH of the object or of one of its subresources. */
function readWritePath(n: ResourceNames, suffix: string, what: string): Json {
  const { t, kind } = n;
  return {
    get: operation(n, "get", {
      operationId: operationId(n, "read", { suffix }),
      description: `read ${what}`,
      responses: responses(kind, ["200"]),
    }),
    put: operation(n, "put", {
      operationId: operationId(n, "replace", { suffix }),
      description: `replace ${what}`,
      parameters: WRITE_PARAMS,
      requestBody: requestBody(kind),
      responses: responses(kind, ["200", "201"]),
    }),
    patch: operation(n, "patch", {
      operationId: operationId(n, "patch", { suffix }),
      description: `partially update ${what}`,
      parameters: [...WRITE_PARAMS, queryParam("force", "boolean", "Force apply requests.")],
      requestBody: requestBody(PATCH, {
        // Custom resources take no strategic merge patch.
        types: t.custom ? PATCH_TYPES.filter((p) => !p.includes("strategic")) : PATCH_TYPES,
      }),
      responses: responses(kind, ["200", "201"]),
    }),
    parameters: [pathParam("name", `name of the ${t.kind}`), ...n.scope, PRETTY],
  };
}

/** The object: read, replace, patch and delete. */
function itemPath(n: ResourceNames): Json {
  const { t } = n;
  return {
    ...readWritePath(n, "", `the specified ${t.kind}`),
    delete: operation(n, "delete", {
      operationId: operationId(n, "delete"),
      description: `delete a ${t.kind}`,
      parameters: [WRITE_PARAMS[0]],
      requestBody: requestBody(DELETE_OPTIONS, { required: false }),
      responses: responses(STATUS, ["200", "202"]),
    }),
  };
}

/** A pod's eviction subresource: create only, of kind policy/v1 Eviction. */
function evictionPath(n: ResourceNames): Json {
  return {
    post: {
      ...operation(n, "post", {
        operationId: operationId(n, "create", { suffix: "Eviction" }),
        description: `create eviction of a ${n.t.kind}`,
        parameters: WRITE_PARAMS,
        requestBody: requestBody(EVICTION),
        responses: responses(EVICTION, ["200", "201", "202"]),
      }),
      "x-kubernetes-group-version-kind": { group: "policy", version: "v1", kind: "Eviction" },
    },
    parameters: [pathParam("name", "name of the Eviction"), ...n.scope, PRETTY],
  };
}

/** A namespaced type's list or watch across all namespaces. */
function allNamespacesPath(n: ResourceNames): Json {
  return {
    get: operation(n, "list", {
      operationId: operationId(n, "list", { suffix: "ForAllNamespaces", infix: "" }),
      description: `list or watch objects of kind ${n.t.kind}`,
      responses: responses(`${n.kind}List`, ["200"]),
    }),
    parameters: [...LIST_PARAMS, PRETTY],
  };
}

/** The paths of one resource type (collection, object, subresources), as the real server names them. */
export function resourcePaths(t: ResourceType): Record<string, Json> {
  const n = resourceNames(t);
  const paths: Record<string, Json> = {};
  paths[n.collection] = collectionPath(n);
  paths[n.item] = itemPath(n);
  for (const sub of t.subresources) {
    if (sub === "status") {
      paths[`${n.item}/status`] = readWritePath(n, "Status", `status of the specified ${t.kind}`);
    } else if (sub === "eviction") {
      paths[`${n.item}/eviction`] = evictionPath(n);
    }
  }
  if (t.namespaced) paths[`${n.base}/${t.resource}`] = allNamespacesPath(n);
  return paths;
}
