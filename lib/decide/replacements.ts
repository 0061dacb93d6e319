// The replacement ledger's rules, pure: what a replacement record holds (the schema a stored one
// must pass is in ledger_entry.ts), what the replacement gates count from it, when a replacement
// has a successor, and how the ledger stays bounded. The ledger lives outside the Nodes (a replaced Node is deleted
// with its annotations), in a ConfigMap that act/replace/ledger.ts reads and writes, and that
// anyone with RBAC in node-heal's namespace can write too.
import { isReady, type Node } from "../base/node.ts";
import type { Gates } from "./policy.ts";
import { POOL_LABELS, type ProviderName } from "./replace_policy.ts";
import { readState } from "./node_state.ts";
import { protection } from "./protection.ts";
import { type DomainGate, domainValue, recordedIn } from "./domain_policy.ts";

/** Where a replacement stands. */
export type Phase =
  /** Recorded, its provider not yet asked (or asked, the answer not yet recorded). */
  | "starting"
  /** The provider accepted; its operation is recorded. */
  | "requested"
  /** The old Node is gone and a successor is Ready. */
  | "replaced"
  /** It did not end in time, or the provider refused. */
  | "failed";

/** The annotations CAPI puts on a Node naming its Machine: a record keeps these, no others. */
export const MACHINE_ANNOTATIONS = {
  machine: "cluster.x-k8s.io/machine",
  namespace: "cluster.x-k8s.io/cluster-namespace",
} as const;

/** One replacement, as the ledger records it. */
export interface Replacement {
  /** Unique: the Node's name and the start time. */
  id: string;
  node: string;
  uid?: string;
  providerID?: string;
  /** The label naming the Node's pool and its value: the successor must share it. */
  pool?: { label: string; value: string };
  /**
   * The Node's values of the label keys of `gates.domains` and the breaker, at the start: the
   * domains its replacement counts in once the Node is gone. Without them it counts in every one.
   */
  labels?: Record<string, string>;
  /** The Node's {@link MACHINE_ANNOTATIONS} (which Machine it is). */
  annotations?: Record<string, string>;
  provider: ProviderName;
  /** The policy rule that asked for it. */
  rule: string;
  /** When node-heal cordoned the Node: its remediation episode, for notifications. */
  cordonedAt?: string;
  startedAt: string;
  /** When it fails if not done (RFC 3339). */
  deadline: string;
  /** The replica that started it. */
  by: string;
  phase: Phase;
  /** The provider's operation id, once it answered. */
  operation?: string;
  /** What was asked of the provider, or why it failed. */
  message?: string;
  endedAt?: string;
  /** The Ready Node that took its place. */
  successor?: string;
  /**
   * Set on a replacement that failed after its provider was asked: the provider may still be
   * taking the machine away. While its old Node is gone and no successor has come, it keeps its
   * place in `maxReplacing` and `minHealthy` (a person may delete its record to release it).
   */
  unsettled?: boolean;
}

/** Whether a replacement is still under way. */
export function inFlight(r: Replacement): boolean {
  return r.phase === "starting" || r.phase === "requested";
}

/**
 * Whether a replacement holds a place in `maxReplacing` (and its Node, once gone, in
 * `minHealthy`): while in flight, and while unsettled with its old Node gone.
 */
export function holdsPlace(r: Replacement, nodeGone: (r: Replacement) => boolean): boolean {
  return inFlight(r) || (r.unsettled === true && nodeGone(r));
}

/** What the replacement gates have left. */
export interface ReplaceBudgets {
  /** `nodes`: those in flight, and one {@link UNREADABLE} for each stored entry that fails the schema. */
  maxReplacing: { max: number; inFlight: number; nodes: string[] };
  replaceRate: { max: number; windowMs: number; used: number; left: number };
  paused: boolean;
  /** Why the ledger cannot be trusted (damaged), if it cannot: no replacement starts. */
  damaged?: string;
}

