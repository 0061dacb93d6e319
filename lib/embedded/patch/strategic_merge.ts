// Strategic merge patch, as k8s.io/apimachinery/pkg/util/strategicpatch applies it server-side:
// maps merge member by member, lists merge or replace by the table of merge_keys.ts.

import { PatchError } from "../store/errors.ts";
import { describe, getOwn, isObject, type JsonObject, setOwn } from "../store/json.ts";
import { type FieldPatchStrategy, strategyIndex } from "./merge_keys.ts";
import {
  applyRetainKeys,
  applySpecialElements,
  childPath,
  DELETE_FROM_PRIMITIVE_LIST,
  DIRECTIVE,
  directiveField,
  displayPath,
  mapDirective,
  RETAIN_KEYS,
  sanitize,
  sanitizeNew,
  SET_ELEMENT_ORDER,
  smpError,
} from "./strategic_directives.ts";

export function applyStrategicMergePatch(
  doc: JsonObject,
  patch: unknown,
  kind: string,
): JsonObject {
  if (!isObject(patch)) {
    throw new PatchError(
      `Cannot decode strategic merge patch: expected a JSON object, got ${describe(patch)}`,
      400,
    );
  }
  return mergeMap(doc, patch, { path: "", rules: strategyIndex(kind) });
}

type Rules = Map<string, FieldPatchStrategy>;

/** Where a merge is in the document (a dotted field path), and the patch strategies of its fields. */
interface Scope {
  path: string;
  rules: Rules;
}

function listRule(rules: Rules, path: string): { merge: boolean; mergeKey: string } {
  const rule = rules.get(path);
  return { merge: rule?.strategy === "merge", mergeKey: rule?.mergeKey ?? "" };
}

function valueKind(value: unknown): "object" | "array" | "null" | "scalar" {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value === "object" ? "object" : "scalar";
}

/** Merges `patch` into `original` (mutated and returned); `patch` is never mutated. */
function mergeMap(original: JsonObject, patch: JsonObject, scope: Scope): JsonObject {
  const { path, rules } = scope;
  if (Object.hasOwn(patch, DIRECTIVE)) {
    return mapDirective(patch, path);
  }
  applyRetainKeys(original, patch, path);
  const handled = mergeElementOrderLists(original, patch, scope);

  for (const [patchKey, patchValue] of Object.entries(patch)) {
    if (patchKey === RETAIN_KEYS || handled.has(patchKey)) continue;
    let key = patchKey;
    let isDeleteList = false;
    if (patchKey.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      key = directiveField(patchKey, DELETE_FROM_PRIMITIVE_LIST, path) || patchKey;
      isDeleteList = true;
    }
    if (patchValue === null) {
      delete original[key];
      continue;
    }
    const current = getOwn(original, key);
    if (current === undefined || valueKind(current) !== valueKind(patchValue)) {
      if (!isDeleteList) adoptPatchValue(original, key, patchValue);
      continue;
    }
    const fieldPath = childPath(path, key);
    if (isObject(current)) {
      const rule = rules.get(fieldPath);
      setOwn(
        original,
        key,
        rule?.strategy === "replace"
          ? sanitize(patchValue)
          : mergeMap(current, patchValue as JsonObject, { path: fieldPath, rules }),
      );
    } else if (Array.isArray(current)) {
      setOwn(
        original,
        key,
        mergeListField(current, patchValue as unknown[], { path: fieldPath, rules, isDeleteList }),
      );
    } else {
      adoptPatchValue(original, key, patchValue);
    }
  }
  return original;
}

