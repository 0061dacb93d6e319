// JSON Merge Patch (RFC 7386), as evanphx/json-patch MergePatch applies it.

import { PatchError } from "../store/errors.ts";
import { clone, describe, getOwn, isObject, type JsonObject, setOwn } from "../store/json.ts";

/** Merges `patch` into `doc` (mutated and returned). */
export function applyMergePatch(doc: JsonObject, patch: unknown): JsonObject {
  if (!isObject(patch)) {
    throw new PatchError(
      `Cannot decode merge patch: expected a JSON object, got ${describe(patch)}`,
      400,
    );
  }
  mergeDocuments(doc, patch);
  return doc;
}

function mergeDocuments(doc: JsonObject, patch: JsonObject): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete doc[key];
      continue;
    }
    const current = getOwn(doc, key);
    if (current === undefined || current === null) {
      setOwn(doc, key, pruneNulls(clone(value)));
    } else if (!isObject(current)) {
      setOwn(doc, key, pruneNulls(clone(value)));
    } else if (!isObject(value)) {
      setOwn(doc, key, clone(value));
    } else {
      mergeDocuments(current, value);
    }
  }
}

/** Drops null members of objects, recursively (null array elements are kept). */
function pruneNulls(value: unknown): unknown {
  if (Array.isArray(value)) {
    value.forEach(pruneNulls);
  } else if (isObject(value)) {
    for (const [key, member] of Object.entries(value)) {
      if (member === null) delete value[key];
      else pruneNulls(member);
    }
  }
  return value;
}
