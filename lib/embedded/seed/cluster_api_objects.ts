// Cluster API's objects as the embedded cluster seeds them when Cluster API manages the workers:
// MachineDeployment `heal-md-0` in namespace `default`, its MachineSet, one Machine a worker, and
// the annotations CAPI's Machine controller puts on each worker Node. Pure functions;
// controllers/cluster_api.ts acts.

import { type KubeObject, pathValue } from "../store/objects.ts";
import type { NodeCloud } from "../nodes/clouds.ts";
import { cloudOfProviderID } from "./karpenter_claims.ts";
import { suffix, uidFor } from "./builders.ts";

/** The apiVersion of Cluster API's objects. */
export const CAPI_API_VERSION = "cluster.x-k8s.io/v1beta1";
/** The finalizer CAPI puts on Machines: the Node and the instance go before the Machine does. */
export const MACHINE_FINALIZER = "machine.cluster.x-k8s.io";
/** The Cluster the embedded cluster is, to Cluster API. */
export const CLUSTER_NAME = "heal";
/** Where the Cluster API objects live. */
export const CAPI_NAMESPACE = "default";
/** The one MachineDeployment of the workers. */
export const DEPLOYMENT_NAME = "heal-md-0";

/** The Node annotations CAPI's Machine controller sets (`cluster.x-k8s.io/...`). */
export const NODE_ANNOTATIONS = {
  clusterName: "cluster.x-k8s.io/cluster-name",
  clusterNamespace: "cluster.x-k8s.io/cluster-namespace",
  machine: "cluster.x-k8s.io/machine",
  ownerKind: "cluster.x-k8s.io/owner-kind",
  ownerName: "cluster.x-k8s.io/owner-name",
} as const;

