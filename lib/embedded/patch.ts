/**
 * The three PATCH flavours of the Kubernetes API server (JSON Patch, JSON Merge Patch and
 * strategic merge patch), applied to plain JSON objects the way kube-apiserver applies them.
 *
 * JSON Patch follows gopkg.in/evanphx/json-patch.v4 (what kube-apiserver links), merge patch
 * follows that library's MergePatch, and strategic merge patch follows
 * k8s.io/apimachinery/pkg/util/strategicpatch with the `patchStrategy`/`patchMergeKey` struct tags
 * of k8s.io/api encoded in {@linkcode STRATEGIC_MERGE_FIELDS}.
 *
 * @module
 */

/** The patch types the embedded API server accepts, by Content-Type. */
export type PatchType = "json" | "merge" | "strategic";

const CONTENT_TYPES: Readonly<Record<string, PatchType>> = {
  "application/json-patch+json": "json",
  "application/merge-patch+json": "merge",
  "application/strategic-merge-patch+json": "strategic",
};

/** Maps a request Content-Type (may carry parameters such as "; charset=utf-8") to a patch type, or undefined when unknown (caller answers 415). */
export function patchTypeOf(contentType: string | null): PatchType | undefined {
  if (contentType === null) return undefined;
  const mediaType = contentType.split(";", 1)[0].trim().toLowerCase();
  return Object.hasOwn(CONTENT_TYPES, mediaType) ? CONTENT_TYPES[mediaType] : undefined;
}

/** Error thrown when a patch cannot be applied; `code` is the HTTP status the API server answers (400 malformed patch, 422 patch that cannot apply e.g. failed "test" op or missing path). */
export class PatchError extends Error {
  /** HTTP status code the API server answers with. */
  readonly code: 400 | 422;

  /** Creates a patch error answered with the given HTTP status. */
  constructor(message: string, code: 400 | 422) {
    super(message);
    this.name = "PatchError";
    this.code = code;
  }
}

/** How a strategic merge patch treats one field, mirroring the Go `patchStrategy`/`patchMergeKey` struct tags of k8s.io/api. */
export interface FieldPatchStrategy {
  /** Dotted JSON path of the field from the object root; `[]` steps into every element of a list, e.g. `spec.containers[].env`. */
  readonly path: string;
  /** `merge`: a list merged element-wise (by `mergeKey` for lists of objects, as a set for primitives); `replace`: replaced wholesale, which is also what happens to every list not in the table; `retainKeys`: informational only, the server honours `$retainKeys` wherever it appears. */
  readonly strategy: "merge" | "replace" | "retainKeys";
  /** Field identifying the elements of a merged list of objects; absent for merged lists of primitives. */
  readonly mergeKey?: string;
  /** Whether the Go tag also carries `retainKeys` (informational, as above). */
  readonly retainKeys?: boolean;
}

function objectMetaFields(prefix: string): FieldPatchStrategy[] {
  return [
    { path: `${prefix}.ownerReferences`, strategy: "merge", mergeKey: "uid" },
    { path: `${prefix}.finalizers`, strategy: "merge" },
  ];
}

function containerFields(prefix: string): FieldPatchStrategy[] {
  return [
    { path: `${prefix}.ports`, strategy: "merge", mergeKey: "containerPort" },
    { path: `${prefix}.env`, strategy: "merge", mergeKey: "name" },
    { path: `${prefix}.volumeMounts`, strategy: "merge", mergeKey: "mountPath" },
    { path: `${prefix}.volumeDevices`, strategy: "merge", mergeKey: "devicePath" },
  ];
}

