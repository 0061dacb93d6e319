import type { KubeObject } from "./objects.ts";
import { fnv1a32 } from "../fnv.ts";

/** Options of {@link defaultTopology}. */
export interface TopologyOptions {
  /** Number of workers (default 3: `heal-worker`, `heal-worker2`, `heal-worker3`). */
  workers?: number;
  /** Creation time of every object, ms since the epoch (default now). */
  now?: number;
  /** Kubelet version the nodes report (default `v1.29.2`, as kind's node image). */
  kubeletVersion?: string;
}

/** The name of worker `i` (1-based) in the kind naming pattern: heal-worker, heal-worker2, ... */
export function workerName(i: number): string {
  return i === 1 ? "heal-worker" : `heal-worker${i}`;
}

/** The InternalIP of node `index` (0 is the control plane): 172.18.0.2 upwards, as kind's docker network. */
export function nodeAddress(index: number): string {
  const n = (172 << 24 | 18 << 16) + 2 + index;
  return [n >>> 24 & 255, n >>> 16 & 255, n >>> 8 & 255, n & 255].join(".");
}

const SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789";

/** A deterministic 5-character name suffix like the ones controllers generate. */
function suffix(seed: string): string {
  let h = fnv1a32(seed);
  let out = "";
  for (let i = 0; i < 5; i++) {
    out += SUFFIX_CHARS[h % SUFFIX_CHARS.length];
    h = Math.imul(h ^ (i + 1), 2654435761) >>> 0;
  }
  return out;
}

function uidFor(seed: string): string {
  const hex = [...seed].reduce(
    (acc, ch, i) => acc.map((v, j) => (v * 31 + ch.charCodeAt(0) * (i + j + 1)) % 65536),
    [0x1f2e, 0x3d4c, 0x5b6a, 0x7988, 0x97a6, 0xb5c4, 0xd3e2, 0xf100],
  ).map((v) => v.toString(16).padStart(4, "0"));
  return `${hex[0]}${hex[1]}-${hex[2]}-4${hex[3].slice(1)}-8${hex[4].slice(1)}-${
    hex.slice(5).join("")
  }`;
}

function timestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

function condition(type: string, status: string, reason: string, message: string, at: string) {
  return { type, status, lastHeartbeatTime: at, lastTransitionTime: at, reason, message };
}

const NODE_RESOURCES = {
  cpu: "8",
  "ephemeral-storage": "102626232Ki",
  "hugepages-1Gi": "0",
  "hugepages-2Mi": "0",
  memory: "16318012Ki",
  pods: "110",
};

function node(name: string, index: number, controlPlane: boolean, at: string, kubelet: string) {
  const labels: Record<string, string> = {
    "beta.kubernetes.io/arch": "amd64",
    "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    "kubernetes.io/hostname": name,
    "kubernetes.io/os": "linux",
  };
  if (controlPlane) {
    labels["node-role.kubernetes.io/control-plane"] = "";
    labels["node.kubernetes.io/exclude-from-external-load-balancers"] = "";
  }
  const cidr = `10.244.${index}.0/24`;
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      uid: uidFor(`node/${name}`),
      creationTimestamp: at,
      labels,
      annotations: {
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
      },
    },
    spec: {
      podCIDR: cidr,
      podCIDRs: [cidr],
      providerID: `kind://docker/heal/${name}`,
      ...(controlPlane
        ? { taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] }
        : {}),
    },
    status: {
      addresses: [
        { type: "InternalIP", address: nodeAddress(index) },
        { type: "Hostname", address: name },
      ],
      allocatable: NODE_RESOURCES,
      capacity: NODE_RESOURCES,
      conditions: [
        condition(
          "MemoryPressure",
          "False",
          "KubeletHasSufficientMemory",
          "kubelet has sufficient memory available",
          at,
        ),
        condition(
          "DiskPressure",
          "False",
          "KubeletHasNoDiskPressure",
          "kubelet has no disk pressure",
          at,
        ),
        condition(
          "PIDPressure",
          "False",
          "KubeletHasSufficientPID",
          "kubelet has sufficient PID available",
          at,
        ),
        condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", at),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: "amd64",
        bootID: uidFor(`boot/${name}`),
        containerRuntimeVersion: "containerd://1.7.13",
        kernelVersion: "6.1.0-18-amd64",
        kubeProxyVersion: kubelet,
        kubeletVersion: kubelet,
        machineID: uidFor(`machine/${name}`).replaceAll("-", ""),
        operatingSystem: "linux",
        osImage: "Debian GNU/Linux 12 (bookworm)",
        systemUUID: uidFor(`system/${name}`),
      },
    },
  };
}

