// The objects of the default topology, one builder a kind: nodes, pods, namespaces, node leases
// and static pods as kind creates them, with stable uids and name suffixes.

import { type KubeObject, NAME_SUFFIX_CHARS } from "../store/objects.ts";
import { fnv1a32 } from "../../base/fnv.ts";
import { cloudNode, type NodeCloud, type NodeManager } from "../nodes/clouds.ts";
import { imagePool, systemImages } from "../nodes/images.ts";
import {
  nodeConditions,
  nodeImages,
  nodeManagedFields,
  nodeResources,
  seededRandom,
} from "../nodes/status.ts";

/** The InternalIP of node `index` (0 is the control plane): 172.18.0.2 upwards, as kind's docker network. */
export function nodeAddress(index: number): string {
  const n = (172 << 24 | 18 << 16) + 2 + index;
  return [n >>> 24 & 255, n >>> 16 & 255, n >>> 8 & 255, n & 255].join(".");
}

/** The index of the node whose InternalIP is `address` ({@link nodeAddress}'s inverse). */
export function nodeIndexOf(address: string): number {
  const [, , third, fourth] = address.split(".").map(Number);
  return third * 256 + fourth - 2;
}

/** A deterministic 5-character name suffix like the ones controllers generate. */
export function suffix(seed: string): string {
  let h = fnv1a32(seed);
  let out = "";
  for (let i = 0; i < 5; i++) {
    out += NAME_SUFFIX_CHARS[h % NAME_SUFFIX_CHARS.length];
    h = Math.imul(h ^ (i + 1), 2654435761) >>> 0;
  }
  return out;
}

export function uidFor(seed: string): string {
  const hex = [...seed].reduce(
    (acc, ch, i) => acc.map((v, j) => (v * 31 + ch.charCodeAt(0) * (i + j + 1)) % 65536),
    [0x1f2e, 0x3d4c, 0x5b6a, 0x7988, 0x97a6, 0xb5c4, 0xd3e2, 0xf100],
  ).map((v) => v.toString(16).padStart(4, "0"));
  return `${hex[0]}${hex[1]}-${hex[2]}-4${hex[3].slice(1)}-8${hex[4].slice(1)}-${
    hex.slice(5).join("")
  }`;
}

/** The pod CIDR of node `index`: 10.244.<index>.0/24 as kind's, then on through 10.<n>.<m>.0/24. */
export function podCidr(index: number): string {
  return index < 256 ? `10.244.${index}.0/24` : `10.${index >> 8}.${index & 255}.0/24`;
}

/** The first three octets of the pod addresses of node `index` (see {@link podCidr}). */
function podNet(index: number): string {
  return podCidr(index).slice(0, -"0/24".length - 1);
}

function sorted(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export interface NodeSpecInput {
  name: string;
  /** Position in the topology (0 is the control plane): gives the address and pod CIDR. */
  index: number;
  controlPlane: boolean;
  /** The kubelet version the node reports. */
  kubelet: string;
  /** Whose nodes these look like (default `aws`). */
  cloud?: NodeCloud;
  /** Its node pool; drawn from the name when not given. */
  pool?: string;
  /** Who made it, if a worker (default `karpenter`). */
  nodeManager?: NodeManager;
}

/**
 * A Node as a real cluster's look: 10-30 KB of JSON with its cloud's labels and annotations,
 * up to 50 images, capacity, conditions and the managedFields of the agents that set them.
 * Everything is derived from the name and index, so a seed is the same on every run.
 */
export function node(n: NodeSpecInput, at: string) {
  const { name, index, controlPlane, kubelet } = n;
  const cloud = n.cloud ?? "aws";
  const random = seededRandom(`node/${name}`);
  const address = nodeAddress(index);
  const c = cloudNode(
    { cloud, name, index, controlPlane, address, pool: n.pool, nodeManager: n.nodeManager },
    random,
  );
  const labels: Record<string, string> = {
    ...c.labels,
    "beta.kubernetes.io/arch": c.arch,
    "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": c.arch,
    "kubernetes.io/hostname": name,
    "kubernetes.io/os": "linux",
  };
  const annotations: Record<string, string> = {
    ...c.annotations,
    "node.alpha.kubernetes.io/ttl": "0",
    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
  };
  if (controlPlane) {
    labels["node-role.kubernetes.io/control-plane"] = "";
    labels["node.kubernetes.io/exclude-from-external-load-balancers"] = "";
    annotations["kubeadm.alpha.kubernetes.io/cri-socket"] =
      "unix:///run/containerd/containerd.sock";
  }
  const cidr = podCidr(index);
  const { capacity, allocatable } = nodeResources(c.shape, random);
  const images = nodeImages(systemImages(cloud, kubelet), imagePool(cloud), random);
  const status = {
    addresses: c.addresses,
    allocatable,
    capacity,
    conditions: nodeConditions(c.conditions, at),
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    images,
    nodeInfo: {
      architecture: c.arch,
      bootID: uidFor(`boot/${name}`),
      containerRuntimeVersion: c.os.containerRuntimeVersion,
      kernelVersion: c.os.kernelVersion,
      kubeProxyVersion: kubelet,
      kubeletVersion: kubelet,
      machineID: uidFor(`machine/${name}`).replaceAll("-", ""),
      operatingSystem: "linux",
      osImage: c.os.osImage,
      systemUUID: uidFor(`system/${name}`),
    },
    ...(c.volumes.length > 0
      ? {
        volumesAttached: c.volumes.map((v) => ({ name: v, devicePath: "" })),
        volumesInUse: [...c.volumes],
      }
      : {}),
  };
  const spec = {
    podCIDR: cidr,
    podCIDRs: [cidr],
    providerID: c.providerID,
    ...(controlPlane
      ? { taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] }
      : {}),
  };
  const metadata = { labels: sorted(labels), annotations: sorted(annotations) };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      uid: uidFor(`node/${name}`),
      creationTimestamp: at,
      ...metadata,
      managedFields: nodeManagedFields({ metadata, spec, status }, c.cloudManager, at),
    },
    spec,
    status,
  };
}

