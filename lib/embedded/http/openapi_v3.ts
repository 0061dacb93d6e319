// The OpenAPI v3 documents of the embedded API server, one a group version: paths, operations and
// component schemas as the real server names them (see openapi.ts for what kubectl reads of them).

import { createHash } from "node:crypto";
import { groupVersion, RESOURCES, type ResourceType } from "../store/resources.ts";

type Json = Record<string, unknown>;

/** One served document, with the hash that names its version. */
export interface Document {
  text: string;
  hash: string;
}

const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
const OBJECT_META = `${META}.ObjectMeta`;
const LIST_META = `${META}.ListMeta`;
const STATUS = `${META}.Status`;
const DELETE_OPTIONS = `${META}.DeleteOptions`;
const PATCH = `${META}.Patch`;
const EVICTION = "io.k8s.api.policy.v1.Eviction";

/** The patch types the embedded server applies: no server-side apply. */
const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
];

function ref(schema: string): Json {
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
function schemaName(t: Pick<ResourceType, "group" | "version" | "kind" | "custom">): string {
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
function resourcePaths(t: ResourceType): Record<string, Json> {
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

/** A schema that names a type without describing its fields (see the top of this file). */
function objectSchema(description: string, properties: Json = {}): Json {
  return { type: "object", description, properties };
}

/** The component schemas that the operations of `types` refer to. */
function componentSchemas(types: ResourceType[]): Json {
  const typeMeta = {
    apiVersion: { type: "string", description: "The versioned schema of this object." },
    kind: { type: "string", description: "The REST resource this object represents." },
  };
  const metadata = (schema: string) => ({ allOf: [ref(schema)], default: {} });
  const out: Json = {
    [OBJECT_META]: objectSchema("Standard object metadata."),
    [LIST_META]: objectSchema("Standard list metadata."),
    [STATUS]: objectSchema("A return value for calls that return no other object.", typeMeta),
    [DELETE_OPTIONS]: objectSchema("Options of a deletion.", typeMeta),
    [PATCH]: objectSchema("The body of a patch, in the format its content type names."),
  };
  for (const t of types) {
    const name = schemaName(t);
    out[name] = objectSchema(`${t.kind} of ${groupVersion(t)}.`, {
      ...typeMeta,
      metadata: metadata(OBJECT_META),
    });
    out[`${name}List`] = {
      ...objectSchema(`A list of ${t.kind} objects.`, {
        ...typeMeta,
        items: { type: "array", items: { allOf: [ref(name)], default: {} } },
        metadata: metadata(LIST_META),
      }),
      required: ["items"],
    };
    if (t.subresources.includes("eviction")) {
      out[EVICTION] = objectSchema("Evicts a pod from its node.", {
        ...typeMeta,
        metadata: metadata(OBJECT_META),
        deleteOptions: { allOf: [ref(DELETE_OPTIONS)] },
      });
    }
  }
  return out;
}

/** The hash that names a version of a document, as the real server computes it. */
export function hashOf(bytes: string | Uint8Array): string {
  return createHash("sha512").update(bytes).digest("hex").toUpperCase();
}

let v3Documents: Map<string, Document> | undefined;

/** The OpenAPI v3 document of each group version, by its path under /openapi/v3; built once. */
export function groupVersionDocuments(): Map<string, Document> {
  if (v3Documents) return v3Documents;
  const byPath = new Map<string, ResourceType[]>();
  for (const t of RESOURCES) {
    const path = t.group === "" ? `api/${t.version}` : `apis/${t.group}/${t.version}`;
    byPath.set(path, [...(byPath.get(path) ?? []), t]);
  }
  v3Documents = new Map();
  for (const [path, types] of byPath) {
    const paths: Record<string, Json> = {};
    for (const t of types) Object.assign(paths, resourcePaths(t));
    const text = JSON.stringify({
      openapi: "3.0.0",
      info: { title: "Kubernetes", version: "unversioned" },
      paths,
      components: { schemas: componentSchemas(types) },
    });
    v3Documents.set(path, { text, hash: hashOf(text) });
  }
  return v3Documents;
}
