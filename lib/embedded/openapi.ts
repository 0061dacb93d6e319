// The OpenAPI documents of the embedded API server: as much of them as kubectl reads.
//
// kubectl create, apply and replace (with the default --validate=strict) first ask /openapi/v3
// whether the server validates fields itself: in the document of the object's group version they
// look for a PATCH operation carrying the object's x-kubernetes-group-version-kind and a
// `fieldValidation` query parameter. Found, kubectl sends `fieldValidation=Strict` and leaves
// validation to the server. Not found (and always for `kind: List` files), it validates on the
// client with the /openapi/v2 schemas, and fails with "failed to download openapi" without them.
//
// Client-side apply computes its strategic merge patch from the /openapi/v3 component schema
// that carries the kind's x-kubernetes-group-version-kind, if the PATCH operation accepts
// application/strategic-merge-patch+json; then from the /openapi/v2 definitions; then from the
// types compiled into kubectl. A schema used this way must describe every field of the kind, or
// kubectl warns and falls back. So the schemas here deliberately carry no group-version-kind
// and /openapi/v2 has no definitions: kubectl computes the patch from its compiled-in types,
// which for built-in kinds say what the real schemas say. The price is that `kubectl explain`
// finds no schema, and that `kind: List` files are not validated on the client.

import { createHash } from "node:crypto";
import { groupVersion, RESOURCES, type ResourceType } from "./resources.ts";

type Json = Record<string, unknown>;

/** One served document, with the hash that names its version. */
interface Document {
  text: string;
  hash: string;
}

const V3 = "/openapi/v3";
// Clients ask for `...spec.v2@v1.0+protobuf`; the real server answers with this spelling, which,
// unlike the one with "@", is a media type Go's mime package can parse (client-go must parse it).
const PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

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

/** The Go package of a group in schema names and operation ids: `core`, `apps`, `coordination`. */
function packageOf(group: string): string {
  return group === "" ? "core" : group.split(".")[0];
}