function podSpecFields(prefix: string): FieldPatchStrategy[] {
  const containerLists = ["initContainers", "containers", "ephemeralContainers"];
  return [
    { path: `${prefix}.volumes`, strategy: "merge", mergeKey: "name", retainKeys: true },
    ...containerLists.flatMap((list) => [
      { path: `${prefix}.${list}`, strategy: "merge" as const, mergeKey: "name" },
      ...containerFields(`${prefix}.${list}[]`),
    ]),
    { path: `${prefix}.imagePullSecrets`, strategy: "merge", mergeKey: "name" },
    { path: `${prefix}.hostAliases`, strategy: "merge", mergeKey: "ip" },
    { path: `${prefix}.topologySpreadConstraints`, strategy: "merge", mergeKey: "topologyKey" },
    { path: `${prefix}.schedulingGates`, strategy: "merge", mergeKey: "name" },
    { path: `${prefix}.resourceClaims`, strategy: "merge", mergeKey: "name", retainKeys: true },
    { path: `${prefix}.tolerations`, strategy: "replace" },
  ];
}

function podTemplateFields(prefix: string): FieldPatchStrategy[] {
  return [...objectMetaFields(`${prefix}.metadata`), ...podSpecFields(`${prefix}.spec`)];
}

const STATUS_CONDITIONS: FieldPatchStrategy = {
  path: "status.conditions",
  strategy: "merge",
  mergeKey: "type",
};

/**
 * Strategic merge behaviour per kind, from the struct tags of k8s.io/api (core/v1, apps/v1,
 * policy/v1, coordination/v1) and metav1.ObjectMeta. Lists absent from a kind's table are replaced
 * wholesale; kinds absent from the table get only the ObjectMeta rules.
 */
export const STRATEGIC_MERGE_FIELDS: Readonly<Record<string, readonly FieldPatchStrategy[]>> = {
  Node: [
    ...objectMetaFields("metadata"),
    { path: "spec.podCIDRs", strategy: "merge" },
    { path: "spec.taints", strategy: "replace" },
    STATUS_CONDITIONS,
    { path: "status.addresses", strategy: "merge", mergeKey: "type" },
  ],
  Pod: [
    ...objectMetaFields("metadata"),
    ...podSpecFields("spec"),
    STATUS_CONDITIONS,
    { path: "status.podIPs", strategy: "merge", mergeKey: "ip" },
    { path: "status.hostIPs", strategy: "merge", mergeKey: "ip" },
    { path: "status.resourceClaimStatuses", strategy: "merge", mergeKey: "name", retainKeys: true },
  ],
  Deployment: [
    ...objectMetaFields("metadata"),
    { path: "spec.strategy", strategy: "retainKeys" },
    ...podTemplateFields("spec.template"),
    STATUS_CONDITIONS,
  ],
  ReplicaSet: [
    ...objectMetaFields("metadata"),
    ...podTemplateFields("spec.template"),
    STATUS_CONDITIONS,
  ],
  DaemonSet: [
    ...objectMetaFields("metadata"),
    ...podTemplateFields("spec.template"),
    STATUS_CONDITIONS,
  ],
  Namespace: [
    ...objectMetaFields("metadata"),
    { path: "spec.finalizers", strategy: "replace" },
    STATUS_CONDITIONS,
  ],
  PodDisruptionBudget: [...objectMetaFields("metadata"), STATUS_CONDITIONS],
  Event: objectMetaFields("metadata"),
  Lease: objectMetaFields("metadata"),
};

const DEFAULT_FIELDS: readonly FieldPatchStrategy[] = objectMetaFields("metadata");

/** Returns the strategic merge rule for a field path of an object of `kind`, or undefined when the field has no patch strategy (lists then replace wholesale, maps merge). */
export function fieldStrategy(kind: string, path: string): FieldPatchStrategy | undefined {
  return strategyIndex(kind).get(path);
}

const indexCache = new Map<string, Map<string, FieldPatchStrategy>>();

function strategyIndex(kind: string): Map<string, FieldPatchStrategy> {
  let index = indexCache.get(kind);
  if (index === undefined) {
    const fields = Object.hasOwn(STRATEGIC_MERGE_FIELDS, kind)
      ? STRATEGIC_MERGE_FIELDS[kind]
      : DEFAULT_FIELDS;
    index = new Map(fields.map((field) => [field.path, field]));
    indexCache.set(kind, index);
  }
  return index;
}

