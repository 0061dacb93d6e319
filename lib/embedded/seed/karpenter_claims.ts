// Karpenter's NodeClaims as the embedded cluster seeds them: one a worker, built from its Node,
// with the labels, spec and status Karpenter v1 gives them. Pure functions; controllers/karpenter.ts acts.

import type { KubeObject } from "../store/objects.ts";
import type { NodeCloud } from "../nodes/clouds.ts";
import { suffix, uidFor } from "./builders.ts";

/** The label naming a node's (and a NodeClaim's) NodePool. */
export const NODEPOOL_LABEL = "karpenter.sh/nodepool";
/** The finalizer Karpenter puts on NodeClaims: it terminates the instance before they go. */
export const TERMINATION_FINALIZER = "karpenter.sh/termination";

/** The conditions of a NodeClaim whose Node is up, in the order Karpenter sets them. */
const READY_CONDITIONS = ["Launched", "Registered", "Initialized", "Ready"];

/** Labels a NodeClaim copies from its Node (the well-known ones Karpenter requires). */
const COPIED_LABELS = [
  "karpenter.k8s.aws/ec2nodeclass",
  "karpenter.sh/capacity-type",
  NODEPOOL_LABEL,
  "kubernetes.io/arch",
  "kubernetes.io/os",
  "node.kubernetes.io/instance-type",
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
];

/** The NodeClass each cloud's Karpenter provider names in `spec.nodeClassRef`. */
const NODE_CLASSES: Record<NodeCloud, { group: string; kind: string; name: string }> = {
  aws: { group: "karpenter.k8s.aws", kind: "EC2NodeClass", name: "default" },
  azure: { group: "karpenter.azure.com", kind: "AKSNodeClass", name: "default" },
  gcp: { group: "karpenter.k8s.gcp", kind: "GCENodeClass", name: "default" },
  kind: { group: "karpenter.kwok.sh", kind: "KWOKNodeClass", name: "default" },
};

/** The cloud style of a node by its providerID (`aws:///…`, `gce://…`, `azure://…`, `kind://…`). */
export function cloudOfProviderID(providerID: string): NodeCloud {
  if (providerID.startsWith("gce://")) return "gcp";
  if (providerID.startsWith("azure://")) return "azure";
  if (providerID.startsWith("kind://")) return "kind";
  return "aws";
}

/**
 * A NodeClaim name as Karpenter generates them, `<nodepool>-<5 characters>`, derived from
 * `seed` and not in `taken` (tried again with another seed on a clash).
 */
export function nodeClaimName(
  pool: string,
  seed: string,
  taken: (name: string) => boolean,
): string {
  for (let attempt = 0;; attempt++) {
    const name = `${pool}-${suffix(attempt === 0 ? seed : `${seed}/${attempt}`)}`;
    if (!taken(name)) return name;
  }
}

interface NodeView {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { providerID?: string };
  status?: { capacity?: Record<string, string>; allocatable?: Record<string, string> };
}

/**
 * The NodeClaim Karpenter keeps for `node`, named `name`, created at `at`: labelled as the Node,
 * owned by its NodePool, with the Node's name, providerID and resources in its status and every
 * condition True. The Node must carry the {@link NODEPOOL_LABEL}.
 */
export function nodeClaimFor(node: KubeObject, options: { name: string; at: string }): KubeObject {
  const { name, at } = options;
  const n = node as NodeView;
  const nodeLabels = n.metadata?.labels ?? {};
  const pool = nodeLabels[NODEPOOL_LABEL];
  if (!pool) throw new Error(`Node "${n.metadata?.name}" has no ${NODEPOOL_LABEL} label`);
  const providerID = n.spec?.providerID ?? "";
  const labels: Record<string, string> = {};
  for (const key of COPIED_LABELS) if (nodeLabels[key]) labels[key] = nodeLabels[key];
  const requirements = Object.entries(labels)
    .filter(([key]) => key !== "topology.kubernetes.io/region")
    .map(([key, value]) => ({ key, operator: "In", values: [value] }));
  return {
    apiVersion: "karpenter.sh/v1",
    kind: "NodeClaim",
    metadata: {
      name,
      uid: uidFor(`nodeclaim/${name}`),
      creationTimestamp: at,
      labels,
      annotations: { "karpenter.sh/nodepool-hash-version": "v3" },
      finalizers: [TERMINATION_FINALIZER],
      ownerReferences: [{
        apiVersion: "karpenter.sh/v1",
        kind: "NodePool",
        name: pool,
        uid: uidFor(`nodepool/${pool}`),
        blockOwnerDeletion: true,
      }],
    },
    spec: {
      expireAfter: "720h",
      nodeClassRef: NODE_CLASSES[cloudOfProviderID(providerID)],
      requirements,
      resources: { requests: { cpu: "100m", pods: "5" } },
    },
    status: {
      nodeName: n.metadata?.name,
      providerID,
      capacity: { ...n.status?.capacity },
      allocatable: { ...n.status?.allocatable },
      conditions: READY_CONDITIONS.map((type) => ({
        type,
        status: "True",
        reason: type,
        message: "",
        lastTransitionTime: at,
        observedGeneration: 1,
      })),
    },
  };
}

/** The NodeClaims of the seeded `objects`: one for each Node with a {@link NODEPOOL_LABEL}. */
export function seedNodeClaims(objects: KubeObject[], at: string): KubeObject[] {
  const taken = new Set<string>();
  const claims: KubeObject[] = [];
  for (const obj of objects) {
    const pool = obj.kind === "Node" ? obj.metadata?.labels?.[NODEPOOL_LABEL] : undefined;
    if (!pool) continue;
    const name = nodeClaimName(pool, `nodeclaim/${obj.metadata?.name}`, (n) => taken.has(n));
    taken.add(name);
    claims.push(nodeClaimFor(obj, { name, at }));
  }
  return claims;
}
