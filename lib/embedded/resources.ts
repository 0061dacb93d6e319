import type { StatusCause } from "./errors.ts";
import type { KubeObject } from "./objects.ts";

/** A resource the embedded API server serves, with what discovery says about it. */
export interface ResourceType {
  group: string;
  version: string;
  /** Plural name, as in URLs: `nodes`. */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Subresources served besides the object itself, such as `status`. */
  subresources: string[];
  /** Objects of types with the same storage key are one set of objects seen through two APIs. */
  storage: string;
  /** Field selectors the real API server supports for this resource. */
  fieldNames: readonly string[];
  /** The values of those fields for one object (stored form). */
  fields(obj: KubeObject): Record<string, string>;
  /** Converts a stored object into this API's form (identity for most). */
  fromStorage(obj: KubeObject): KubeObject;
  /** Converts an object of this API's form into the stored form (identity for most). */
  toStorage(obj: KubeObject): KubeObject;
  /** Semantic checks on create and update beyond metadata; each cause is one invalid field. */
  validate(obj: KubeObject): StatusCause[];
}

/** `group/version`, or `version` for the core group. */
export function groupVersion(t: Pick<ResourceType, "group" | "version">): string {
  return t.group === "" ? t.version : `${t.group}/${t.version}`;
}

/** Reads a dotted path of plain fields from an object. */
export function pathValue(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function str(value: unknown): string {
  if (value === undefined || value === null) return "";
  return String(value);
}

function metaFields(obj: KubeObject, namespaced: boolean): Record<string, string> {
  const f: Record<string, string> = { "metadata.name": str(obj.metadata?.name) };
  if (namespaced) f["metadata.namespace"] = str(obj.metadata?.namespace);
  return f;
}

interface Definition {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  subresources?: string[];
  storage?: string;
  extraFields?: Record<string, (obj: KubeObject) => string>;
  fromStorage?: (obj: KubeObject) => KubeObject;
  toStorage?: (obj: KubeObject) => KubeObject;
  validate?: (obj: KubeObject) => StatusCause[];
}

function define(d: Definition): ResourceType {
  const extra = d.extraFields ?? {};
  const base = d.namespaced ? ["metadata.name", "metadata.namespace"] : ["metadata.name"];
  const identity = (o: KubeObject) => o;
  return {
    group: d.group,
    version: d.version,
    resource: d.resource,
    singular: d.kind.toLowerCase(),
    kind: d.kind,
    namespaced: d.namespaced,
    shortNames: d.shortNames ?? [],
    categories: d.categories ?? [],
    subresources: d.subresources ?? [],
    storage: d.storage ?? `${d.group}/${d.resource}`,
    fieldNames: [...base, ...Object.keys(extra)],
    fields(obj) {
      const f = metaFields(obj, d.namespaced);
      for (const [name, get] of Object.entries(extra)) f[name] = get(obj);
      return f;
    },
    fromStorage: d.fromStorage ?? identity,
    toStorage: d.toStorage ?? identity,
    validate: d.validate ?? (() => []),
  };
}

const at = (path: string) => (obj: KubeObject) => str(pathValue(obj, path));

const EVENT_FIELDS = [
  "involvedObject.kind",
  "involvedObject.namespace",
  "involvedObject.name",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.resourceVersion",
  "involvedObject.fieldPath",
  "reason",
  "reportingComponent",
  "source",
  "type",
];

/** How each selectable Event field is read from a stored (core v1) Event. */
const EVENT_FIELD_GETTERS = Object.fromEntries(
  EVENT_FIELDS.map((f) => [f, f === "source" ? at("source.component") : at(f)]),
);

/** Core v1 Event fields and their events.k8s.io/v1 names. */
const EVENT_RENAMES: [string, string][] = [
  ["involvedObject", "regarding"],
  ["message", "note"],
  ["reportingComponent", "reportingController"],
  ["source", "deprecatedSource"],
  ["firstTimestamp", "deprecatedFirstTimestamp"],
  ["lastTimestamp", "deprecatedLastTimestamp"],
  ["count", "deprecatedCount"],
];

function renameFields(obj: KubeObject, pairs: [string, string][], apiVersion: string): KubeObject {
  const out: KubeObject = { ...obj, apiVersion };
  for (const [from, to] of pairs) {
    delete out[from];
    if (obj[from] !== undefined) out[to] = obj[from];
  }
  return out;
}

function podValidate(obj: KubeObject): StatusCause[] {
  const containers = pathValue(obj, "spec.containers");
  if (!Array.isArray(containers) || containers.length === 0) {
    return [{
      reason: "FieldValueRequired",
      message: "spec.containers: Required value",
      field: "spec.containers",
    }];
  }
  return [];
}

const STATUS = ["status"];

/** Checks the fields of a PodDisruptionBudget that the eviction logic reads. */
function budgetValidate(obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const bad = (field: string, message: string) =>
    causes.push({
      reason: "FieldValueInvalid",
      field,
      message: `${field}: Invalid value: ${message}`,
    });
  const selector = pathValue(obj, "spec.selector");
  if (selector !== undefined && (selector === null || typeof selector !== "object")) {
    bad("spec.selector", "must be an object");
  }
  const labels = pathValue(obj, "spec.selector.matchLabels");
  if (
    labels !== undefined && (labels === null || typeof labels !== "object" || Array.isArray(labels))
  ) {
    bad("spec.selector.matchLabels", "must be an object of strings");
  }
  const exprs = pathValue(obj, "spec.selector.matchExpressions");
  if (
    exprs !== undefined &&
    (!Array.isArray(exprs) ||
      exprs.some((e) => !e || typeof e.key !== "string" || typeof e.operator !== "string"))
  ) {
    bad("spec.selector.matchExpressions", "must be a list of {key, operator, values}");
  }
  for (const field of ["spec.minAvailable", "spec.maxUnavailable"]) {
    const v = pathValue(obj, field);
    const ok = v === undefined || (typeof v === "number" && Number.isInteger(v) && v >= 0) ||
      (typeof v === "string" && /^\d+%$/.test(v));
    if (!ok) bad(field, `${JSON.stringify(v)}: must be a non-negative integer or a percentage`);
  }
  if (
    pathValue(obj, "spec.minAvailable") !== undefined &&
    pathValue(obj, "spec.maxUnavailable") !== undefined
  ) {
    bad("spec", "minAvailable and maxUnavailable cannot be both set");
  }
  return causes;
}

/** Every resource the embedded API server serves. */
export const RESOURCES: readonly ResourceType[] = [
  define({
    group: "",
    version: "v1",
    resource: "namespaces",
    kind: "Namespace",
    namespaced: false,
    shortNames: ["ns"],
    subresources: STATUS,
    extraFields: { "status.phase": at("status.phase") },
  }),
  define({
    group: "",
    version: "v1",
    resource: "nodes",
    kind: "Node",
    namespaced: false,
    shortNames: ["no"],
    subresources: STATUS,
    extraFields: {
      "spec.unschedulable": (o) => String(pathValue(o, "spec.unschedulable") === true),
    },
  }),
  define({
    group: "",
    version: "v1",
    resource: "pods",
    kind: "Pod",
    namespaced: true,
    shortNames: ["po"],
    categories: ["all"],
    subresources: ["status", "eviction"],
    extraFields: {
      "spec.nodeName": at("spec.nodeName"),
      "spec.restartPolicy": at("spec.restartPolicy"),
      "spec.schedulerName": at("spec.schedulerName"),
      "spec.serviceAccountName": at("spec.serviceAccountName"),
      "spec.hostNetwork": (o) => String(pathValue(o, "spec.hostNetwork") === true),
      "status.phase": at("status.phase"),
      "status.podIP": at("status.podIP"),
      "status.nominatedNodeName": at("status.nominatedNodeName"),
    },
    validate: podValidate,
  }),
  define({
    group: "",
    version: "v1",
    resource: "events",
    kind: "Event",
    namespaced: true,
    shortNames: ["ev"],
    storage: "events",
    extraFields: EVENT_FIELD_GETTERS,
  }),
  define({
    group: "events.k8s.io",
    version: "v1",
    resource: "events",
    kind: "Event",
    namespaced: true,
    shortNames: ["ev"],
    storage: "events",
    extraFields: {
      "regarding.kind": at("involvedObject.kind"),
      "regarding.namespace": at("involvedObject.namespace"),
      "regarding.name": at("involvedObject.name"),
      "regarding.uid": at("involvedObject.uid"),
      "regarding.apiVersion": at("involvedObject.apiVersion"),
      "regarding.resourceVersion": at("involvedObject.resourceVersion"),
      "regarding.fieldPath": at("involvedObject.fieldPath"),
      reason: at("reason"),
      reportingController: at("reportingComponent"),
      type: at("type"),
    },
    fromStorage: (o) => renameFields(o, EVENT_RENAMES, "events.k8s.io/v1"),
    toStorage: (o) =>
      renameFields(o, EVENT_RENAMES.map(([a, b]) => [b, a] as [string, string]), "v1"),
  }),
  define({
    group: "apps",
    version: "v1",
    resource: "deployments",
    kind: "Deployment",
    namespaced: true,
    shortNames: ["deploy"],
    categories: ["all"],
    subresources: STATUS,
  }),
  define({
    group: "apps",
    version: "v1",
    resource: "replicasets",
    kind: "ReplicaSet",
    namespaced: true,
    shortNames: ["rs"],
    categories: ["all"],
    subresources: STATUS,
  }),
  define({
    group: "apps",
    version: "v1",
    resource: "daemonsets",
    kind: "DaemonSet",
    namespaced: true,
    shortNames: ["ds"],
    categories: ["all"],
    subresources: STATUS,
  }),
  define({
    group: "policy",
    version: "v1",
    resource: "poddisruptionbudgets",
    kind: "PodDisruptionBudget",
    namespaced: true,
    shortNames: ["pdb"],
    subresources: STATUS,
    validate: budgetValidate,
  }),
  define({
    group: "coordination.k8s.io",
    version: "v1",
    resource: "leases",
    kind: "Lease",
    namespaced: true,
  }),
];

/** The group versions served, in the order discovery lists them (core first). */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of RESOURCES) seen.set(groupVersion(r), { group: r.group, version: r.version });
  return [...seen.values()];
}