/** Applies a patch of the given type to `target` (a JSON object, not mutated) for an object of `kind` ("Node", "Pod", "Event", "Lease", "Deployment", "ReplicaSet", "DaemonSet", "Namespace", "PodDisruptionBudget", ...), returning the new object. */
export function applyPatch(
  target: Record<string, unknown>,
  patch: unknown,
  options: { type: PatchType; kind: string },
): Record<string, unknown> {
  const doc = clone(target) as JsonObject;
  switch (options.type) {
    case "json":
      return applyJsonPatch(doc, patch);
    case "merge":
      return applyMergePatch(doc, patch);
    case "strategic":
      return applyStrategicMergePatch(doc, patch, options.kind);
    default:
      throw new PatchError(`Unsupported patch type "${String(options.type)}"`, 400);
  }
}

// ---------------------------------------------------------------------------------------------
// JSON values

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Sets an own property, also for the key "__proto__" (which plain assignment would not). */
function setOwn(object: JsonObject, key: string, value: unknown): void {
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

function getOwn(object: JsonObject, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Structural JSON equality (object member order is irrelevant, array order matters). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return isObject(value) ? "an object" : `a ${typeof value}`;
}

// ---------------------------------------------------------------------------------------------
// JSON Patch (RFC 6902), as gopkg.in/evanphx/json-patch.v4 applies it

function jsonPatchError(message: string): PatchError {
  return new PatchError(`Cannot apply JSON patch: ${message}`, 422);
}

function applyJsonPatch(doc: JsonObject, patch: unknown): JsonObject {
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

// ---------------------------------------------------------------------------------------------
// JSON Merge Patch (RFC 7386), as evanphx/json-patch MergePatch applies it

function applyMergePatch(doc: JsonObject, patch: unknown): JsonObject {
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

// ---------------------------------------------------------------------------------------------
// Strategic merge patch, as k8s.io/apimachinery/pkg/util/strategicpatch applies it server-side

const DIRECTIVE = "$patch";
const RETAIN_KEYS = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER = "$setElementOrder";

function smpError(message: string, code: 400 | 422 = 400): PatchError {
  return new PatchError(`Cannot apply strategic merge patch: ${message}`, code);
}

function childPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function displayPath(path: string): string {
  return path === "" ? "<root>" : path;
}

function applyStrategicMergePatch(doc: JsonObject, patch: unknown, kind: string): JsonObject {
  if (!isObject(patch)) {
    throw new PatchError(
      `Cannot decode strategic merge patch: expected a JSON object, got ${describe(patch)}`,
      400,
    );
  }
  return mergeMap(doc, patch, "", strategyIndex(kind));
}

type Rules = Map<string, FieldPatchStrategy>;

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
function mergeMap(original: JsonObject, patch: JsonObject, path: string, rules: Rules): JsonObject {
  if (Object.hasOwn(patch, DIRECTIVE)) {
    return mapDirective(patch, path);
  }
  applyRetainKeys(original, patch, path);
  const handled = mergeElementOrderLists(original, patch, path, rules);

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
          : mergeMap(current, patchValue as JsonObject, fieldPath, rules),
      );
    } else if (Array.isArray(current)) {
      setOwn(
        original,
        key,
        mergeListField(current, patchValue as unknown[], fieldPath, rules, isDeleteList),
      );
    } else {
      adoptPatchValue(original, key, patchValue);
    }
  }
  return original;
}