export interface PodSpecInput {
  name: string;
  namespace: string;
  nodeName: string;
  nodeIndex: number;
  podIndex: number;
  labels: Record<string, string>;
  image: string;
  owner?: { apiVersion: string; kind: string; name: string; uid: string };
  annotations?: Record<string, string>;
  volumes?: Record<string, unknown>[];
  hostNetwork?: boolean;
  priorityClassName?: string;
  tolerations?: Record<string, unknown>[];
}

export function pod(p: PodSpecInput, at: string): KubeObject {
  const podIP = p.hostNetwork
    ? nodeAddress(p.nodeIndex)
    : `${podNet(p.nodeIndex)}.${p.podIndex + 2}`;
  const container = {
    name: p.name.split("-")[0] === "kube" ? p.labels["k8s-app"] ?? "main" : "main",
    image: p.image,
    imagePullPolicy: "IfNotPresent",
    resources: {},
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
    ...(p.volumes?.length
      ? { volumeMounts: p.volumes.map((v) => ({ name: v.name, mountPath: `/${v.name}` })) }
      : {}),
  };
  const ready = (type: string) => ({
    type,
    status: "True",
    lastProbeTime: null,
    lastTransitionTime: at,
  });
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: p.name,
      namespace: p.namespace,
      uid: uidFor(`pod/${p.namespace}/${p.name}`),
      creationTimestamp: at,
      labels: p.labels,
      ...(p.annotations ? { annotations: p.annotations } : {}),
      ...(p.owner
        ? { ownerReferences: [{ ...p.owner, controller: true, blockOwnerDeletion: true }] }
        : {}),
    },
    spec: {
      containers: [container],
      dnsPolicy: p.hostNetwork ? "ClusterFirstWithHostNet" : "ClusterFirst",
      enableServiceLinks: true,
      ...(p.hostNetwork ? { hostNetwork: true } : {}),
      nodeName: p.nodeName,
      preemptionPolicy: "PreemptLowerPriority",
      priority: p.priorityClassName ? 2000001000 : 0,
      ...(p.priorityClassName ? { priorityClassName: p.priorityClassName } : {}),
      restartPolicy: "Always",
      schedulerName: "default-scheduler",
      securityContext: {},
      serviceAccountName: "default",
      terminationGracePeriodSeconds: 30,
      tolerations: p.tolerations ?? [
        {
          effect: "NoExecute",
          key: "node.kubernetes.io/not-ready",
          operator: "Exists",
          tolerationSeconds: 300,
        },
        {
          effect: "NoExecute",
          key: "node.kubernetes.io/unreachable",
          operator: "Exists",
          tolerationSeconds: 300,
        },
      ],
      ...(p.volumes?.length ? { volumes: p.volumes } : {}),
    },
    status: {
      phase: "Running",
      conditions: [
        ready("PodReadyToStartContainers"),
        ready("Initialized"),
        ready("Ready"),
        ready("ContainersReady"),
        ready("PodScheduled"),
      ],
      hostIP: nodeAddress(p.nodeIndex),
      hostIPs: [{ ip: nodeAddress(p.nodeIndex) }],
      podIP,
      podIPs: [{ ip: podIP }],
      startTime: at,
      qosClass: "BestEffort",
      containerStatuses: [{
        name: container.name,
        image: p.image,
        imageID: `${p.image.split(":")[0]}@sha256:${uidFor(p.image).replaceAll("-", "")}`,
        containerID: `containerd://${uidFor(`c/${p.namespace}/${p.name}`).replaceAll("-", "")}`,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: at } },
        lastState: {},
      }],
    },
  };
}

export function namespace(name: string, at: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      uid: uidFor(`ns/${name}`),
      creationTimestamp: at,
      labels: { "kubernetes.io/metadata.name": name },
    },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}

export function nodeLease(name: string, at: string): KubeObject {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name,
      namespace: "kube-node-lease",
      uid: uidFor(`lease/${name}`),
      creationTimestamp: at,
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name, uid: uidFor(`node/${name}`) }],
    },
    spec: {
      holderIdentity: name,
      leaseDurationSeconds: 40,
      renewTime: at.replace("Z", ".000000Z"),
    },
  };
}

export function staticPod(component: string, nodeName: string, at: string): KubeObject {
  const p = pod({
    name: `${component}-${nodeName}`,
    namespace: "kube-system",
    nodeName,
    nodeIndex: 0,
    podIndex: 0,
    labels: { component, tier: "control-plane" },
    image: `registry.k8s.io/${component}:v1.29.2`,
    hostNetwork: true,
    priorityClassName: "system-node-critical",
    tolerations: [{ effect: "NoExecute", operator: "Exists" }],
    annotations: {
      "kubernetes.io/config.hash": suffix(component) + suffix(`${component}/2`),
      "kubernetes.io/config.mirror": suffix(component) + suffix(`${component}/2`),
      "kubernetes.io/config.source": "file",
    },
    owner: { apiVersion: "v1", kind: "Node", name: nodeName, uid: uidFor(`node/${nodeName}`) },
  }, at);
  // Mirror pods are controlled by their Node, without blockOwnerDeletion.
  p.metadata!.ownerReferences = [
    {
      apiVersion: "v1",
      kind: "Node",
      name: nodeName,
      uid: uidFor(`node/${nodeName}`),
      controller: true,
    },
  ];
  return p;
}
