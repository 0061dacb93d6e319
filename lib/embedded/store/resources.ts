import type { StatusCause } from "./errors.ts";
import { type KubeObject, pathValue } from "./objects.ts";
import { budgetValidate, podValidate } from "./resource_checks.ts";

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
  /** A custom resource (served as a CRD would be): no strategic merge patch. */
  custom: boolean;
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

function str(value: unknown): string {
  if (value === undefined || value === null) return "";
  return String(value);
}

/** The `metadata.name` field of an object, and its `metadata.namespace` when `namespaced`. */
function metaFields(
  obj: KubeObject,
  options: { namespaced: boolean },
): Record<string, string> {
  const f: Record<string, string> = { "metadata.name": str(obj.metadata?.name) };
  if (options.namespaced) f["metadata.namespace"] = str(obj.metadata?.namespace);
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
  custom?: boolean;
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
    custom: d.custom ?? false,
    fieldNames: [...base, ...Object.keys(extra)],
    fields(obj) {
      const f = metaFields(obj, { namespaced: d.namespaced });
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

const STATUS = ["status"];

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
  define({
    group: "",
    version: "v1",
    resource: "secrets",
    kind: "Secret",
    namespaced: true,
  }),
  define({
    group: "",
    version: "v1",
    resource: "configmaps",
    kind: "ConfigMap",
    namespaced: true,
    shortNames: ["cm"],
  }),
  // Karpenter's NodeClaims, as its CRD serves them (see controllers/karpenter.ts for what deleting one does).
  define({
    group: "karpenter.sh",
    version: "v1",
    resource: "nodeclaims",
    kind: "NodeClaim",
    namespaced: false,
    categories: ["karpenter"],
    subresources: STATUS,
    custom: true,
  }),
  // Cluster API's Machines and their owners, as its CRDs serve them (see controllers/cluster_api.ts).
  clusterApi("machines", "Machine", "ma"),
  clusterApi("machinesets", "MachineSet", "ms"),
  clusterApi("machinedeployments", "MachineDeployment", "md"),
];

/** A `cluster.x-k8s.io/v1beta1` custom resource, namespaced, in category `cluster-api`. */
function clusterApi(resource: string, kind: string, shortName: string): ResourceType {
  return define({
    group: "cluster.x-k8s.io",
    version: "v1beta1",
    resource,
    kind,
    namespaced: true,
    shortNames: [shortName],
    categories: ["cluster-api"],
    subresources: STATUS,
    custom: true,
  });
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
