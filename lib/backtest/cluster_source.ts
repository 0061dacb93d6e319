// The Nodes a backtest replays against: from kube-state-metrics' `kube_node_*` series in the same
// Prometheus (no cluster access needed), or from a cluster through a kubeconfig (its Nodes now,
// node-heal's own marks taken off).
import type { Node } from "../base/node.ts";
import type { Policy } from "../decide/policy.ts";
import { CONTROL_PLANE_LABELS, EXCLUDE_LABEL } from "../decide/node_state.ts";
import { POOL_LABELS } from "../decide/replace_policy.ts";
import { domainKeys } from "../decide/replacements.ts";
import type { PrometheusApi, Series } from "./prometheus.ts";
import { untouched } from "./sim_cluster.ts";

/** Node labels node-heal reads, as kube-state-metrics names them in `kube_node_labels` (`label_<sanitized>`). */
const KNOWN_LABELS = [
  "kubernetes.io/hostname",
  "kubernetes.io/os",
  "kubernetes.io/arch",
  "topology.kubernetes.io/zone",
  "topology.kubernetes.io/region",
  "node.kubernetes.io/instance-type",
  "karpenter.sh/capacity-type",
  EXCLUDE_LABEL,
  ...CONTROL_PLANE_LABELS,
  ...POOL_LABELS,
];

/** A label's name as kube-state-metrics writes it in `kube_node_labels`. */
export function ksmLabel(name: string): string {
  return `label_${name.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

/**
 * The Nodes that `kube_node_info` shows in [from, to], with their InternalIP, their roles
 * (`kube_node_role`), the labels kube-state-metrics exports (`kube_node_labels`: only those its
 * allow-list names; the ones node-heal reads are mapped back to their names), and their
 * Ready condition and cordon at `from`.
 */
export async function nodesFromPrometheus(
  api: PrometheusApi,
  options: { from: Date; to: Date; policy: Policy[] },
): Promise<Node[]> {
  const { from, to } = options;
  const window = `${Math.ceil((to.getTime() - from.getTime()) / 1000) + 300}s`;
  const seen = (metric: string) => api.query(`last_over_time(${metric}[${window}])`, to);
  const [info, roles, labels, created] = await Promise.all([
    seen("kube_node_info"),
    seen("kube_node_role"),
    seen("kube_node_labels"),
    seen("kube_node_created"),
  ]);
  const [ready, cordoned] = await Promise.all([
    api.query(`kube_node_status_condition{condition="Ready",status="true"}`, from),
    api.query(`kube_node_spec_unschedulable`, from),
  ]);
  if (info.length === 0) {
    throw new Error(
      `Prometheus at ${api.url} has no kube_node_info series between ${from.toISOString()} and ` +
        `${to.toISOString()}: is kube-state-metrics scraped? Give --kubeconfig to read the Nodes from the cluster instead`,
    );
  }
  const names = labelNames(options.policy);
  const byNode = (series: Series[]) => {
    const m = new Map<string, Series[]>();
    for (const s of series) m.set(s.labels.node, [...(m.get(s.labels.node) ?? []), s]);
    return m;
  };
  const roleOf = byNode(roles), labelsOf = byNode(labels), createdOf = byNode(created);
  const readyOf = byNode(ready), cordonOf = byNode(cordoned);
  const nodes = new Map<string, Node>();
  for (const s of info) {
    const name = s.labels.node;
    if (!name || nodes.has(name)) continue;
    const nodeLabels: Record<string, string> = { "kubernetes.io/hostname": name };
    for (const r of roleOf.get(name) ?? []) {
      if (r.labels.role) nodeLabels[`node-role.kubernetes.io/${r.labels.role}`] = "";
    }
    for (const l of labelsOf.get(name) ?? []) {
      for (const [k, v] of Object.entries(l.labels)) {
        if (k.startsWith("label_")) nodeLabels[names.get(k) ?? k] = v;
      }
    }
    const createdAt = timeOf(createdOf.get(name)?.[0]?.points[0]?.[1]);
    const readyNow = readyOf.get(name)?.[0]?.points[0]?.[1];
    const addresses = [{ type: "Hostname", address: name }];
    if (s.labels.internal_ip) {
      addresses.unshift({ type: "InternalIP", address: s.labels.internal_ip });
    }
    nodes.set(name, {
      metadata: {
        name,
        labels: nodeLabels,
        annotations: {},
        ...(createdAt ? { creationTimestamp: createdAt } : {}),
      },
      spec: {
        ...(s.labels.provider_id ? { providerID: s.labels.provider_id } : {}),
        ...(cordonOf.get(name)?.[0]?.points[0]?.[1] === 1 ? { unschedulable: true } : {}),
      },
      status: {
        addresses,
        conditions: [{ type: "Ready", status: readyNow === 0 ? "False" : "True" }],
      },
    });
  }
  return [...nodes.values()].sort((a, b) => a.metadata.name < b.metadata.name ? -1 : 1);
}

/** A sample's value in seconds as an RFC 3339 time; undefined when it is not one (NaN, +Inf, beyond a date). */
function timeOf(seconds: number | undefined): string | undefined {
  const at = new Date((seconds ?? NaN) * 1000);
  return seconds && !Number.isNaN(at.getTime()) ? at.toISOString() : undefined;
}

/** `label_<sanitized>` back to the label's name, for the labels node-heal and the policies read. */
function labelNames(policies: Policy[]): Map<string, string> {
  const names = [...KNOWN_LABELS];
  for (const p of policies) {
    names.push(...Object.keys(p.gates.nodeSelector), ...domainKeys(p.gates));
    for (const r of p.rules) if (r.replace?.poolLabel) names.push(r.replace.poolLabel);
  }
  return new Map(names.map((n) => [ksmLabel(n), n]));
}

/** The Nodes of the cluster a kubeconfig points at, as they are now, node-heal's marks taken off. */
export async function nodesFromKubeconfig(path: string | undefined): Promise<Node[]> {
  // Loaded only here: the client library costs memory a Prometheus-only backtest does not need.
  const { connect } = await import("../act/kube/client.ts");
  const { client } = connect({ kubeconfigPath: path });
  const { promise, resolve, reject } = Promise.withResolvers<Node[]>();
  const watch = await client.watchNodes({
    listed: resolve,
    upsert() {},
    remove() {},
    recovered() {},
    error: reject,
  });
  try {
    return (await promise).map(untouched);
  } finally {
    await watch.stop();
  }
}
