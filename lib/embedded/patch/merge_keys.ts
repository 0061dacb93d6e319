// The strategic merge table: which lists of which kinds merge, and by which key. A data table of
// k8s.io/api's `patchStrategy`/`patchMergeKey` struct tags.

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

/** Every strategic merge rule of `kind`, by field path; kinds not in the table get the ObjectMeta rules. */
export function strategyIndex(kind: string): Map<string, FieldPatchStrategy> {
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
