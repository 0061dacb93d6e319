import type { Alert } from "../intake/alertmanager.ts";
import type { Node } from "../base/node.ts";
import { clip } from "../base/clip.ts";
import {
  addressKey,
  foldAscii,
  type Host,
  MAX_HOST_LENGTH,
  parseHost,
  splitDomain,
} from "./host.ts";

export type { Host } from "./host.ts";

/** Alert labels that name a node directly, tried in this order before `instance`. */
export const NODE_LABELS = ["node", "nodename", "kubernetes_node"] as const;

/** The address types of `Node.status.addresses` the index maps to their Node. */
const ADDRESS_TYPES = new Set([
  "InternalIP",
  "ExternalIP",
  "Hostname",
  "InternalDNS",
  "ExternalDNS",
]);

/** The address types that are DNS names: their domains allow the short-name match. */
const DNS_TYPES = new Set(["Hostname", "InternalDNS", "ExternalDNS"]);

/**
 * How an alert's host may match a Node, strongest first: the Node's name; one of its addresses;
 * its name in the domain of one of its own fully qualified DNS addresses (`worker-1.prod.example.com`
 * for the Node `worker-1` whose InternalDNS is `ip-10-0-0-7.prod.example.com`). The first tier
 * with a match decides: a Node's kubelet, which may set its addresses, cannot make another Node's
 * name ambiguous.
 */
const TIERS = ["name", "address", "short"] as const;

type Tier = typeof TIERS[number];

/** How an alert was resolved to a Node, or why it was not. */
export type Resolution =
  | { node: Node; label: string; key: string }
  | {
    node?: undefined;
    reason: "no-label" | "unknown" | "ambiguous";
    label?: string;
    key?: string;
    /** Why the label's value names no host (an empty label, a control character, ...). */
    why?: string;
  };

/** What keeps counts over the index's Nodes current (the gates' tally). */
export interface IndexFollower {
  set(node: Node): void;
  remove(name: string): void;
}

/**
 * Every Node by name, by address (InternalIP, ExternalIP, Hostname, InternalDNS, ExternalDNS) and
 * by its name in its own DNS domains, kept current by a watch: lookups are O(1) and never touch
 * the API.
 */
export class NodeIndex {
  /** What the index takes in of each Node (see decide/admission.ts); as it is, without one. */
  #admit: (node: Node) => Node;
  #nodes = new Map<string, Node>();
  #keys: Record<Tier, Map<string, Set<string>>> = {
    name: new Map(),
    address: new Map(),
    short: new Map(),
  };
  #keysOf = new Map<string, [Tier, string][]>();
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

  /**
   * Adds or replaces a Node; an older resourceVersion than the one held is ignored. Returns the
   * Node as admitted (its node-heal state only where the seal holds), held or not.
   */
  upsert(node: Node): Node {
    node = this.#admit(node);
    const name = node.metadata.name;
    const held = Number(this.#nodes.get(name)?.metadata.resourceVersion);
    const incoming = Number(node.metadata.resourceVersion);
    // resourceVersions are opaque, but integers on every real store: don't go back in time.
    if (Number.isInteger(held) && Number.isInteger(incoming) && incoming < held) return node;
    const before = this.#nodes.get(name);
    this.#nodes.set(name, node);
    for (const f of this.#followers) f.set(node);
    // A new version with the same addresses (a cordon, a taint, a condition) is found as before.
    if (before && sameAddresses(before, node)) return node;
    this.#unlink(name);
    const keys = keysOf(node);
    this.#keysOf.set(name, keys);
    for (const [tier, key] of keys) {
      let names = this.#keys[tier].get(key);
      if (!names) {
        names = new Set();
        this.#keys[tier].set(key, names);
      }
      names.add(name);
    }
    return node;
  }

  /** Removes a Node. */
  remove(name: string): void {
    this.#unlink(name);
    if (this.#nodes.delete(name)) { for (const f of this.#followers) f.remove(name); }
  }

  #unlink(name: string): void {
    for (const [tier, key] of this.#keysOf.get(name) ?? []) {
      const names = this.#keys[tier].get(key);
      names?.delete(name);
      if (names?.size === 0) this.#keys[tier].delete(key);
    }
    this.#keysOf.delete(name);
  }

  /** The names of the Nodes whose name or address is exactly `key` (ASCII case folded). */
  lookup(key: string): string[] {
    const k = addressKey(key) ?? key;
    return [...new Set([...this.#keys.name.get(k) ?? [], ...this.#keys.address.get(k) ?? []])];
  }

  /** The names of the Nodes `host` names, by the first tier that matches any. */
  find(host: Host): string[] {
    for (const tier of TIERS) {
      if (tier === "short" && host.kind !== "name") break;
      const names = this.#keys[tier].get(host.key);
      if (names) return [...names];
    }
    return [];
  }
}

/** Whether two versions of a Node carry the same addresses, in the same order. */
function sameAddresses(a: Node, b: Node): boolean {
  const x = a.status?.addresses ?? [];
  const y = b.status?.addresses ?? [];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    if (x[i].type !== y[i].type || x[i].address !== y[i].address) return false;
  }
  return true;
}

/** The keys a Node is found by, each with its tier. */
function keysOf(node: Node): [Tier, string][] {
  const name = node.metadata.name;
  const keys: [Tier, string][] = [["name", foldAscii(name)]];
  const domains = new Set<string>();
  for (const a of node.status?.addresses ?? []) {
    if (!ADDRESS_TYPES.has(a.type) || !a.address) continue;
    const key = addressKey(a.address);
    if (key === undefined) continue;
    keys.push(["address", key]);
    const domain = DNS_TYPES.has(a.type) && !key.includes(":")
      ? splitDomain(key)?.domain
      : undefined;
    if (domain !== undefined && !/^[\d.]+$/.test(key)) domains.add(domain);
  }
  // A Node named by one label is also found by that label in each of its own DNS domains.
  if (!name.includes(".")) {
    for (const d of domains) keys.push(["short", `${foldAscii(name)}.${d}`]);
  }
  return keys;
}

/**
 * Finds the Node an alert is about by the first of the labels `node`, `nodename`,
 * `kubernetes_node`, `instance` that it carries. Only that label counts: a `node` label naming no
 * known Node does not fall back to `instance`, which then usually names the exporter's host, not
 * the Node the alert is about. Its value must name the Node exactly: its name, an address with or
 * without a port, or its name in one of its own DNS domains; anything else is `unknown`.
 */
export function resolveAlert(alert: Alert, index: NodeIndex): Resolution {
  const label = [...NODE_LABELS, "instance"].find((l) => alert.labels[l]);
  if (!label) return { reason: "no-label" };
  const value = alert.labels[label];
  const host = parseHost(value);
  if ("invalid" in host) {
    return { reason: "unknown", label, key: clip(value, MAX_HOST_LENGTH), why: host.invalid };
  }
  const names = index.find(host);
  if (names.length === 1) return { node: index.get(names[0])!, label, key: host.key };
  return { reason: names.length > 1 ? "ambiguous" : "unknown", label, key: host.key };
}

/** What the log, `/status` and the backtest say of an alert that matches no single Node. */
export function unresolvedMessage(r: Exclude<Resolution, { node: Node }>): string {
  if (r.reason === "no-label") {
    return "The alert has no node, nodename, kubernetes_node or instance label";
  }
  return `No single node matches ${r.label}=${JSON.stringify(r.key)} (${r.reason}${
    r.why ? `: ${r.why}` : ""
  })`;
}