/** The replacement gates' budgets in a ledger, counting `reserved` (decided, not yet recorded). */
export function replaceBudgets(
  entries: readonly Replacement[],
  options: {
    gates: Gates;
    now: Date;
    paused: boolean;
    reserved?: Iterable<string>;
    /** Whether a replacement's old Node is gone (default: counted as gone). */
    nodeGone?: (r: Replacement) => boolean;
    damaged?: string;
    /**
     * Stored entries that fail the schema: each counts as what it may be at worst, a replacement
     * in flight started now (a place in maxReplacing, a start in replaceRate).
     */
    unreadable?: number;
  },
): ReplaceBudgets {
  const { gates, now } = options;
  const gone = options.nodeGone ?? (() => true);
  const unreadable = options.unreadable ?? 0;
  const flying = new Set(entries.filter((r) => holdsPlace(r, gone)).map((r) => r.node));
  let reservedNew = 0;
  for (const name of options.reserved ?? []) {
    if (!flying.has(name)) {
      flying.add(name);
      reservedNew++;
    }
  }
  const since = now.getTime() - gates.replaceRate.windowMs;
  const used = entries.filter((r) => Date.parse(r.startedAt) > since).length + reservedNew +
    unreadable;
  const nodes = [...flying, ...Array(unreadable).fill(UNREADABLE)];
  return {
    maxReplacing: { max: gates.maxReplacing, inFlight: nodes.length, nodes },
    replaceRate: {
      max: gates.replaceRate.max,
      windowMs: gates.replaceRate.windowMs,
      used,
      left: Math.max(0, gates.replaceRate.max - used),
    },
    paused: options.paused,
    ...(options.damaged ? { damaged: options.damaged } : {}),
  };
}

/** The label keys whose values a replacement records: those of `gates.domains` and the breaker. */
export function domainKeys(gates: Gates): string[] {
  const keys = (gates.domains ?? []).map((d) => d.key);
  if (gates.breaker?.key) keys.push(gates.breaker.key);
  return [...new Set(keys)];
}

/** `node`'s values of {@link domainKeys}, or undefined when the policy names none. */
export function domainLabels(node: Node, gates: Gates): Record<string, string> | undefined {
  const keys = domainKeys(gates);
  if (keys.length === 0) return undefined;
  return Object.fromEntries(keys.map((k) => [k, domainValue(node.metadata.labels, k)]));
}

/**
 * For each domain of `gates.domains` that `node` is in: the replacements holding a place there
 * (a record without its labels, or without this key, counts in every domain), for its `maxReplacing`.
 */
export function inFlightIn(
  entries: readonly Replacement[],
  node: Node,
  options: { gates: Gates; nodeGone?: (r: Replacement) => boolean; unreadable?: number },
): { gate: DomainGate; value: string; inFlight: string[] }[] {
  const gone = options.nodeGone ?? (() => true);
  const holding = entries.filter((r) => holdsPlace(r, gone) && r.node !== node.metadata.name);
  return (options.gates.domains ?? []).filter((g) => g.maxReplacing !== undefined).map((gate) => {
    const value = domainValue(node.metadata.labels, gate.key);
    const inFlight = holding.filter((r) => recordedIn(r.labels, gate.key, value)).map((r) =>
      r.node
    );
    return {
      gate,
      value,
      inFlight: [...inFlight, ...Array(options.unreadable ?? 0).fill(UNREADABLE)],
    };
  });
}

/**
 * The replacements holding a place whose old Node is gone: minHealthy and their domains count
 * them as held until their successor is Ready.
 */
export function goneHolding(
  entries: readonly Replacement[],
  nodeGone: (r: Replacement) => boolean,
): Replacement[] {
  return entries.filter((r) => holdsPlace(r, nodeGone) && nodeGone(r));
}

/**
 * When each replaced Node whose Node object is gone was taken out (its record's `cordonedAt`,
 * once per Node and take-out): the rate gate counts them, their own record gone with the Node.
 */
export function goneTakeOutTimes(
  entries: readonly Replacement[],
  nodeGone: (r: Replacement) => boolean,
): number[] {
  const seen = new Map<string, number>();
  for (const r of entries) {
    const at = Date.parse(r.cordonedAt ?? "");
    if (!Number.isNaN(at) && nodeGone(r)) seen.set(`${r.node}@${r.cordonedAt}`, at);
  }
  return [...seen.values()];
}

/** How the gates' messages name a stored ledger entry that fails the schema. */
export const UNREADABLE = "an unreadable ledger entry";

/** What decisions see of the replacement ledger. */
export interface ReplaceView {
  /** The replacement gates' budgets now. */
  budgets(now: Date, paused: boolean): ReplaceBudgets;
  /** Whether Node `name` is being replaced (in the ledger, or decided). */
  replacing(name: string): boolean;
  /** The replacements holding a place in each domain of `gates.domains` that `node` is in. */
  inDomains?(node: Node): ReturnType<typeof inFlightIn>;
}

