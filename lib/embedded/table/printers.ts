// The printers of the Tables kubectl asks for: columns and cells per resource, as the real
// server's printers fill them.

import { type KubeObject, pathValue } from "../store/objects.ts";

/** One column of a `meta.k8s.io/v1` Table. */
export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

type Cells = (obj: KubeObject, now: number) => unknown[];

/** The columns of a Table and the cells of one object's row. */
export interface Printer {
  columns: TableColumn[];
  cells: Cells;
}

/**
 * A Table column named `name`; by default of type `string`, with no format and priority 0 (a
 * column of a higher priority shows only with `-o wide`).
 */
export function column(
  name: string,
  options: { priority?: number; type?: string; format?: string } = {},
): TableColumn {
  const { priority = 0, type = "string", format = "" } = options;
  return { name, type, format, description: "", priority };
}

/** A column of priority 1: one that shows only with `-o wide`. */
export function wide(name: string): TableColumn {
  return column(name, { priority: 1 });
}

export const NAME = column("Name", { format: "name" });

/** Formats an elapsed time the way `kubectl` and the API server's printers do (`5m`, `3h20m`, `12d`). */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const years = Math.floor(hours / 24 / 365);
  if (hours < 24 * 365 * 8) {
    const d = Math.floor(hours / 24) % 365;
    return d === 0 ? `${years}y` : `${years}y${d}d`;
  }
  return `${years}y`;
}

export function age(obj: KubeObject, now: number): string {
  const created = obj.metadata?.creationTimestamp;
  if (!created) return "<unknown>";
  return humanDuration(now - Date.parse(created));
}

function since(timestamp: unknown, now: number): string {
  if (typeof timestamp !== "string" || timestamp === "") return "<unknown>";
  return humanDuration(now - Date.parse(timestamp));
}

export function orNone(value: unknown): string {
  return value === undefined || value === null || value === "" ? "<none>" : String(value);
}

export function list(obj: unknown, path: string): Record<string, unknown>[] {
  const v = pathValue(obj, path);
  return Array.isArray(v) ? v as Record<string, unknown>[] : [];
}

function nodeStatus(node: KubeObject): string {
  const ready = list(node, "status.conditions").find((c) => c.type === "Ready");
  const parts = [ready?.status === "True" ? "Ready" : ready ? "NotReady" : "Unknown"];
  if (pathValue(node, "spec.unschedulable") === true) parts.push("SchedulingDisabled");
  return parts.join(",");
}

function nodeRoles(node: KubeObject): string {
  const roles = new Set<string>();
  for (const [key, value] of Object.entries(node.metadata?.labels ?? {})) {
    if (key.startsWith("node-role.kubernetes.io/")) {
      const role = key.slice("node-role.kubernetes.io/".length);
      if (role) roles.add(role);
    } else if (key === "kubernetes.io/role" && value) {
      roles.add(value);
    }
  }
  return roles.size === 0 ? "<none>" : [...roles].sort().join(",");
}

function address(node: KubeObject, type: string): string {
  return orNone(list(node, "status.addresses").find((a) => a.type === type)?.address);
}

function podStatus(pod: KubeObject): string {
  if (pod.metadata?.deletionTimestamp) return "Terminating";
  const reason = pathValue(pod, "status.reason");
  if (typeof reason === "string" && reason) return reason;
  for (const cs of list(pod, "status.containerStatuses")) {
    const waiting = pathValue(cs, "state.waiting.reason");
    if (typeof waiting === "string" && waiting) return waiting;
  }
  return orNone(pathValue(pod, "status.phase")).replace("<none>", "Pending");
}

function podReady(pod: KubeObject): string {
  const total = list(pod, "spec.containers").length;
  const ready = list(pod, "status.containerStatuses").filter((c) => c.ready === true).length;
  return `${ready}/${total}`;
}

function podRestarts(pod: KubeObject): number {
  return list(pod, "status.containerStatuses").reduce(
    (sum, c) => sum + (typeof c.restartCount === "number" ? c.restartCount : 0),
    0,
  );
}

function eventObject(ev: KubeObject): string {
  const kind = String(pathValue(ev, "involvedObject.kind") ?? "").toLowerCase();
  return `${kind}/${pathValue(ev, "involvedObject.name") ?? ""}`;
}

function eventLastSeen(ev: KubeObject, now: number): string {
  const last = pathValue(ev, "lastTimestamp") ?? pathValue(ev, "series.lastObservedTime") ??
    pathValue(ev, "eventTime");
  return since(last, now);
}

function labelsText(value: unknown): string {
  if (!value || typeof value !== "object") return "<none>";
  const pairs = Object.entries(value as Record<string, string>).map(([k, v]) => `${k}=${v}`);
  return pairs.length === 0 ? "<none>" : pairs.join(",");
}

function replicas(obj: KubeObject, ready: string, desired: string): string {
  return `${Number(pathValue(obj, ready) ?? 0)}/${Number(pathValue(obj, desired) ?? 0)}`;
}

