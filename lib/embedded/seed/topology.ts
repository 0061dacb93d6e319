import type { KubeObject } from "../store/objects.ts";
import {
  namespace,
  node,
  nodeAddress,
  nodeIndexOf,
  nodeLease,
  pod,
  staticPod,
  suffix,
  uidFor,
} from "./builders.ts";
import { rfc3339 } from "../store/times.ts";
import { seedNodeClaims } from "./karpenter_claims.ts";
import { seedMachines } from "./cluster_api_objects.ts";
import type { NodeCloud, NodeManager } from "../nodes/clouds.ts";
import { systemClock } from "../../base/clock.ts";

/** The addresses of the topology's nodes, named beside {@link workerName} for the tests that use both. */
export { nodeAddress, nodeIndexOf };

/** Options of {@link defaultTopology}. */
export interface TopologyOptions {
  /** Number of workers (default 3: `heal-worker`, `heal-worker2`, `heal-worker3`). */
  workers?: number;
  /** Creation time of every object, ms since the epoch (default now). */
  now?: number;
  /** Kubelet version the nodes report (default `v1.29.2`, as kind's node image). */
  kubeletVersion?: string;
  /**
   * Whose nodes the seeded Nodes look like (default `aws`, an EKS cluster's): their labels,
   * annotations, providerID, extra addresses, machine types and images. `kind` gives kind's
   * own. Names, InternalIPs, pod CIDRs and the pods are the same in every style.
   */
  cloud?: NodeCloud;
  /**
   * Who made the workers (default `karpenter`: each has a NodeClaim and Karpenter's labels).
   * `cluster-api`: MachineDeployment `heal-md-0` in `default`, its MachineSet and one Machine
   * a worker, whose Node carries CAPI's `cluster.x-k8s.io/` annotations.
   */
  nodeManager?: NodeManager;
}

/** The name of worker `i` (1-based) in the kind naming pattern: heal-worker, heal-worker2, ... */
export function workerName(i: number): string {
  return i === 1 ? "heal-worker" : `heal-worker${i}`;
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

/** Where the workloads of a topology go: its nodes and the creation time of every object. */
interface Placement {
  nodeNames: string[];
  at: string;
  /** Pods placed on each node so far, by node index; {@link workload} counts its own in. */
  podCounts: number[];
}

/** The objects of a workload (its controllers and pods, one on each of its nodes). */
function workload(w: Workload, placement: Placement): KubeObject[] {
  const { nodeNames, at, podCounts } = placement;
  const uid = uidFor(`${w.kind}/${w.namespace}/${w.name}`);
  const selector = { matchLabels: w.labels };
  const replicas = w.nodes.length;
  const template = {
    metadata: { labels: w.labels },
    spec: {
      containers: [{ name: "main", image: w.image }],
      ...(w.volumes ? { volumes: w.volumes } : {}),
      ...(w.hostNetwork ? { hostNetwork: true } : {}),
      ...(w.priorityClassName ? { priorityClassName: w.priorityClassName } : {}),
      ...(w.kind === "DaemonSet" ? { tolerations: [{ operator: "Exists" }] } : {}),
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

/** How long before the cluster's start its seeded objects were made. */
export const SEED_AGE_MS = 3_600_000;

/**
 * The objects of a cluster like the kind cluster users know: `heal-control-plane`
 * (172.18.0.2) and workers `heal-worker`, `heal-worker2`, ... (172.18.0.3 upwards), all Ready;
 * control-plane static pods; a `kube-proxy` DaemonSet pod on every node; a pod of the
 * `web` Deployment on every worker; on `heal-worker3`, a standalone pod and a pod of the
 * `cache` Deployment with an `emptyDir` volume. The Nodes are full-sized, as a cloud's are
 * (see {@link TopologyOptions.cloud}). Karpenter made every worker, each has a NodeClaim; or
 * Cluster API did, each has a Machine (see {@link TopologyOptions.nodeManager}).
 */
export function defaultTopology(options: TopologyOptions = {}): KubeObject[] {
  const workers = options.workers ?? 3;
  if (!Number.isInteger(workers) || workers < 0) {
    throw new RangeError(`Cannot build topology: workers must be a whole number, got "${workers}"`);
  }
  // Made an hour ago, as a cluster that has been up a while: a Node made since (a replacement's
  // successor) is told apart by its creation time.
  const at = rfc3339((options.now ?? systemClock().getTime()) - SEED_AGE_MS);
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
  const { cloud, nodeManager = "karpenter" } = options;
  names.forEach((name, i) =>
    objects.push(node({ name, index: i, controlPlane: i === 0, kubelet, cloud, nodeManager }, at))
  );
  objects.push(...(nodeManager === "karpenter" ? seedNodeClaims : seedMachines)(objects, at));
  names.forEach((name) => objects.push(nodeLease(name, at)));
  for (const component of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
    objects.push(staticPod(component, names[0], at));
  }
  const podCounts = names.map(() => 0);
  const placement: Placement = { nodeNames: names, at, podCounts };
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
    placement,
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
      placement,
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
      placement,
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
