/** The parts of a Kubernetes Node that node-heal reads, as plain JSON. */
export interface Node {
  metadata: {
    name: string;
    uid?: string;
    resourceVersion?: string;
    /** When the Node object was made (RFC 3339): a replacement's successor is newer. */
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    /** The machine behind the Node, as its cloud names it (`aws:///zone/i-...`, `gce://...`). */
    providerID?: string;
    unschedulable?: boolean;
    taints?: { key: string; value?: string; effect: string }[];
  };
  status?: {
    addresses?: { type: string; address: string }[];
    conditions?: { type: string; status: string; reason?: string }[];
  };
}

/** Whether the Node's Ready condition is True. */
export function isReady(node: Node): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Whether the Node is cordoned (`spec.unschedulable`). */
export function isCordoned(node: Node): boolean {
  return node.spec?.unschedulable === true;
}
