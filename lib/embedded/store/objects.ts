// The JSON object types the embedded API server stores and serves, and reading their fields.

/** A JSON object as the API server stores and serves it. */
export type KubeObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
};

/** The part of `metadata` the API server itself reads and writes. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Record<string, unknown>[];
  [key: string]: unknown;
}

/** The metadata of an object; empty when it has none. */
export function meta(obj: KubeObject): ObjectMeta {
  return obj.metadata ?? {};
}

/** The characters of generated name suffixes (those of k8s.io/apimachinery's `rand.String`). */
export const NAME_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789";

/** Reads a dotted path of plain fields from an object. */
export function pathValue(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}
