import type { Alert } from "../intake/alertmanager.ts";
import type { Node } from "../node.ts";

/** Alert labels that name a node directly, tried in this order before `instance`. */
export const NODE_LABELS = ["node", "nodename", "kubernetes_node"] as const;

/** The address types of `Node.status.addresses` the index maps to their Node. */
const ADDRESS_TYPES = new Set(["InternalIP", "ExternalIP", "Hostname"]);

/** How an alert was resolved to a Node, or why it was not. */
export type Resolution =
  | { node: Node; label: string; key: string }
  | {
    node?: undefined;
    reason: "no-label" | "unknown" | "ambiguous";
    label?: string;
    key?: string;
  };

/** What keeps counts over the index's Nodes current (the gates' tally). */
export interface IndexFollower {
  set(node: Node): void;
  remove(name: string): void;
}

/**
 * Every Node by name and by address (InternalIP, ExternalIP, Hostname), kept current by a
 * watch: lookups are O(1) and never touch the API.
 */
export class NodeIndex {
  /** What the index takes in of each Node (see admission.ts); as it is, without one. */
  #admit: (node: Node) => Node;
  #nodes = new Map<string, Node>();
  #keys = new Map<string, Set<string>>();
  #keysOf = new Map<string, string[]>();
  #synced = false;
  #followers: IndexFollower[] = [];

  constructor(options: { admit?: (node: Node) => Node } = {}) {
    this.#admit = options.admit ?? ((node) => node);
  }

  /** Stops telling `follower` of changes. */
  unfollow(follower: IndexFollower): void {
    this.#followers = this.#followers.filter((f) => f !== follower);
  }

  /** Tells `follower` of every Node held from now on, and every change after. */
  follow(follower: IndexFollower): void {
    this.#followers.push(follower);
    for (const node of this.#nodes.values()) follower.set(node);
  }

  /** Whether the initial list has been loaded, so lookups can be trusted. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Marks the index as holding the full list of Nodes. */
  markSynced(): void {
    this.#synced = true;
  }

  /** How many Nodes the index holds. */
  get size(): number {
    return this.#nodes.size;
  }

  /** Every Node held. */
  nodes(): IterableIterator<Node> {
    return this.#nodes.values();
  }

  /** The Node named `name`, if held. */
  get(name: string): Node | undefined {
    return this.#nodes.get(name);
  }

  /** Replaces everything held with a full list of Nodes, and marks the index synced. */
  replaceAll(nodes: Node[]): void {
    const keep = new Set(nodes.map((n) => n.metadata.name));
    for (const name of [...this.#nodes.keys()]) if (!keep.has(name)) this.remove(name);
    for (const node of nodes) this.upsert(node);
    this.#synced = true;
  }

  /** Adds or replaces a Node; an older resourceVersion than the one held is ignored. */
  upsert(node: Node): void {
    node = this.#admit(node);
    const name = node.metadata.name;
    const held = Number(this.#nodes.get(name)?.metadata.resourceVersion);
    const incoming = Number(node.metadata.resourceVersion);
    // resourceVersions are opaque, but integers on every real store: don't go back in time.
    if (Number.isInteger(held) && Number.isInteger(incoming) && incoming < held) return;
    this.#unlink(name);
    this.#nodes.set(name, node);
    for (const f of this.#followers) f.set(node);
    const keys = [name];
    for (const a of node.status?.addresses ?? []) {
      if (ADDRESS_TYPES.has(a.type) && a.address) keys.push(a.address.toLowerCase());
    }
    this.#keysOf.set(name, keys);
    for (const key of keys) {
      let names = this.#keys.get(key);
      if (!names) {
        names = new Set();
        this.#keys.set(key, names);
      }
      names.add(name);
    }
  }

  /** Removes a Node. */
  remove(name: string): void {
    this.#unlink(name);
    if (this.#nodes.delete(name)) { for (const f of this.#followers) f.remove(name); }
  }

  #unlink(name: string): void {
    for (const key of this.#keysOf.get(name) ?? []) {
      const names = this.#keys.get(key);
      names?.delete(name);
      if (names?.size === 0) this.#keys.delete(key);
    }
    this.#keysOf.delete(name);
  }

  /** The names of the Nodes a name or address belongs to. */
  lookup(key: string): string[] {
    return [...(this.#keys.get(key.toLowerCase()) ?? [])];
  }
}

/** The host part of an `instance` label: `IPv4:port`, `[IPv6]:port`, `host:port`, or bare. */
export function instanceHost(instance: string): string {
  const v = instance.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(v);
  if (bracketed) return bracketed[1];
  // More than one colon and no brackets: a bare IPv6 address.
  if ((v.match(/:/g) ?? []).length > 1) return v;
  const withPort = /^(.*):\d+$/.exec(v);
  return withPort ? withPort[1] : v;
}

function candidates(value: string): string[] {
  const host = instanceHost(value);
  const out = [host];
  // A fully qualified host name may be known to Kubernetes by its first label only.
  if (!/^[\d.]+$/.test(host) && !host.includes(":") && host.includes(".")) {
    out.push(host.slice(0, host.indexOf(".")));
  }
  return out;
}

/**
 * Finds the Node an alert is about by the first of the labels `node`, `nodename`,
 * `kubernetes_node`, `instance` that it carries, matched against Node names and addresses.
 * Only that label counts: a `node` label naming no known Node does not fall back to
 * `instance`, which then usually names the exporter's host, not the Node the alert is about.
 */
export function resolveAlert(alert: Alert, index: NodeIndex): Resolution {
  const label = [...NODE_LABELS, "instance"].find((l) => alert.labels[l]);
  if (!label) return { reason: "no-label" };
  const keys = candidates(alert.labels[label]);
  for (const key of keys) {
    const names = index.lookup(key);
    if (names.length === 1) return { node: index.get(names[0])!, label, key };
    if (names.length > 1) return { reason: "ambiguous", label, key };
  }
  return { reason: "unknown", label, key: keys[0] };
}