/** The InfraMachine kind of each cloud's infrastructure provider (CAPA, CAPG, CAPZ, CAPD). */
const INFRASTRUCTURE: Record<NodeCloud, { apiVersion: string; kind: string }> = {
  aws: { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta2", kind: "AWSMachine" },
  azure: { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: "AzureMachine" },
  gcp: { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: "GCPMachine" },
  kind: { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta1", kind: "DockerMachine" },
};

/** The conditions of a Machine whose Node is up, as CAPI v1beta1 sets them. */
const MACHINE_CONDITIONS = ["Ready", "BootstrapReady", "InfrastructureReady", "NodeHealthy"];

/** A MachineSet: who owns it and which labels its Machines carry. */
export interface MachineSetRef {
  name: string;
  uid: string;
  /** Its MachineDeployment's name. */
  deployment: string;
  /** The `machine-template-hash` label of its Machines. */
  templateHash: string;
}

/**
 * A Machine name as the MachineSet controller generates them, `<machineset>-<5 characters>`,
 * derived from `seed` and not in `taken` (tried again with another seed on a clash).
 */
export function machineName(
  machineSet: string,
  seed: string,
  taken: (name: string) => boolean,
): string {
  for (let attempt = 0;; attempt++) {
    const name = `${machineSet}-${suffix(attempt === 0 ? seed : `${seed}/${attempt}`)}`;
    if (!taken(name)) return name;
  }
}

/** The labels of a MachineDeployment's MachineSets and Machines (and its selector). */
function deploymentLabels(deployment: string): Record<string, string> {
  return {
    "cluster.x-k8s.io/cluster-name": CLUSTER_NAME,
    "cluster.x-k8s.io/deployment-name": deployment,
  };
}

/** The labels of a MachineSet (and its selector): its template's hash besides its deployment's. */
function setLabels(set: MachineSetRef): Record<string, string> {
  return { ...deploymentLabels(set.deployment), "machine-template-hash": set.templateHash };
}

/** The labels of a MachineSet's Machines: its own, and its name. */
function machineLabels(set: MachineSetRef): Record<string, string> {
  return { ...setLabels(set), "cluster.x-k8s.io/set-name": set.name };
}

interface NodeView {
  metadata?: { name?: string; uid?: string };
  spec?: { providerID?: string };
  status?: {
    addresses?: { type: string; address: string }[];
    nodeInfo?: Record<string, string>;
  };
}

/**
 * The Machine of `node` in MachineSet `machineSet`, named `name`, created at `at`: Running, its
 * Node in `status.nodeRef`, bootstrapped by kubeadm on its cloud's InfraMachine.
 */
export function machineFor(
  node: KubeObject,
  options: { name: string; machineSet: MachineSetRef; at: string; namespace?: string },
): KubeObject {
  const { name, machineSet, at, namespace = CAPI_NAMESPACE } = options;
  const n = node as NodeView;
  const providerID = n.spec?.providerID ?? "";
  const version = n.status?.nodeInfo?.kubeletVersion ?? "v1.29.2";
  const ref = (apiVersion: string, kind: string) => ({
    apiVersion,
    kind,
    name,
    namespace,
    uid: uidFor(`${kind}/${namespace}/${name}`),
  });
  const infrastructure = INFRASTRUCTURE[cloudOfProviderID(providerID)];
  return {
    apiVersion: CAPI_API_VERSION,
    kind: "Machine",
    metadata: {
      name,
      namespace,
      uid: uidFor(`machine/${namespace}/${name}`),
      creationTimestamp: at,
      labels: machineLabels(machineSet),
      finalizers: [MACHINE_FINALIZER],
      ownerReferences: [{
        apiVersion: CAPI_API_VERSION,
        kind: "MachineSet",
        name: machineSet.name,
        uid: machineSet.uid,
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
    spec: {
      clusterName: CLUSTER_NAME,
      bootstrap: {
        configRef: ref("bootstrap.cluster.x-k8s.io/v1beta1", "KubeadmConfig"),
        dataSecretName: name,
      },
      infrastructureRef: ref(infrastructure.apiVersion, infrastructure.kind),
      providerID,
      version,
      nodeDeletionTimeout: "10s",
    },
    status: {
      phase: "Running",
      bootstrapReady: true,
      infrastructureReady: true,
      nodeRef: { apiVersion: "v1", kind: "Node", name: n.metadata?.name, uid: n.metadata?.uid },
      addresses: (n.status?.addresses ?? []).map((a) => ({ ...a })),
      ...(n.status?.nodeInfo ? { nodeInfo: { ...n.status.nodeInfo } } : {}),
      lastUpdated: at,
      observedGeneration: 1,
      conditions: MACHINE_CONDITIONS.map((type) => ({
        type,
        status: "True",
        lastTransitionTime: at,
      })),
    },
  };
}

/**
 * The annotations CAPI's Machine controller puts on the Node of Machine `machine` of
 * `machineSet`, both in `namespace`.
 */
export function nodeAnnotations(
  machine: string,
  machineSet: string,
  namespace = CAPI_NAMESPACE,
): Record<string, string> {
  return {
    [NODE_ANNOTATIONS.clusterName]: CLUSTER_NAME,
    [NODE_ANNOTATIONS.clusterNamespace]: namespace,
    [NODE_ANNOTATIONS.machine]: machine,
    [NODE_ANNOTATIONS.ownerKind]: "MachineSet",
    [NODE_ANNOTATIONS.ownerName]: machineSet,
  };
}

/** The MachineSet of the seeded MachineDeployment. */
export function seedMachineSet(): MachineSetRef {
  const name = `${DEPLOYMENT_NAME}-${suffix(`machineset/${DEPLOYMENT_NAME}`)}`;
  return {
    name,
    uid: uidFor(`machineset/${name}`),
    deployment: DEPLOYMENT_NAME,
    templateHash: String(BigInt(`0x${uidFor(`hash/${name}`).slice(0, 8)}`)),
  };
}

/**
 * The Cluster API objects of the seeded `objects` (MachineDeployment, MachineSet, one Machine for
 * each worker Node), as one Running MachineDeployment of the workers. Adds CAPI's annotations to
 * the worker Nodes in `objects`, as its Machine controller does once they joined.
 */
export function seedMachines(objects: KubeObject[], at: string): KubeObject[] {
  const workers = objects.filter((o) =>
    o.kind === "Node" && !("node-role.kubernetes.io/control-plane" in (o.metadata?.labels ?? {}))
  );
  const set = seedMachineSet();
  const taken = new Set<string>();
  const machines = workers.map((node) => {
    const name = machineName(set.name, `machine/${node.metadata?.name}`, (n) => taken.has(n));
    taken.add(name);
    node.metadata = {
      ...node.metadata,
      annotations: { ...node.metadata?.annotations, ...nodeAnnotations(name, set.name) },
    };
    return machineFor(node, { name, machineSet: set, at });
  });
  const replicas = workers.length;
  const version = String(pathValue(machines[0], "spec.version") ?? "v1.29.2");
  const cloud = cloudOfProviderID(String(pathValue(workers[0], "spec.providerID") ?? ""));
  const template = (labels: Record<string, string>) => ({
    metadata: { labels },
    spec: {
      clusterName: CLUSTER_NAME,
      version,
      bootstrap: {
        configRef: {
          apiVersion: "bootstrap.cluster.x-k8s.io/v1beta1",
          kind: "KubeadmConfigTemplate",
          name: DEPLOYMENT_NAME,
        },
      },
      infrastructureRef: {
        apiVersion: INFRASTRUCTURE[cloud].apiVersion,
        kind: `${INFRASTRUCTURE[cloud].kind}Template`,
        name: DEPLOYMENT_NAME,
      },
    },
  });
  const ready = { replicas, readyReplicas: replicas, availableReplicas: replicas };
  const owner = (kind: string, name: string, uid: string) => ({
    ownerReferences: [{
      apiVersion: CAPI_API_VERSION,
      kind,
      name,
      uid,
      controller: true,
      blockOwnerDeletion: true,
    }],
  });
  const deploymentUid = uidFor(`machinedeployment/${DEPLOYMENT_NAME}`);
  const deployment: KubeObject = {
    apiVersion: CAPI_API_VERSION,
    kind: "MachineDeployment",
    metadata: {
      name: DEPLOYMENT_NAME,
      namespace: CAPI_NAMESPACE,
      uid: deploymentUid,
      creationTimestamp: at,
      labels: { "cluster.x-k8s.io/cluster-name": CLUSTER_NAME },
      ...owner("Cluster", CLUSTER_NAME, uidFor(`cluster/${CLUSTER_NAME}`)),
    },
    spec: {
      clusterName: CLUSTER_NAME,
      replicas,
      selector: { matchLabels: deploymentLabels(DEPLOYMENT_NAME) },
      template: template(deploymentLabels(DEPLOYMENT_NAME)),
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    },
    status: {
      ...ready,
      updatedReplicas: replicas,
      unavailableReplicas: 0,
      phase: "Running",
      observedGeneration: 1,
    },
  };
  const machineSet: KubeObject = {
    apiVersion: CAPI_API_VERSION,
    kind: "MachineSet",
    metadata: {
      name: set.name,
      namespace: CAPI_NAMESPACE,
      uid: set.uid,
      creationTimestamp: at,
      labels: setLabels(set),
      ...owner("MachineDeployment", DEPLOYMENT_NAME, deploymentUid),
    },
    spec: {
      clusterName: CLUSTER_NAME,
      replicas,
      deletePolicy: "Random",
      selector: { matchLabels: setLabels(set) },
      template: template(setLabels(set)),
    },
    status: { ...ready, fullyLabeledReplicas: replicas, observedGeneration: 1 },
  };
  return [deployment, machineSet, ...machines];
}
