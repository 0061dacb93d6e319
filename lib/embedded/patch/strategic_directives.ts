// The `$` directives of strategic merge patch ($patch, $retainKeys, $deleteFromPrimitiveList,
// $setElementOrder): their keys, their errors, and what they do to maps and lists.

import { PatchError } from "../store/errors.ts";
import { isObject, type JsonObject, setOwn } from "../store/json.ts";

/** The directive keys strategic merge patches may carry. */
export const DIRECTIVE = "$patch";
export const RETAIN_KEYS = "$retainKeys";
export const DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList";
export const SET_ELEMENT_ORDER = "$setElementOrder";

export function smpError(message: string, code: 400 | 422 = 400): PatchError {
  return new PatchError(`Cannot apply strategic merge patch: ${message}`, code);
}

export function childPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

export function displayPath(path: string): string {
  return path === "" ? "<root>" : path;
}

/** Handles `$patch` on a map: `replace` takes the patch as is, `delete` empties the map. */
export function mapDirective(patch: JsonObject, path: string): JsonObject {
  const directive = patch[DIRECTIVE];
  if (directive === "replace") {
    return sanitize(patch) as JsonObject;
  }
  if (directive === "delete") return {};
  throw smpError(
    `unknown $patch directive ${JSON.stringify(directive)} in map at "${displayPath(path)}"`,
  );
}

/** Applies `$retainKeys`: drops keys of `original` not listed, after checking the patch sets only listed keys. */
export function applyRetainKeys(original: JsonObject, patch: JsonObject, path: string): void {
  if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
  const retained = patch[RETAIN_KEYS];
  if (!Array.isArray(retained)) {
    throw smpError(`$retainKeys at "${displayPath(path)}" must be a list`);
  }
  const keep = new Set<unknown>(retained);
  for (const [key, value] of Object.entries(patch)) {
    if (
      key === RETAIN_KEYS || value === null || key.startsWith(DELETE_FROM_PRIMITIVE_LIST) ||
      key.startsWith(SET_ELEMENT_ORDER)
    ) {
      continue;
    }
    if (!keep.has(key)) {
      throw smpError(`field "${key}" at "${displayPath(path)}" is not listed in $retainKeys`);
    }
  }
  for (const key of Object.keys(original)) {
    if (!keep.has(key)) delete original[key];
  }
}

/** Returns the field named by a `$deleteFromPrimitiveList/<field>` or `$setElementOrder/<field>` key. */
export function directiveField(key: string, prefix: string, path: string): string {
  const slash = key.indexOf("/");
  if (slash < 0 || key.slice(0, slash) !== prefix) {
    throw smpError(`malformed directive "${key}" at "${displayPath(path)}"`);
  }
  return key.slice(slash + 1);
}

/** Applies `$patch: delete`/`replace` list elements; returns the remaining original and patch elements, or the replacement list. */
export function applySpecialElements(
  original: unknown[],
  patch: JsonObject[],
  list: { mergeKey: string; path: string },
): { original: unknown[]; patch: JsonObject[]; replacement?: unknown[] } {
  const { mergeKey, path } = list;
  const plain: JsonObject[] = [];
  let replace = false;
  for (const item of patch) {
    if (!Object.hasOwn(item, DIRECTIVE)) {
      plain.push(item);
      continue;
    }
    const directive = item[DIRECTIVE];
    if (directive === "delete") {
      if (!Object.hasOwn(item, mergeKey)) {
        throw smpError(
          `$patch: delete element of list "${path}" does not contain merge key "${mergeKey}"`,
        );
      }
      original = original.filter((candidate) =>
        !(isObject(candidate) && Object.hasOwn(candidate, mergeKey) &&
          candidate[mergeKey] === item[mergeKey])
      );
    } else if (directive === "replace") {
      replace = true;
    } else if (directive === "merge") {
      throw smpError(`$patch: merge is not supported in list "${path}"`);
    } else {
      throw smpError(`unknown $patch directive ${JSON.stringify(directive)} in list "${path}"`);
    }
  }
  if (replace) return { original, patch: plain, replacement: sanitize(plain) as unknown[] };
  return { original, patch: plain };
}

function isDirectiveKey(key: string): boolean {
  return key === DIRECTIVE || key === RETAIN_KEYS ||
    key.startsWith(`${SET_ELEMENT_ORDER}/`) || key.startsWith(`${DELETE_FROM_PRIMITIVE_LIST}/`);
}

/**
 * Copies a value taken over from the patch, dropping null members and directive keys, which the
 * real server loses when it decodes the merged map into the typed object.
 */
export function sanitize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sanitize);
  if (!isObject(value)) return value;
  const result: JsonObject = {};
  for (const [key, member] of Object.entries(value)) {
    if (member !== null && !isDirectiveKey(key)) setOwn(result, key, sanitize(member));
  }
  return result;
}

/** Like {@linkcode sanitize}, but maps carrying `$patch` are dropped, as strategicpatch does for values absent from the original. */
export function sanitizeNew(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.filter((item) => !(isObject(item) && Object.hasOwn(item, DIRECTIVE))).map(
      sanitizeNew,
    );
  }
  if (!isObject(value)) return value;
  const result: JsonObject = {};
  for (const [key, member] of Object.entries(value)) {
    if (member === null || isDirectiveKey(key)) continue;
    if (isObject(member) && Object.hasOwn(member, DIRECTIVE)) continue;
    setOwn(result, key, sanitizeNew(member));
  }
  return result;
}
