// The bulky, realistic parts of a seeded Node: its image list, resources, conditions and
// managedFields, each derived from the node's name so that a seed is the same on every run.

import { fnv1a32 } from "../../base/fnv.ts";

/** A seeded pseudo-random source (mulberry32): numbers in [0, 1), the same for the same seed. */
export function seededRandom(seed: string): () => number {
  let a = fnv1a32(seed);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` hex digits derived from `seed`. */
export function hexOf(seed: string, count: number): string {
  let out = "";
  for (let i = 0; out.length < count; i++) {
    out += fnv1a32(`${i}/${seed}`).toString(16).padStart(8, "0");
  }
  return out.slice(0, count);
}

/** An image a node may hold: its repository, the tags it comes in, and its size in MB. */
export interface ImageKind {
  repo: string;
  tags: string[];
  mb: number;
}

/** One `status.images` entry: pulled by digest and tag, kubelet lists both names. */
export interface NodeImage {
  names: string[];
  sizeBytes: number;
}

/** Kubelet's default `--node-status-max-images`. */
export const MAX_NODE_IMAGES = 50;

/** The names and size of each image seen, computed once: every node holding it shares them. */
const IMAGES = new Map<string, { digestName: string; tagName?: string; sizeBytes: number }>();

function image(repo: string, tag: string, mb: number): NodeImage {
  const ref = `${repo}:${tag}`;
  let known = IMAGES.get(ref);
  if (known === undefined) {
    const h = fnv1a32(ref);
    known = {
      digestName: `${repo}@sha256:${hexOf(`image/${ref}`, 64)}`,
      // Images pulled by digest only have no tag name.
      tagName: h % 17 !== 0 ? ref : undefined,
      sizeBytes: Math.round(mb * 1_000_000 * (0.9 + (h % 2000) / 10000)) + (h % 100_000),
    };
    IMAGES.set(ref, known);
  }
  const names = known.tagName ? [known.digestName, known.tagName] : [known.digestName];
  return { names, sizeBytes: known.sizeBytes };
}

/**
 * The `status.images` of a node: the `system` images every node of its cloud runs, then
 * others picked from `pool` until {@link MAX_NODE_IMAGES}, largest first as kubelet lists them.
 */
export function nodeImages(
  system: [string, string, number][],
  pool: ImageKind[],
  random: () => number,
): NodeImage[] {
  const images = system.map(([repo, tag, mb]) => image(repo, tag, mb));
  const want = Math.min(MAX_NODE_IMAGES, system.length + 22 + Math.floor(random() * 40));
  const taken = new Set<string>();
  for (let tries = 0; images.length < want && tries < want * 4; tries++) {
    const kind = pool[Math.floor(random() * pool.length)];
    const tag = kind.tags[Math.floor(random() * kind.tags.length)];
    const ref = `${kind.repo}:${tag}`;
    if (taken.has(ref)) continue;
    taken.add(ref);
    images.push(image(kind.repo, tag, kind.mb));
  }
  return images.sort((a, b) => b.sizeBytes - a.sizeBytes);
}

/** A machine shape: what kubelet reports as capacity, and what it keeps back. */
export interface MachineShape {
  cpu: number;
  /** Memory in GiB as sold; the kernel reports a little less. */
  memoryGi: number;
  pods: number;
  /** Root disk in GiB. */
  diskGi: number;
  /** Extra capacity entries (`attachable-volumes-*`, ...). */
  extra?: Record<string, string>;
}

/** `status.capacity` and `status.allocatable` of a machine shape, as kubelet computes them. */
export function nodeResources(shape: MachineShape, random: () => number) {
  const memKi = Math.floor(shape.memoryGi * 1048576 * 0.955) - Math.floor(random() * 4096);
  const diskKi = Math.floor(shape.diskGi * 1048576 * 0.98) - Math.floor(random() * 65536);
  // kube-reserved as the GKE/EKS formulas give it, plus the eviction threshold.
  const reservedCpuM = 60 + (shape.cpu > 1 ? 10 : 0) + (shape.cpu > 2 ? 5 * (shape.cpu - 2) : 0);
  const reservedMemKi = 255 * 1024 + 11 * 1024 * shape.pods + 100 * 1024;
  const capacity: Record<string, string> = {
    ...shape.extra,
    cpu: `${shape.cpu}`,
    "ephemeral-storage": `${diskKi}Ki`,
    "hugepages-1Gi": "0",
    "hugepages-2Mi": "0",
    memory: `${memKi}Ki`,
    pods: `${shape.pods}`,
  };
  const allocatable: Record<string, string> = {
    ...capacity,
    cpu: `${shape.cpu * 1000 - reservedCpuM}m`,
    "ephemeral-storage": `${Math.floor(diskKi * 1024 * 0.9)}`,
    memory: `${memKi - reservedMemKi}Ki`,
  };
  return { capacity, allocatable };
}

const KUBELET_CONDITIONS = [
  ["MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"],
  ["DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"],
  ["PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"],
];

/** Conditions node-problem-detector adds on clouds that run it, all healthy. */
export const PROBLEM_DETECTOR_CONDITIONS = [
  ["KernelDeadlock", "KernelHasNoDeadlock", "kernel has no deadlock"],
  ["ReadonlyFilesystem", "FilesystemIsNotReadOnly", "Filesystem is not read-only"],
  ["FrequentUnregisterNetDevice", "NoFrequentUnregisterNetDevice", "node is functioning properly"],
  ["FrequentKubeletRestart", "NoFrequentKubeletRestart", "kubelet is functioning properly"],
  [
    "FrequentContainerdRestart",
    "NoFrequentContainerdRestart",
    "containerd is functioning properly",
  ],
  ["CorruptDockerOverlay2", "NoCorruptDockerOverlay2", "docker overlay2 is functioning properly"],
];

/** The node's conditions: `extra` (from other reporters) first, then kubelet's four, Ready last. */
export function nodeConditions(extra: string[][], at: string) {
  const rows = [
    ...extra.map(([type, reason, message]) => [type, "False", reason, message]),
    ...KUBELET_CONDITIONS.map(([type, reason, message]) => [type, "False", reason, message]),
    ["Ready", "True", "KubeletReady", "kubelet is posting ready status"],
  ];
  return rows.map(([type, status, reason, message]) => ({
    type,
    status,
    lastHeartbeatTime: at,
    lastTransitionTime: at,
    reason,
    message,
  }));
}

/** A fieldsV1 set naming each of `keys` as a leaf. */
export function leaves(keys: Iterable<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) out[fieldKey(k)] = {};
  return out;
}

const FIELD_KEYS = new Map<string, string>();

/** `f:<name>`, made once a name: nodes name the same fields over and over. */
function fieldKey(name: string): string {
  let key = FIELD_KEYS.get(name);
  if (key === undefined) FIELD_KEYS.set(name, key = `f:${name}`);
  return key;
}

/** A fieldsV1 set of list items merged by key `by` (conditions, addresses, taints). */
export function keyed(items: Record<string, unknown>[], by: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ".": {} };
  for (const item of items) {
    const key = JSON.stringify(Object.fromEntries(by.map((b) => [b, item[b]])));
    out[`k:${key}`] = { ".": {}, ...leaves(Object.keys(item)) };
  }
  return out;
}

/** `{ "f:<name>": set }`, or nothing when `set` is empty: for building fieldsV1 with spreads. */
export function part(name: string, set: Record<string, unknown>): Record<string, unknown> {
  return Object.keys(set).length > 0 ? { [`f:${name}`]: set } : {};
}

/** One managedFields entry (an Update), or `undefined` when its manager owns no field. */
export function managed(
  manager: string,
  fieldsV1: Record<string, unknown>,
  at: string,
  subresource?: string,
) {
  if (Object.keys(fieldsV1).length === 0) return undefined;
  return {
    manager,
    operation: "Update",
    apiVersion: "v1",
    time: at,
    fieldsType: "FieldsV1",
    fieldsV1,
    ...(subresource ? { subresource } : {}),
  };
}

/** Labels a cloud's controller sets from the instance's metadata. */
const CLOUD_LABELS = new Set([
  "beta.kubernetes.io/instance-type",
  "failure-domain.beta.kubernetes.io/region",
  "failure-domain.beta.kubernetes.io/zone",
  "node.kubernetes.io/instance-type",
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
  "topology.k8s.aws/zone-id",
]);
const KUBELET_CONDITION_TYPES = new Set(["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]);

/** The parts of a seeded Node that {@link nodeManagedFields} attributes to their managers. */
export interface SeededNode {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: { podCIDRs: string[]; taints?: unknown[] };
  status: {
    addresses: Record<string, unknown>[];
    allocatable: Record<string, string>;
    capacity: Record<string, string>;
    conditions: Record<string, unknown>[];
    nodeInfo: Record<string, string>;
    volumesInUse?: string[];
  };
}

/**
 * The managedFields of a seeded node: who set each of its fields, as the real server records
 * it. `cloudManager` owns the topology labels, providerID and addresses where there is one.
 */
export function nodeManagedFields(node: SeededNode, cloudManager: string | undefined, at: string) {
  const owners = new Map<string, { labels: string[]; annotations: string[] }>();
  const owned = (who: string) => {
    let o = owners.get(who);
    if (!o) owners.set(who, o = { labels: [], annotations: [] });
    return o;
  };
  for (const key of Object.keys(node.metadata.labels)) {
    const who = key.startsWith("node-role.kubernetes.io/") ||
        key === "node.kubernetes.io/exclude-from-external-load-balancers"
      ? "kubeadm"
      : key.startsWith("karpenter.")
      ? "karpenter"
      : CLOUD_LABELS.has(key) && cloudManager
      ? cloudManager
      : "kubelet";
    owned(who).labels.push(key);
  }
  for (const key of Object.keys(node.metadata.annotations)) {
    const who = key === "node.alpha.kubernetes.io/ttl"
      ? "kube-controller-manager"
      : key.startsWith("kubeadm.")
      ? "kubeadm"
      : key.startsWith("karpenter.")
      ? "karpenter"
      : key === "csi.volume.kubernetes.io/nodeid"
      ? "kubelet/status"
      : "kubelet";
    owned(who).annotations.push(key);
  }
  // The manager that created a map (kubelet, registering the node) owns it as a whole: ".".
  const set = (keys: string[], root: boolean) =>
    keys.length === 0 ? {} : root ? { ".": {}, ...leaves(keys) } : leaves(keys);
  const meta = (who: string, root = false) => {
    const o = owned(who);
    return part("metadata", {
      ...part("annotations", set(o.annotations, root)),
      ...part("labels", set(o.labels, root)),
    });
  };
  const { status } = node;
  const conditions = (kubelet: boolean) =>
    keyed(
      status.conditions.filter((c) => KUBELET_CONDITION_TYPES.has(c.type as string) === kubelet),
      ["type"],
    );
  const addresses = { "f:addresses": keyed(status.addresses, ["type"]) };
  const cidrs: Record<string, unknown> = { ".": {} };
  for (const cidr of node.spec.podCIDRs) cidrs[`v:${JSON.stringify(cidr)}`] = {};
  const entries = [
    managed("kubeadm", {
      ...meta("kubeadm"),
      ...(node.spec.taints ? { "f:spec": { "f:taints": {} } } : {}),
    }, at),
    managed("kubelet", {
      ...meta("kubelet", true),
      ...(cloudManager ? {} : { "f:spec": { "f:providerID": {} } }),
    }, at),
    managed("karpenter", meta("karpenter"), at),
    managed("kube-controller-manager", {
      ...meta("kube-controller-manager"),
      "f:spec": { "f:podCIDR": {}, "f:podCIDRs": cidrs },
    }, at),
    ...(cloudManager
      ? [
        managed(cloudManager, { ...meta(cloudManager), "f:spec": { "f:providerID": {} } }, at),
        managed(cloudManager, { "f:status": addresses }, at, "status"),
      ]
      : []),
    status.volumesInUse
      ? managed(
        "kube-controller-manager",
        { "f:status": { "f:volumesAttached": {} } },
        at,
        "status",
      )
      : undefined,
    status.conditions.length > 4
      ? managed(
        "node-problem-detector",
        { "f:status": { "f:conditions": conditions(false) } },
        at,
        "status",
      )
      : undefined,
    managed(
      "kubelet",
      {
        ...meta("kubelet/status"),
        "f:status": {
          ...(cloudManager ? {} : addresses),
          "f:allocatable": leaves(Object.keys(status.allocatable)),
          "f:capacity": leaves(Object.keys(status.capacity)),
          "f:conditions": conditions(true),
          "f:daemonEndpoints": { "f:kubeletEndpoint": { "f:Port": {} } },
          "f:images": {},
          "f:nodeInfo": leaves(Object.keys(status.nodeInfo)),
          ...(status.volumesInUse ? { "f:volumesInUse": {} } : {}),
        },
      },
      at,
      "status",
    ),
  ];
  return entries.filter((e) => e !== undefined);
}
