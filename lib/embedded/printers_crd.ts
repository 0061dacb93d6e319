// The Table columns of the custom resources served (Karpenter's NodeClaims): those of their CRDs'
// additionalPrinterColumns.

import { type KubeObject, pathValue } from "./objects.ts";
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
};
