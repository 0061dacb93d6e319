// The OpenAPI v3 documents of the embedded API server, one a group version: paths, operations and
// component schemas as the real server names them (see openapi.ts for what kubectl reads of them).

import { createHash } from "node:crypto";
import { groupVersion, RESOURCES, type ResourceType } from "../store/resources.ts";
import {
  DELETE_OPTIONS,
  EVICTION,
  type Json,
  LIST_META,
  OBJECT_META,
  PATCH,
  ref,
  resourcePaths,
  schemaName,
  STATUS,
} from "./openapi_v3_paths.ts";

/** One served document, with the hash that names its version. */
export interface Document {
  text: string;
  hash: string;
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