/** kubectl's columns of each resource, by plural name. */
export const PRINTERS: Record<string, Printer> = {
  nodes: {
    columns: [
      NAME,
      column("Status"),
      column("Roles"),
      column("Age"),
      column("Version"),
      wide("Internal-IP"),
      wide("External-IP"),
      wide("OS-Image"),
      wide("Kernel-Version"),
      wide("Container-Runtime"),
    ],
    cells: (n, now) => [
      n.metadata?.name,
      nodeStatus(n),
      nodeRoles(n),
      age(n, now),
      orNone(pathValue(n, "status.nodeInfo.kubeletVersion")),
      address(n, "InternalIP"),
      address(n, "ExternalIP"),
      orNone(pathValue(n, "status.nodeInfo.osImage")),
      orNone(pathValue(n, "status.nodeInfo.kernelVersion")),
      orNone(pathValue(n, "status.nodeInfo.containerRuntimeVersion")),
    ],
  },
  pods: {
    columns: [
      NAME,
      column("Ready"),
      column("Status"),
      column("Restarts"),
      column("Age"),
      wide("IP"),
      wide("Node"),
      wide("Nominated Node"),
      wide("Readiness Gates"),
    ],
    cells: (p, now) => [
      p.metadata?.name,
      podReady(p),
      podStatus(p),
      String(podRestarts(p)),
      age(p, now),
      orNone(pathValue(p, "status.podIP")),
      orNone(pathValue(p, "spec.nodeName")),
      orNone(pathValue(p, "status.nominatedNodeName")),
      "<none>",
    ],
  },
  events: {
    columns: [
      column("Last Seen"),
      column("Type"),
      column("Reason"),
      column("Object"),
      wide("Subobject"),
      wide("Source"),
      column("Message"),
      wide("First Seen"),
      wide("Count"),
      wide("Name"),
    ],
    cells: (e, now) => [
      eventLastSeen(e, now),
      orNone(e.type),
      orNone(e.reason),
      eventObject(e),
      String(pathValue(e, "involvedObject.fieldPath") ?? ""),
      orNone(pathValue(e, "source.component") ?? e.reportingComponent),
      String(e.message ?? ""),
      since(e.firstTimestamp ?? e.eventTime, now),
      String(e.count ?? 1),
      e.metadata?.name,
    ],
  },
  namespaces: {
    columns: [NAME, column("Status"), column("Age")],
    cells: (ns, now) => [ns.metadata?.name, orNone(pathValue(ns, "status.phase")), age(ns, now)],
  },
  leases: {
    columns: [NAME, column("Holder"), column("Age")],
    cells: (l, now) => [
      l.metadata?.name,
      String(pathValue(l, "spec.holderIdentity") ?? ""),
      age(l, now),
    ],
  },
  configmaps: {
    columns: [NAME, column("Data", { type: "integer" }), column("Age")],
    cells: (c, now) => [
      c.metadata?.name,
      Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length,
      age(c, now),
    ],
  },
  deployments: {
    columns: [NAME, column("Ready"), column("Up-to-date"), column("Available"), column("Age")],
    cells: (d, now) => [
      d.metadata?.name,
      replicas(d, "status.readyReplicas", "spec.replicas"),
      Number(pathValue(d, "status.updatedReplicas") ?? 0),
      Number(pathValue(d, "status.availableReplicas") ?? 0),
      age(d, now),
    ],
  },
  replicasets: {
    columns: [NAME, column("Desired"), column("Current"), column("Ready"), column("Age")],
    cells: (r, now) => [
      r.metadata?.name,
      Number(pathValue(r, "spec.replicas") ?? 0),
      Number(pathValue(r, "status.replicas") ?? 0),
      Number(pathValue(r, "status.readyReplicas") ?? 0),
      age(r, now),
    ],
  },
  daemonsets: {
    columns: [
      NAME,
      column("Desired"),
      column("Current"),
      column("Ready"),
      column("Up-to-date"),
      column("Available"),
      column("Node Selector"),
      column("Age"),
    ],
    cells: (d, now) => [
      d.metadata?.name,
      Number(pathValue(d, "status.desiredNumberScheduled") ?? 0),
      Number(pathValue(d, "status.currentNumberScheduled") ?? 0),
      Number(pathValue(d, "status.numberReady") ?? 0),
      Number(pathValue(d, "status.updatedNumberScheduled") ?? 0),
      Number(pathValue(d, "status.numberAvailable") ?? 0),
      labelsText(pathValue(d, "spec.template.spec.nodeSelector")),
      age(d, now),
    ],
  },
  poddisruptionbudgets: {
    columns: [
      NAME,
      column("Min Available"),
      column("Max Unavailable"),
      column("Allowed Disruptions"),
      column("Age"),
    ],
    cells: (p, now) => [
      p.metadata?.name,
      String(pathValue(p, "spec.minAvailable") ?? "N/A"),
      String(pathValue(p, "spec.maxUnavailable") ?? "N/A"),
      Number(pathValue(p, "status.disruptionsAllowed") ?? 0),
      age(p, now),
    ],
  },
};

/** The columns of a resource with no printer of its own. */
export const DEFAULT_PRINTER: Printer = {
  columns: [NAME, column("Age")],
  cells: (o, now) => [o.metadata?.name, age(o, now)],
};
