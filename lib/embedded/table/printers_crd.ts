// The Table columns of the custom resources served (Karpenter's NodeClaims, Cluster API's
// Machines and their owners): those of their CRDs' additionalPrinterColumns.

import { type KubeObject, pathValue } from "../store/objects.ts";
import { age, column, list, NAME, orNone, type Printer, wide } from "./printers.ts";

/** A label of an object, or `<none>`. */
function label(obj: KubeObject, key: string): string {
  return orNone(obj.metadata?.labels?.[key]);
}

/** The status of condition `type` of an object, or `<none>` (as a CRD's JSONPath column shows). */
function conditionStatus(obj: KubeObject, type: string): string {
  return orNone(list(obj, "status.conditions").find((c) => c.type === type)?.status);
}

/** The columns of each custom resource, by plural name. */
export const CRD_PRINTERS: Record<string, Printer> = {
  // Karpenter v1's additionalPrinterColumns of NodeClaim.
  nodeclaims: {
    columns: [
      NAME,
      column("Type"),
      column("Capacity"),
      column("Zone"),
      column("Node"),
      column("Ready"),
      column("Age", { type: "date" }),
      wide("ID"),
      wide("NodePool"),
      wide("NodeClass"),
      wide("Drifted"),
    ],
    cells: (c, now) => [
      c.metadata?.name,
      label(c, "node.kubernetes.io/instance-type"),
      label(c, "karpenter.sh/capacity-type"),
      label(c, "topology.kubernetes.io/zone"),
      orNone(pathValue(c, "status.nodeName")),
      conditionStatus(c, "Ready"),
      age(c, now),
      orNone(pathValue(c, "status.providerID")),
      label(c, "karpenter.sh/nodepool"),
      orNone(pathValue(c, "spec.nodeClassRef.name")),
      conditionStatus(c, "Drifted"),
    ],
  },
  // Cluster API v1beta1's additionalPrinterColumns.
  machines: {
    columns: [
      NAME,
      column("Cluster"),
      column("NodeName"),
      column("ProviderID"),
      column("Phase"),
      column("Age", { type: "date" }),
      column("Version"),
    ],
    cells: (m, now) => [
      m.metadata?.name,
      field(m, "spec.clusterName"),
      field(m, "status.nodeRef.name"),
      field(m, "spec.providerID"),
      field(m, "status.phase"),
      age(m, now),
      field(m, "spec.version"),
    ],
  },
  machinesets: {
    columns: [
      NAME,
      column("Cluster"),
      column("Desired", { type: "integer" }),
      column("Replicas", { type: "integer" }),
      column("Ready", { type: "integer" }),
      column("Available", { type: "integer" }),
      column("Age", { type: "date" }),
      column("Version"),
    ],
    cells: (s, now) => [
      s.metadata?.name,
      field(s, "spec.clusterName"),
      field(s, "spec.replicas"),
      field(s, "status.replicas"),
      field(s, "status.readyReplicas"),
      field(s, "status.availableReplicas"),
      age(s, now),
      field(s, "spec.template.spec.version"),
    ],
  },
  machinedeployments: {
    columns: [
      NAME,
      column("Cluster"),
      column("Desired", { type: "integer", priority: 10 }),
      column("Replicas", { type: "integer" }),
      column("Ready", { type: "integer" }),
      column("Updated", { type: "integer" }),
      column("Unavailable", { type: "integer" }),
      column("Phase"),
      column("Age", { type: "date" }),
      column("Version"),
    ],
    cells: (d, now) => [
      d.metadata?.name,
      field(d, "spec.clusterName"),
      field(d, "spec.replicas"),
      field(d, "status.replicas"),
      field(d, "status.readyReplicas"),
      field(d, "status.updatedReplicas"),
      field(d, "status.unavailableReplicas"),
      field(d, "status.phase"),
      age(d, now),
      field(d, "spec.template.spec.version"),
    ],
  },
};

/** The value at `path` of an object, or `<none>` (as a CRD's JSONPath column shows a missing one). */
function field(obj: KubeObject, path: string): string {
  return orNone(pathValue(obj, path));
}