/** The schema name of a kind: `io.k8s.api.core.v1.Pod`. */
function schemaName(t: Pick<ResourceType, "group" | "version" | "kind">): string {
  return `io.k8s.api.${packageOf(t.group)}.${t.version}.${t.kind}`;
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

function requestBody(schema: string, types = ["*/*"], required = true): Json {
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

/** The paths of one resource type (collection, object, subresources), as the real server names them. */
function resourcePaths(t: ResourceType): Record<string, Json> {
  const base = t.group === "" ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
  const kind = schemaName(t);
  const gvk = { group: t.group, version: t.version, kind: t.kind };
  const tag = `${packageOf(t.group)}_${t.version}`;
  const scopeName = t.namespaced ? "Namespaced" : "";
  const id = (verb: string, suffix = "", infix = scopeName) =>
    `${verb}${capitalize(packageOf(t.group))}${capitalize(t.version)}${infix}${t.kind}${suffix}`;
  const op = (action: string, operationId: string, description: string, extra: Json) => ({
    tags: [tag],
    description,
    operationId,
    ...extra,
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk,
  });
  const scope = t.namespaced
    ? [pathParam("namespace", "object name and auth scope, such as for teams and projects")]
    : [];
  const collection = t.namespaced
    ? `${base}/namespaces/{namespace}/${t.resource}`
    : `${base}/${t.resource}`;
  const item = `${collection}/{name}`;

  const paths: Record<string, Json> = {};
  paths[collection] = {
    get: op("list", id("list"), `list or watch objects of kind ${t.kind}`, {
      parameters: LIST_PARAMS,
      responses: responses(`${kind}List`, ["200"]),
    }),
    post: op("post", id("create"), `create a ${t.kind}`, {
      parameters: WRITE_PARAMS,
      requestBody: requestBody(kind),
      responses: responses(kind, ["200", "201", "202"]),
    }),
    ...(t.resource === "namespaces" ? {} : {
      delete: op(
        "deletecollection",
        id("delete", "", `Collection${scopeName}`),
        `delete collection of ${t.kind}`,
        {
          parameters: [WRITE_PARAMS[0], ...LIST_PARAMS.filter((p) => p.name !== "watch")],
          requestBody: requestBody(DELETE_OPTIONS, ["*/*"], false),
          responses: responses(STATUS, ["200"]),
        },
      ),
    }),
    parameters: [...scope, PRETTY],
  };

  /** GET, PUT and PATCH of the object or of one of its subresources. */
  const readWrite = (suffix: string, what: string): Json => ({
    get: op("get", id("read", suffix), `read ${what}`, { responses: responses(kind, ["200"]) }),
    put: op("put", id("replace", suffix), `replace ${what}`, {
      parameters: WRITE_PARAMS,
      requestBody: requestBody(kind),
      responses: responses(kind, ["200", "201"]),
    }),
    patch: op("patch", id("patch", suffix), `partially update ${what}`, {
      parameters: [...WRITE_PARAMS, queryParam("force", "boolean", "Force apply requests.")],
      requestBody: requestBody(PATCH, PATCH_TYPES),
      responses: responses(kind, ["200", "201"]),
    }),
    parameters: [pathParam("name", `name of the ${t.kind}`), ...scope, PRETTY],
  });
  paths[item] = {
    ...readWrite("", `the specified ${t.kind}`),
    delete: op("delete", id("delete"), `delete a ${t.kind}`, {
      parameters: [WRITE_PARAMS[0]],
      requestBody: requestBody(DELETE_OPTIONS, ["*/*"], false),
      responses: responses(STATUS, ["200", "202"]),
    }),
  };
  for (const sub of t.subresources) {
    if (sub === "status") {
      paths[`${item}/status`] = readWrite("Status", `status of the specified ${t.kind}`);
    } else if (sub === "eviction") {
      paths[`${item}/eviction`] = {
        post: {
          ...op("post", id("create", "Eviction"), `create eviction of a ${t.kind}`, {
            parameters: WRITE_PARAMS,
            requestBody: requestBody(EVICTION),
            responses: responses(EVICTION, ["200", "201", "202"]),
          }),
          "x-kubernetes-group-version-kind": { group: "policy", version: "v1", kind: "Eviction" },
        },
        parameters: [pathParam("name", "name of the Eviction"), ...scope, PRETTY],
      };
    }
  }
  if (t.namespaced) {
    paths[`${base}/${t.resource}`] = {
      get: op(
        "list",
        id("list", "ForAllNamespaces", ""),
        `list or watch objects of kind ${t.kind}`,
        {
          responses: responses(`${kind}List`, ["200"]),
        },
      ),
      parameters: [...LIST_PARAMS, PRETTY],
    };
  }
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

function hashOf(bytes: string | Uint8Array): string {
  return createHash("sha512").update(bytes).digest("hex").toUpperCase();
}

let v3Documents: Map<string, Document> | undefined;

/** The OpenAPI v3 document of each group version, by its path under /openapi/v3; built once. */
function groupVersionDocuments(): Map<string, Document> {
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

/** Protobuf length-delimited field `field` holding `bytes`. */
function protoField(field: number, bytes: Uint8Array): Uint8Array {
  if (bytes.length > 127) throw new Error(`Field ${field} is too long for a one-byte length`);
  return new Uint8Array([(field << 3) | 2, bytes.length, ...bytes]);
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/**
 * The OpenAPI v2 document, with no paths and no definitions, as the gnostic `openapi.v2.Document`
 * protobuf kubectl asks for (swagger = 1, info = 2 with title = 1 and version = 2, paths = 8).
 */
const V2_PROTOBUF = new Uint8Array([
  ...protoField(1, utf8("2.0")),
  ...protoField(
    2,
    new Uint8Array([...protoField(1, utf8("Kubernetes")), ...protoField(2, utf8("unversioned"))]),
  ),
  ...protoField(8, new Uint8Array()),
]);
/** The same document as JSON, for clients that ask for JSON. */
const V2_JSON = JSON.stringify({
  swagger: "2.0",
  info: { title: "Kubernetes", version: "unversioned" },
  paths: {},
});

const V2_HEADERS = { vary: "Accept", "cache-control": "no-cache, private" };

function jsonResponse(text: string, headers: Record<string, string> = {}): Response {
  return new Response(text, { headers: { "content-type": "application/json", ...headers } });
}

/**
 * Serves `/openapi/v3` and `/openapi/v3/<group-version path>` (and whatever else kubectl needs for create/apply/replace), or returns undefined for other paths.
 *
 * `/openapi/v2` is protobuf unless `accept` is given and asks for JSON.
 */
export function serveOpenApi(url: URL, accept?: string | null): Response | undefined {
  const path = url.pathname.replace(/\/+$/, "");
  if (path === "/openapi/v2") {
    if (accept && !accept.includes("protobuf") && /json|\*\/\*/.test(accept)) {
      return jsonResponse(V2_JSON, { etag: `"${hashOf(V2_JSON)}"`, ...V2_HEADERS });
    }
    return new Response(V2_PROTOBUF, {
      headers: { "content-type": PROTOBUF_V2, etag: `"${hashOf(V2_PROTOBUF)}"`, ...V2_HEADERS },
    });
  }
  if (path === V3) {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [gv, doc] of groupVersionDocuments()) {
      paths[gv] = { serverRelativeURL: `${V3}/${gv}?hash=${doc.hash}` };
    }
    const text = JSON.stringify({ paths });
    return jsonResponse(text, { etag: `"${hashOf(text)}"` });
  }
  if (!path.startsWith(`${V3}/`)) return undefined;
  const gv = path.slice(V3.length + 1);
  const doc = groupVersionDocuments().get(gv);
  if (!doc) return undefined;
  const hash = url.searchParams.get("hash");
  const etag = `"${doc.hash}"`;
  if (hash === null) return jsonResponse(doc.text, { etag, vary: "Accept" });
  if (hash !== doc.hash) {
    // As the real server answers a stale hash: a permanent redirect to the current one.
    return new Response(null, {
      status: 301,
      headers: { location: `${V3}/${gv}?hash=${doc.hash}` },
    });
  }
  // A hashed URL names one version of the document forever, so clients may cache it for a year.
  const expires = new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString();
  return jsonResponse(doc.text, {
    etag,
    vary: "Accept",
    "cache-control": "public, immutable",
    expires,
  });
}
