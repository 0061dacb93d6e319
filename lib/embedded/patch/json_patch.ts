// JSON Patch (RFC 6902), as gopkg.in/evanphx/json-patch.v4 applies it.

import { PatchError } from "../store/errors.ts";
import {
  clone,
  describe,
  getOwn,
  isObject,
  jsonEqual,
  type JsonObject,
  setOwn,
} from "../store/json.ts";

function jsonPatchError(message: string): PatchError {
  return new PatchError(`Cannot apply JSON patch: ${message}`, 422);
}

/** Applies the operations of `patch` to `doc` (mutated and returned). */
export function applyJsonPatch(doc: JsonObject, patch: unknown): JsonObject {
  // Go decodes a JSON null into an empty operation list.
  if (patch === null) return doc;
  if (!Array.isArray(patch)) {
    throw new PatchError(
      `Cannot decode JSON patch: expected an array of operations, got ${describe(patch)}`,
      400,
    );
  }
  patch.forEach((operation, i) => {
    if (operation !== null && !isObject(operation)) {
      throw new PatchError(
        `Cannot decode JSON patch: operation ${i} is ${describe(operation)}, not an object`,
        400,
      );
    }
  });
  for (const operation of patch as (JsonObject | null)[]) {
    applyOperation(doc, operation ?? {});
  }
  return doc;
}

function operationPath(operation: JsonObject, field: "path" | "from"): string {
  const path = getOwn(operation, field);
  if (path === undefined || path === null) {
    throw jsonPatchError(`operation "${String(operation.op)}" is missing "${field}"`);
  }
  if (typeof path !== "string") {
    throw jsonPatchError(`"${field}" of operation "${String(operation.op)}" must be a string`);
  }
  return path;
}

function applyOperation(doc: JsonObject, operation: JsonObject): void {
  const op = getOwn(operation, "op");
  switch (op) {
    case "add": {
      const path = operationPath(operation, "path");
      addAt(resolveParent(doc, path), path, operationValue(operation));
      return;
    }
    case "remove": {
      const path = operationPath(operation, "path");
      removeAt(resolveParent(doc, path), path);
      return;
    }
    case "replace": {
      const path = operationPath(operation, "path");
      replaceAt(resolveParent(doc, path), path, operationValue(operation));
      return;
    }
    case "move": {
      const from = operationPath(operation, "from");
      const source = resolveParent(doc, from);
      const value = getAt(source, from);
      removeAt(source, from);
      const path = operationPath(operation, "path");
      addAt(resolveParent(doc, path), path, value);
      return;
    }
    case "copy": {
      const from = operationPath(operation, "from");
      const value = getAt(resolveParent(doc, from), from);
      const path = operationPath(operation, "path");
      addAt(resolveParent(doc, path), path, clone(value ?? null));
      return;
    }
    case "test": {
      const path = operationPath(operation, "path");
      const actual = path === "" ? doc : getAt(resolveParent(doc, path), path);
      const hasValue = Object.hasOwn(operation, "value");
      const expected = operation.value;
      // evanphx/json-patch v4: a missing or null member matches an explicit null.
      const passed = actual === undefined || actual === null
        ? hasValue && expected === null
        : hasValue && jsonEqual(actual, expected);
      if (!passed) {
        throw jsonPatchError(
          `test failed at path "${path}": expected ${JSON.stringify(expected ?? null)}`,
        );
      }
      return;
    }
    default:
      throw jsonPatchError(
        `unknown operation ${op === undefined ? '(missing "op")' : JSON.stringify(op)}`,
      );
  }
}

function operationValue(operation: JsonObject): unknown {
  // An absent "value" adds a null, as evanphx/json-patch v4 does.
  return Object.hasOwn(operation, "value") ? clone(operation.value) : null;
}

interface Location {
  readonly container: JsonObject | unknown[];
  readonly key: string;
}

function decodePointerToken(token: string): string {
  return token.replaceAll("~1", "/").replaceAll("~0", "~");
}

/** Resolves every token of a JSON pointer but the last; throws 422 when an intermediate value is missing. */
function resolveParent(doc: JsonObject, path: string): Location {
  if (!path.startsWith("/")) {
    throw jsonPatchError(`path "${path}" must start with "/"`);
  }
  const tokens = path.slice(1).split("/").map(decodePointerToken);
  let current: unknown = doc;
  for (const token of tokens.slice(0, -1)) {
    const next = childOf(current, token);
    if (typeof next !== "object" || next === null) {
      throw jsonPatchError(`path "${path}" does not exist`);
    }
    current = next;
  }
  return { container: current as JsonObject | unknown[], key: tokens[tokens.length - 1] };
}

function childOf(container: unknown, token: string): unknown {
  if (Array.isArray(container)) {
    const index = parseIndex(token);
    if (index === undefined || index < -container.length || index >= container.length) {
      return undefined;
    }
    return container[index < 0 ? index + container.length : index];
  }
  return isObject(container) ? getOwn(container, token) : undefined;
}

/** Parses an array index as Go's strconv.Atoi does; negative indices count from the end (evanphx/json-patch v4). */
function parseIndex(token: string): number | undefined {
  return /^[+-]?\d+$/.test(token) ? Number(token) : undefined;
}

function arrayIndex(key: string, path: string, size: number): number {
  const index = parseIndex(key);
  if (index === undefined) {
    throw jsonPatchError(`"${key}" is not a valid array index in path "${path}"`);
  }
  if (index >= size || index < -size) {
    throw jsonPatchError(`index ${key} is out of bounds in path "${path}"`);
  }
  return index < 0 ? index + size : index;
}

function getAt(location: Location, path: string): unknown {
  const { container, key } = location;
  if (Array.isArray(container)) {
    return container[arrayIndex(key, path, container.length)];
  }
  // evanphx/json-patch v4 reads an absent object member as null without failing.
  return getOwn(container, key);
}

function addAt(location: Location, path: string, value: unknown): void {
  const { container, key } = location;
  if (!Array.isArray(container)) {
    setOwn(container, key, value);
  } else if (key === "-") {
    container.push(value);
  } else {
    container.splice(arrayIndex(key, path, container.length + 1), 0, value);
  }
}

function removeAt(location: Location, path: string): void {
  const { container, key } = location;
  if (Array.isArray(container)) {
    container.splice(arrayIndex(key, path, container.length), 1);
  } else if (Object.hasOwn(container, key)) {
    delete container[key];
  } else {
    throw jsonPatchError(`path "${path}" does not exist`);
  }
}

function replaceAt(location: Location, path: string, value: unknown): void {
  const { container, key } = location;
  if (Array.isArray(container)) {
    container[arrayIndex(key, path, container.length)] = value;
  } else {
    // evanphx/json-patch v4 (kube-apiserver) sets an absent member of an existing object.
    setOwn(container, key, value);
  }
}
