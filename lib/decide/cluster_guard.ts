// The cross-cluster guard: one Alertmanager may serve several clusters, and their Nodes may share
// names. An alert whose labels do not carry every value the policy's `cluster:` asks for (the
// `external_labels` of this cluster's Prometheus) is another cluster's, and is decided on before
// it is resolved to a Node at all: nothing is read, written or told about a Node for it.
import type { Alert } from "../intake/alertmanager.ts";
import { clip } from "../base/clip.ts";
import type { SkipReason } from "./decision.ts";
import type { Policy } from "./policy.ts";

/** The outcome of an alert that is another cluster's. */
export const OTHER_CLUSTER = "otherCluster";

/** The gate that names it (the policy's `cluster:`). */
export const CLUSTER_GATE = "cluster" as const satisfies SkipReason;

/**
 * Why `alert` is another cluster's than the one `cluster` describes, or undefined when it carries
 * every label `cluster` asks for (or `cluster` is unset).
 */
export function otherCluster(alert: Alert, cluster: Policy["cluster"]): string | undefined {
  for (const [name, want] of Object.entries(cluster ?? {})) {
    const got = alert.labels[name];
    if (got === want) continue;
    const says = got === undefined || got === ""
      ? `has no label ${name}`
      : `says ${name}=${JSON.stringify(clip(got, 64))}`;
    return `The alert ${says}: this node-heal acts for ${name}=${
      JSON.stringify(want)
    } alone (policy cluster)`;
  }
  return undefined;
}