/** The label naming a Node's pool, and its value: `poolLabel` if given, else the first known one it has. */
export function poolOf(node: Node, poolLabel?: string): Replacement["pool"] {
  const labels = node.metadata.labels ?? {};
  for (const label of poolLabel ? [poolLabel] : POOL_LABELS) {
    if (labels[label] !== undefined) return { label, value: labels[label] };
  }
  return undefined;
}

/** What {@link successorOf} works with beyond the replacement and the Nodes. */
export interface SuccessorOptions {
  gates: Gates;
  /** Nodes that already took another replacement's place: one Node ends one replacement. */
  taken?: ReadonlySet<string>;
  /**
   * The earliest creation time (ms) a successor may have beyond the record's `startedAt`; see
   * {@link earliestSuccessor}.
   */
  since?: number;
  /**
   * Whether the provider rebuilds the machine under the same name (a GCP recreate keeps the
   * VM, so its providerID): then a Node with the predecessor's providerID may succeed it.
   */
  samePlace?: boolean;
}

/**
 * The Node that took a replacement's place, if one has: Ready, not protected (the control plane
 * never counts), not itself being replaced, in the same pool, not one that took another's place,
 * made after the replacement started (and not before `since`), and not the predecessor: another
 * uid, and another providerID unless its provider rebuilds the machine in place.
 */
export function successorOf(
  r: Replacement,
  nodes: Iterable<Node>,
  options: SuccessorOptions,
): Node | undefined {
  const taken = options.taken ?? new Set();
  const floor = Math.max(Date.parse(r.startedAt), options.since ?? -Infinity);
  // Creation times have whole seconds.
  const earliest = Math.floor(floor / 1000) * 1000;
  for (const node of nodes) {
    if (taken.has(node.metadata.name)) continue;
    if (r.uid !== undefined && node.metadata.uid === r.uid) continue;
    if (
      !options.samePlace && r.providerID !== undefined && node.spec?.providerID === r.providerID
    ) continue;
    if (!isReady(node) || protection(node, options.gates)) continue;
    // A Node node-heal is replacing takes no other's place.
    if (["replacing", "replace-failed"].includes(readState(node).step ?? "")) continue;
    const created = Date.parse(node.metadata.creationTimestamp ?? "");
    // A Node object recreated under the same name (a GCP recreate, an ASG instance given the
    // old one's address) is a successor too: its creation is after the start all the same.
    if (Number.isNaN(created) || created < earliest) continue;
    if (r.pool && node.metadata.labels?.[r.pool.label] !== r.pool.value) continue;
    return node;
  }
  return undefined;
}

/**
 * The earliest creation time (ms) a successor of `r` may have, for a replica that began following
 * it at `followedAt` (its own clock) under a rule whose timeout is `timeoutMs`: the record's
 * `startedAt`, but never earlier than `timeoutMs` before this replica first followed it. A record
 * this replica began is followed at once, so the bound is its `startedAt`; a real replacement
 * resumed after a restart was started within its timeout, so its successor is newer than both;
 * a record written by someone else with an old `startedAt` cannot make a long-Ready Node its
 * successor.
 */
export function earliestSuccessor(
  r: Pick<Replacement, "startedAt">,
  options: { followedAt: number; timeoutMs: number },
): number {
  return Math.max(Date.parse(r.startedAt), options.followedAt - options.timeoutMs);
}

/** How many ended replacements the ledger keeps beyond those the rate gate counts. */
export const MAX_ENDED = 50;

/**
 * The ledger bounded: every replacement holding a place, the ended ones the rate window still
 * counts, and at most {@link MAX_ENDED} of those beyond it (the newest), oldest first.
 */
export function pruned(
  entries: readonly Replacement[],
  gates: Gates,
  now: Date,
  nodeGone: (r: Replacement) => boolean = () => true,
): Replacement[] {
  const since = now.getTime() - gates.replaceRate.windowMs;
  const holds = (r: Replacement) => holdsPlace(r, nodeGone);
  const ended = entries.filter((r) => !holds(r) && Date.parse(r.startedAt) <= since);
  const keep = new Set(ended.slice(-MAX_ENDED));
  return entries.filter((r) => holds(r) || Date.parse(r.startedAt) > since || keep.has(r));
}

export {
  CLOCK_SKEW_MS,
  type EntryProblem,
  MAX_ENTRIES,
  MAX_MESSAGE,
  readEntry,
} from "./ledger_entry.ts";
