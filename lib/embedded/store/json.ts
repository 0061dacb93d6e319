// JSON values as the patch flavours and the API server handle them: plain objects, own members,
// structural equality.

/** A JSON object. */
export type JsonObject = Record<string, unknown>;

/** Whether `value` is a JSON object (not null, not an array). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A deep copy. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Sets an own property, also for the key "__proto__" (which plain assignment would not). */
export function setOwn(object: JsonObject, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(object, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else {
    object[key] = value;
  }
}

/** An own member, or undefined (never an inherited one). */
export function getOwn(object: JsonObject, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/**
 * Structural JSON equality: object member order is irrelevant, array order matters, and members
 * whose value is undefined count as absent, as they are once serialized.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const keys = definedKeys(a);
    return keys.length === definedKeys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

function definedKeys(object: JsonObject): string[] {
  return Object.keys(object).filter((k) => object[k] !== undefined);
}

/** Names the JSON type of `value` for error messages: `an object`, `a string`, ... */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return isObject(value) ? "an object" : `a ${typeof value}`;
}