interface PodSpecInput {
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

function pod(p: PodSpecInput, at: string): KubeObject {
  const podIP = p.hostNetwork
    ? nodeAddress(p.nodeIndex)
    : `10.244.${p.nodeIndex}.${p.podIndex + 2}`;
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

interface Workload {
  kind: "Deployment" | "DaemonSet";
  name: string;
  namespace: string;
  labels: Record<string, string>;
  image: string;
  volumes?: Record<string, unknown>[];
  /** Node indexes the workload's pods run on, one pod each. */
  nodes: number[];
  hostNetwork?: boolean;
  priorityClassName?: string;
}

function workload(w: Workload, nodeNames: string[], at: string, podCounts: number[]): KubeObject[] {
  const uid = uidFor(`${w.kind}/${w.namespace}/${w.name}`);
  const selector = { matchLabels: w.labels };
  const replicas = w.nodes.length;
  const template = {
    metadata: { labels: w.labels },
    spec: {
      containers: [{ name: "main", image: w.image }],
      ...(w.volumes ? { volumes: w.volumes } : {}),
    },
  };
  const objects: KubeObject[] = [];
  let owner: { apiVersion: string; kind: string; name: string; uid: string };
  let podPrefix: string;
  let podLabels = w.labels;
  if (w.kind === "Deployment") {
    const hash = suffix(`${w.namespace}/${w.name}/hash`) + suffix(`${w.name}/h2`);
    const rsName = `${w.name}-${hash}`;
    const rsUid = uidFor(`ReplicaSet/${w.namespace}/${rsName}`);
    podLabels = { ...w.labels, "pod-template-hash": hash };
    const readyStatus = {
      replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      observedGeneration: 1,
    };
    objects.push({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: w.name,
        namespace: w.namespace,
        uid,
        creationTimestamp: at,
        labels: w.labels,
      },
      spec: { replicas, selector, template, strategy: { type: "RollingUpdate" } },
      status: { ...readyStatus, updatedReplicas: replicas },
    });
    objects.push({
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: {
        name: rsName,
        namespace: w.namespace,
        uid: rsUid,
        creationTimestamp: at,
        labels: podLabels,
        ownerReferences: [{
          apiVersion: "apps/v1",
          kind: "Deployment",
          name: w.name,
          uid,
          controller: true,
          blockOwnerDeletion: true,
        }],
      },
      spec: {
        replicas,
        selector: { matchLabels: podLabels },
        template: { ...template, metadata: { labels: podLabels } },
      },
      status: { ...readyStatus, fullyLabeledReplicas: replicas },
    });
    owner = { apiVersion: "apps/v1", kind: "ReplicaSet", name: rsName, uid: rsUid };
    podPrefix = rsName;
  } else {
    const scheduled = {
      currentNumberScheduled: replicas,
      desiredNumberScheduled: replicas,
      numberAvailable: replicas,
      numberMisscheduled: 0,
      numberReady: replicas,
      observedGeneration: 1,
      updatedNumberScheduled: replicas,
    };
    objects.push({
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: {
        name: w.name,
        namespace: w.namespace,
        uid,
        creationTimestamp: at,
        labels: w.labels,
      },
      spec: { selector, template, updateStrategy: { type: "RollingUpdate" } },
      status: scheduled,
    });
    owner = { apiVersion: "apps/v1", kind: "DaemonSet", name: w.name, uid };
    podPrefix = w.name;
  }
  for (const index of w.nodes) {
    const name = `${podPrefix}-${suffix(`${w.namespace}/${w.name}/${index}`)}`;
    objects.push(pod({
      name,
      namespace: w.namespace,
      nodeName: nodeNames[index],
      nodeIndex: index,
      podIndex: podCounts[index]++,
      labels: podLabels,
      image: w.image,
      owner,
      volumes: w.volumes,
      hostNetwork: w.hostNetwork,
      priorityClassName: w.priorityClassName,
      tolerations: w.kind === "DaemonSet" ? [{ operator: "Exists" }] : undefined,
    }, at));
  }
  return objects;
}

function namespace(name: string, at: string): KubeObject {
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

function nodeLease(name: string, at: string): KubeObject {
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

function staticPod(component: string, nodeName: string, at: string): KubeObject {
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

/**
 * The objects of a cluster like the kind cluster users know: `heal-control-plane`
 * (172.18.0.2) and workers `heal-worker`, `heal-worker2`, ... (172.18.0.3 upwards), all Ready;
 * control-plane static pods; a `kube-proxy` DaemonSet pod on every node; a pod of the
 * `web` Deployment on every worker; on `heal-worker3`, a standalone pod and a pod of the
 * `cache` Deployment with an `emptyDir` volume.
 */
export function defaultTopology(options: TopologyOptions = {}): KubeObject[] {
  const workers = options.workers ?? 3;
  if (!Number.isInteger(workers) || workers < 0) {
    throw new RangeError(`Cannot build topology: workers must be a whole number, got "${workers}"`);
  }
  const at = timestamp(options.now ?? Date.now());
  const kubelet = options.kubeletVersion ?? "v1.29.2";
  const names = ["heal-control-plane"];
  for (let i = 1; i <= workers; i++) names.push(workerName(i));
  const objects: KubeObject[] = [
    "default",
    "kube-node-lease",
    "kube-public",
    "kube-system",
    "node-heal",
  ].map(
    (n) => namespace(n, at),
  );
  names.forEach((name, i) => objects.push(node(name, i, i === 0, at, kubelet)));
  names.forEach((name) => objects.push(nodeLease(name, at)));
  for (const component of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
    objects.push(staticPod(component, names[0], at));
  }
  const podCounts = names.map(() => 0);
  const workerIndexes = names.map((_, i) => i).slice(1);
  objects.push(...workload(
    {
      kind: "DaemonSet",
      name: "kube-proxy",
      namespace: "kube-system",
      labels: { "k8s-app": "kube-proxy" },
      image: "registry.k8s.io/kube-proxy:v1.29.2",
      nodes: names.map((_, i) => i),
      hostNetwork: true,
      priorityClassName: "system-node-critical",
    },
    names,
    at,
    podCounts,
  ));
  if (workerIndexes.length > 0) {
    objects.push(...workload(
      {
        kind: "Deployment",
        name: "web",
        namespace: "default",
        labels: { app: "web" },
        image: "nginx:1.25",
        nodes: workerIndexes,
      },
      names,
      at,
      podCounts,
    ));
  }
  const third = names.indexOf(workerName(3));
  if (third > 0) {
    objects.push(...workload(
      {
        kind: "Deployment",
        name: "cache",
        namespace: "default",
        labels: { app: "cache" },
        image: "redis:7.2",
        volumes: [{ name: "scratch", emptyDir: {} }],
        nodes: [third],
      },
      names,
      at,
      podCounts,
    ));
    objects.push(pod({
      name: "standalone",
      namespace: "default",
      nodeName: names[third],
      nodeIndex: third,
      podIndex: podCounts[third]++,
      labels: { run: "standalone" },
      image: "busybox:1.36",
    }, at));
  }
  return objects;
}