/** Handles `$patch` on a map: `replace` takes the patch as is, `delete` empties the map. */
function mapDirective(patch: JsonObject, path: string): JsonObject {
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
function applyRetainKeys(original: JsonObject, patch: JsonObject, path: string): void {
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
function directiveField(key: string, prefix: string, path: string): string {
  const slash = key.indexOf("/");
  if (slash < 0 || key.slice(0, slash) !== prefix) {
    throw smpError(`malformed directive "${key}" at "${displayPath(path)}"`);
  }
  return key.slice(slash + 1);
}

/** Processes the `$setElementOrder/<field>` directives of `patch`; returns the patch keys it consumed. */
function mergeElementOrderLists(
  original: JsonObject,
  patch: JsonObject,
  path: string,
  rules: Rules,
): Set<string> {
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
    validateElementOrder(patchList, order, mergeKey, fieldPath);

    let merged: unknown[];
    if (!foundPatch) merged = originalList;
    else if (!foundOriginal) merged = sanitizeNew(patchList) as unknown[];
    else merged = mergeListField([...originalList], patchList, fieldPath, rules, false);

    const kind = elementKind([originalList, patchList], fieldPath);
    if (kind === "object" && mergeKey === "") {
      setOwn(original, field, merged);
    } else {
      const keyOf = elementKeyOf(mergeKey, fieldPath);
      const inOrder = (item: unknown) => order.some((o) => keyOf(o) === keyOf(item));
      setOwn(
        original,
        field,
        normalizeElementOrder(
          merged.filter(inOrder),
          merged.filter((item) => !inOrder(item)),
          order,
          originalList,
          keyOf,
        ),
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
  mergeKey: string,
  path: string,
): void {
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

/** Merges or replaces a list field according to its patch strategy. */
function mergeListField(
  original: unknown[],
  patch: unknown[],
  path: string,
  rules: Rules,
  isDeleteList: boolean,
): unknown[] {
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
    const special = applySpecialElements(original, patch as JsonObject[], mergeKey, path);
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
        merged[index] = mergeMap(merged[index] as JsonObject, item, `${path}[]`, rules);
      } else {
        merged.push(sanitize(item));
      }
    }
  }
  const keyOf = elementKeyOf(kind === "object" ? mergeKey : "", path);
  const inPatch = (item: unknown) => patchItems.some((p) => keyOf(p) === keyOf(item));
  return normalizeElementOrder(
    merged.filter(inPatch),
    merged.filter((item) => !inPatch(item)),
    patchItems,
    serverOrder,
    keyOf,
  );
}

/** Applies `$patch: delete`/`replace` list elements; returns the remaining original and patch elements, or the replacement list. */
function applySpecialElements(
  original: unknown[],
  patch: JsonObject[],
  mergeKey: string,
  path: string,
): { original: unknown[]; patch: JsonObject[]; replacement?: unknown[] } {
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

/**
 * Orders a merged list as strategicpatch does: patch items follow `patchOrder`, server-only items
 * keep `serverOrder`, and the two are interleaved using the server order.
 */
function normalizeElementOrder(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  keyOf: (item: unknown) => unknown,
): unknown[] {
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

function isDirectiveKey(key: string): boolean {
  return key === DIRECTIVE || key === RETAIN_KEYS ||
    key.startsWith(`${SET_ELEMENT_ORDER}/`) || key.startsWith(`${DELETE_FROM_PRIMITIVE_LIST}/`);
}

/**
 * Copies a value taken over from the patch, dropping null members and directive keys, which the
 * real server loses when it decodes the merged map into the typed object.
 */
function sanitize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sanitize);
  if (!isObject(value)) return value;
  const result: JsonObject = {};
  for (const [key, member] of Object.entries(value)) {
    if (member !== null && !isDirectiveKey(key)) setOwn(result, key, sanitize(member));
  }
  return result;
}

/** Like {@linkcode sanitize}, but maps carrying `$patch` are dropped, as strategicpatch does for values absent from the original. */
function sanitizeNew(value: unknown): unknown {
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

/** Sets a key to a patch value with no counterpart in the original (or of another type). */
function adoptPatchValue(original: JsonObject, key: string, value: unknown): void {
  if (isObject(value) && Object.hasOwn(value, DIRECTIVE)) {
    delete original[key];
  } else {
    setOwn(original, key, sanitizeNew(value));
  }
}