/** Processes the `$setElementOrder/<field>` directives of `patch`; returns the patch keys it consumed. */
function mergeElementOrderLists(
  original: JsonObject,
  patch: JsonObject,
  scope: Scope,
): Set<string> {
  const { path, rules } = scope;
  const handled = new Set<string>();
  for (const [key, order] of Object.entries(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    handled.add(key);
    if (!Array.isArray(order)) {
      throw smpError(`${key} at "${displayPath(path)}" must be a list`);
    }
    const field = directiveField(key, SET_ELEMENT_ORDER, path);
    const fieldPath = childPath(path, field);
    const foundOriginal = Object.hasOwn(original, field);
    const foundPatch = Object.hasOwn(patch, field);
    if (!foundOriginal && !foundPatch) continue;
    const originalList = foundOriginal ? original[field] : [];
    const patchList = foundPatch ? patch[field] : [];
    if (!Array.isArray(originalList) || !Array.isArray(patchList)) {
      throw smpError(`${key} at "${displayPath(path)}" refers to a field that is not a list`);
    }
    const { mergeKey } = listRule(rules, fieldPath);
    validateElementOrder(patchList, order, { mergeKey, path: fieldPath });

    let merged: unknown[];
    if (!foundPatch) merged = originalList;
    else if (!foundOriginal) merged = sanitizeNew(patchList) as unknown[];
    else merged = mergeListField([...originalList], patchList, { path: fieldPath, rules });

    const kind = elementKind([originalList, patchList], fieldPath);
    if (kind === "object" && mergeKey === "") {
      setOwn(original, field, merged);
    } else {
      const keyOf = elementKeyOf(mergeKey, fieldPath);
      setOwn(
        original,
        field,
        normalizeElementOrder(merged, { patchOrder: order, serverOrder: originalList, keyOf }),
      );
    }
    handled.add(field);
  }
  return handled;
}

/** Checks the patch list follows the relative order of the `$setElementOrder` list. */
function validateElementOrder(
  patchList: unknown[],
  order: unknown[],
  list: { mergeKey: string; path: string },
): void {
  const { mergeKey, path } = list;
  if (order.length === 0 || patchList.length === 0) return;
  const items = mergeKey === ""
    ? patchList
    : patchList.filter((item) => !(isObject(item) && getOwn(item, DIRECTIVE) === "delete"));
  const keyOf = elementKeyOf(mergeKey, path);
  let patchIndex = 0;
  let orderIndex = 0;
  while (patchIndex < items.length && orderIndex < order.length) {
    const item = items[patchIndex];
    if (isObject(item) && Object.hasOwn(item, DIRECTIVE)) {
      patchIndex++;
      continue;
    }
    if (keyOf(item) === keyOf(order[orderIndex])) patchIndex++;
    orderIndex++;
  }
  if (patchIndex < items.length) {
    throw smpError(`the order of list "${path}" does not match its $setElementOrder list`);
  }
}

/** Returns how list elements are identified: by merge key for objects, by value for primitives. */
function elementKeyOf(mergeKey: string, path: string): (item: unknown) => unknown {
  if (mergeKey === "") return (item) => item;
  return (item) => {
    if (!isObject(item) || !Object.hasOwn(item, mergeKey)) {
      throw smpError(
        `element ${
          JSON.stringify(item)
        } of list "${path}" does not contain merge key "${mergeKey}"`,
      );
    }
    return item[mergeKey];
  };
}

/**
 * Merges or replaces a list field according to its patch strategy; with `isDeleteList` (a
 * `$deleteFromPrimitiveList`), removes the patch's values from a list of primitives instead.
 */
function mergeListField(
  original: unknown[],
  patch: unknown[],
  scope: Scope & { isDeleteList?: boolean },
): unknown[] {
  const { path, rules, isDeleteList = false } = scope;
  const { merge, mergeKey } = listRule(rules, path);
  if (!merge) return sanitize(patch) as unknown[];
  if (original.length === 0 && patch.length === 0) return original;

  const kind = elementKind([original, patch], path);
  let merged: unknown[];
  let patchItems: unknown[];
  let serverOrder: unknown[];
  if (kind !== "object") {
    if (isDeleteList) return original.filter((item) => !patch.includes(item));
    merged = [...new Set([...original, ...patch])];
    patchItems = patch;
    serverOrder = original;
  } else {
    if (mergeKey === "") {
      throw smpError(`cannot merge list "${path}" of objects without a merge key`);
    }
    const special = applySpecialElements(original, patch as JsonObject[], { mergeKey, path });
    if (special.replacement !== undefined) return special.replacement;
    serverOrder = special.original;
    patchItems = special.patch;
    merged = [...special.original];
    for (const item of special.patch) {
      if (!Object.hasOwn(item, mergeKey)) {
        throw smpError(
          `element ${
            JSON.stringify(item)
          } of list "${path}" does not contain merge key "${mergeKey}"`,
        );
      }
      const index = merged.findIndex((candidate) =>
        isObject(candidate) && Object.hasOwn(candidate, mergeKey) &&
        candidate[mergeKey] === item[mergeKey]
      );
      if (index >= 0) {
        merged[index] = mergeMap(merged[index] as JsonObject, item, { path: `${path}[]`, rules });
      } else {
        merged.push(sanitize(item));
      }
    }
  }
  const keyOf = elementKeyOf(kind === "object" ? mergeKey : "", path);
  return normalizeElementOrder(merged, { patchOrder: patchItems, serverOrder, keyOf });
}

/** Returns the common kind of the elements of the lists; lists of lists are rejected (422). */
function elementKind(lists: unknown[][], path: string): "object" | "null" | "scalar" {
  let kind: string | undefined;
  for (const item of lists.flat()) {
    const current = valueKind(item);
    if (current === "array") {
      throw smpError(`lists of lists are not supported (list "${path}")`, 422);
    }
    if (kind !== undefined && kind !== current) {
      throw smpError(`elements of list "${path}" are not all of the same type`);
    }
    kind = current;
  }
  if (kind === undefined) {
    throw smpError(`no elements in list "${path}" to order`);
  }
  return kind as "object" | "null" | "scalar";
}

/** How {@link normalizeElementOrder} orders a list: items are the same when `keyOf` gives one key. */
interface ElementOrder {
  /** The patch's list or its `$setElementOrder` list: the merged items it has go in its order. */
  patchOrder: unknown[];
  /** The order of the list on the server. */
  serverOrder: unknown[];
  keyOf: (item: unknown) => unknown;
}

/**
 * Orders a merged list as strategicpatch does: items in `patchOrder` follow it, server-only items
 * keep `serverOrder`, and the two are interleaved using the server order.
 */
function normalizeElementOrder(merged: unknown[], order: ElementOrder): unknown[] {
  const { patchOrder, serverOrder, keyOf } = order;
  const inPatch = (item: unknown) => patchOrder.some((p) => keyOf(p) === keyOf(item));
  const patchItems = merged.filter(inPatch);
  const serverOnly = merged.filter((item) => !inPatch(item));
  const indexIn = (list: unknown[], item: unknown) => {
    const key = keyOf(item);
    return list.findIndex((candidate) => keyOf(candidate) === key);
  };
  const sortBy = (items: unknown[], order: unknown[]) =>
    items
      .map((item) => ({ item, index: indexIn(order, item) }))
      .sort((a, b) => (a.index >= 0 && b.index >= 0 ? a.index - b.index : 0))
      .map(({ item }) => item);
  const left = sortBy(serverOnly, serverOrder);
  const right = sortBy(patchItems, patchOrder);
  const result: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) {
      result.push(right[j++]);
    } else if (j >= right.length) {
      result.push(left[i++]);
    } else {
      const li = indexIn(serverOrder, left[i]);
      const ri = indexIn(serverOrder, right[j]);
      result.push(li >= 0 && ri >= 0 && li < ri ? left[i++] : right[j++]);
    }
  }
  return result;
}

/** Sets a key to a patch value with no counterpart in the original (or of another type). */
function adoptPatchValue(original: JsonObject, key: string, value: unknown): void {
  if (isObject(value) && Object.hasOwn(value, DIRECTIVE)) {
    delete original[key];
  } else {
    setOwn(original, key, sanitizeNew(value));
  }
}