/** The resource type served at `group/version` under `resource`, if any. */
export function findResource(
  group: string,
  version: string,
  resource: string,
): ResourceType | undefined {
  return RESOURCES.find((r) =>
    r.group === group && r.version === version && r.resource === resource
  );
}

/** The resource type that serves `kind` objects in storage (the first one listed for that storage). */
export function resourceForStorage(storage: string): ResourceType {
  const r = RESOURCES.find((t) => t.storage === storage);
  if (!r) throw new Error(`No resource is stored as "${storage}"`);
  return r;
}

const ALL_VERBS = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];
/** Namespaces cannot be deleted as a collection. */
const NAMESPACE_VERBS = ALL_VERBS.filter((v) => v !== "deletecollection");

/** The APIResourceList that `/api/v1` or `/apis/GROUP/VERSION` serves. */
export function apiResourceList(group: string, version: string): KubeObject {
  const resources: Record<string, unknown>[] = [];
  for (const r of RESOURCES.filter((t) => t.group === group && t.version === version)) {
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.resource === "namespaces" ? NAMESPACE_VERBS : ALL_VERBS,
      ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length > 0 ? { categories: r.categories } : {}),
    });
    for (const sub of r.subresources) {
      if (sub === "eviction") {
        resources.push({
          name: `${r.resource}/eviction`,
          singularName: "",
          namespaced: r.namespaced,
          group: "policy",
          version: "v1",
          kind: "Eviction",
          verbs: ["create"],
        });
      } else {
        resources.push({
          name: `${r.resource}/${sub}`,
          singularName: "",
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ["get", "patch", "update"],
        });
      }
    }
  }
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: groupVersion({ group, version }),
    resources,
  };
}

/** The APIGroupList that `/apis` serves. */
export function apiGroupList(): KubeObject {
  return { kind: "APIGroupList", apiVersion: "v1", groups: apiGroups() };
}

/** Every named API group with its versions, as `/apis` lists them. */
export function apiGroups(): Record<string, unknown>[] {
  const groups = new Map<string, string[]>();
  for (const gv of groupVersions()) {
    if (gv.group === "") continue;
    groups.set(gv.group, [...(groups.get(gv.group) ?? []), gv.version]);
  }
  return [...groups.entries()].map(([name, versions]) => {
    const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { name, versions: list, preferredVersion: list[0] };
  });
}
