// The backtest's cluster: the Nodes as node-heal's own index and tally hold them, changed only
// by the patches decide() and reconcile() return, as the API server would merge them; and the
// replacement ledger as the replacement gates count it. No I/O and no clock of its own.
import { isCordoned, type Node } from "../base/node.ts";
import type { Decision, NodePatch } from "../decide/decision.ts";
import type { Gates } from "../decide/policy.ts";
import { isAvailable } from "../decide/selection.ts";
import { protection } from "../decide/protection.ts";
import { type IndexFollower, NodeIndex } from "../resolve/node_index.ts";
import { Tally } from "../decide/tally.ts";
import { needsReconcile } from "../decide/reconcile.ts";
import {
  domainLabels,
  inFlight,
  inFlightIn,
  poolOf,
  replaceBudgets,
  type Replacement,
  type ReplaceView,
} from "../decide/replacements.ts";
import { readState } from "../decide/node_state.ts";
import type { ProviderName } from "../decide/replace_policy.ts";
import { DomainPeaks } from "./domain_peaks.ts";

/** A Node's spec with a JSON merge patch of node-heal's kind merged in. */
export function patched(node: Node, patch: NodePatch, resourceVersion: string): Node {
  const annotations = { ...node.metadata.annotations };
  for (const [key, value] of Object.entries(patch.metadata.annotations ?? {})) {
    if (value === null) delete annotations[key];
    else annotations[key] = value;
  }
  const spec = { ...node.spec };
  if (patch.spec) {
    if (patch.spec.unschedulable === null) delete spec.unschedulable;
    else spec.unschedulable = patch.spec.unschedulable;
  }
  return { ...node, metadata: { ...node.metadata, annotations, resourceVersion }, spec };
}

/** The replacement ledger of a backtest: the records the replacement gates count. */
export class SimLedger implements ReplaceView {
  #entries: Replacement[] = [];
  #gates: () => Gates;

  constructor(gates: () => Gates) {
    this.#gates = gates;
  }

  /** The replacement gates' budgets now. */
  budgets(now: Date, paused: boolean) {
    return replaceBudgets(this.#entries, { gates: this.#gates(), now, paused });
  }

  /** Whether Node `name` is being replaced. */
  replacing(name: string): boolean {
    return this.#entries.some((r) => r.node === name && inFlight(r));
  }

  /** The replacements holding a place in each domain of `gates.domains` that `node` is in. */
  inDomains(node: Node): ReturnType<typeof inFlightIn> {
    return inFlightIn(this.#entries, node, { gates: this.#gates() });
  }

  /** Records a replacement started now. */
  begin(node: Node, options: { rule: string; provider: ProviderName; now: Date }): Replacement {
    const { now } = options;
    const labels = domainLabels(node, this.#gates());
    const r: Replacement = {
      id: `${node.metadata.name}@${now.toISOString()}`,
      node: node.metadata.name,
      pool: poolOf(node),
      ...(labels ? { labels } : {}),
      provider: options.provider,
      rule: options.rule,
      startedAt: now.toISOString(),
      deadline: now.toISOString(),
      by: "backtest",
      phase: "requested",
    };
    this.#entries.push(r);
    return r;
  }

  /** Marks Node `name`'s replacement done, its successor named. */
  end(name: string, options: { now: Date; successor: string }): void {
    const r = this.#entries.find((e) => e.node === name && inFlight(e));
    if (!r) return;
    r.phase = "replaced";
    r.endedAt = options.now.toISOString();
    r.successor = options.successor;
  }
}

/**
 * Nodes out (selected and not available) and held by node-heal, counted as the gates' tally
 * counts them and kept current as Nodes change: the replay plots them after every write, and
 * the tally's budgets() would also build every other gate's budget each time (its cooldown list
 * walks every Node ever released).
 */
export class OutCount implements IndexFollower {
  #gates: Gates;
  #shares = new Map<string, { selected: boolean; available: boolean; held: boolean }>();
  #selected = 0;
  #available = 0;
  #held = 0;

  constructor(gates: Gates) {
    this.#gates = gates;
  }

  /** Selected Nodes not available (cordoned or NotReady), whoever made them so. */
  get out(): number {
    return this.#selected - this.#available;
  }

  /** Selected Nodes node-heal holds cordoned. */
  get heldByNodeHeal(): number {
    return this.#held;
  }

  /** Counts Node `node` as it is now, in place of what it was. */
  set(node: Node): void {
    this.remove(node.metadata.name);
    const selected = !protection(node, this.#gates);
    const share = {
      selected,
      available: selected && isAvailable(node),
      held: selected && readState(node).owned && isCordoned(node),
    };
    this.#shares.set(node.metadata.name, share);
    this.#add(share, 1);
  }

  /** Forgets Node `name`. */
  remove(name: string): void {
    const share = this.#shares.get(name);
    if (!share) return;
    this.#shares.delete(name);
    this.#add(share, -1);
  }

  #add(share: { selected: boolean; available: boolean; held: boolean }, sign: 1 | -1): void {
    if (share.selected) this.#selected += sign;
    if (share.available) this.#available += sign;
    if (share.held) this.#held += sign;
  }
}

/** The cluster a backtest replays against. */
export class SimCluster {
  readonly index = new NodeIndex();
  readonly tally: Tally;
  readonly ledger: SimLedger;
  readonly out: OutCount;
  /** Nodes out per domain of `gates.domains` and the breaker, and their peaks. */
  readonly peaks: DomainPeaks;
  /** Nodes that need a look outside any alert (claims, holds): what the service's sweep visits. */
  readonly stateful = new Set<string>();
  #version = 0;

  /** `domainKeys`: the label keys whose peaks out {@link peaks} follows (default: the gates'). */
  constructor(nodes: Node[], gates: Gates, domainKeys?: readonly string[]) {
    this.index.replaceAll(nodes.map((n) => this.#fresh(n)));
    this.tally = new Tally(gates);
    this.index.follow(this.tally);
    this.out = new OutCount(gates);
    this.index.follow(this.out);
    this.peaks = new DomainPeaks(gates, domainKeys);
    this.index.follow(this.peaks);
    this.ledger = new SimLedger(() => this.tally.gates);
    for (const node of this.index.nodes()) this.#track(node);
  }

  /** Writes an `act` decision on its Node, as the API server merges the patch; the Node after. */
  write(decision: Decision & { kind: "act" }): Node | undefined {
    const node = this.index.get(decision.node);
    if (!node) return undefined;
    const next = patched(node, decision.patch, String(++this.#version));
    this.index.upsert(next);
    this.#track(next);
    return next;
  }

  /** Takes a replaced Node away and brings its successor in: Ready, schedulable, new. */
  replace(name: string, now: Date): Node | undefined {
    const old = this.index.get(name);
    if (!old) return undefined;
    this.index.remove(name);
    this.stateful.delete(name);
    let n = 1;
    while (this.index.get(`${name}-r${n}`)) n++;
    const successor: Node = {
      metadata: {
        name: `${name}-r${n}`,
        uid: `backtest-${name}-r${n}`,
        resourceVersion: String(++this.#version),
        creationTimestamp: new Date(Math.ceil(now.getTime() / 1000) * 1000).toISOString(),
        labels: { ...old.metadata.labels, "kubernetes.io/hostname": `${name}-r${n}` },
        annotations: {},
      },
      spec: {},
      status: {
        addresses: [{ type: "Hostname", address: `${name}-r${n}` }],
        conditions: [{ type: "Ready", status: "True" }],
      },
    };
    this.index.upsert(successor);
    return successor;
  }

  /** A Node as the replay starts from it, with a resourceVersion. */
  #fresh(node: Node): Node {
    return { ...node, metadata: { ...node.metadata, resourceVersion: String(++this.#version) } };
  }

  #track(node: Node): void {
    if (needsReconcile(node)) this.stateful.add(node.metadata.name);
    else this.stateful.delete(node.metadata.name);
  }
}

/** A Node as it was before node-heal touched it: its claims and history dropped, its own cordon undone. */
export function untouched(node: Node): Node {
  const ours = readState(node).owned;
  const annotations = Object.fromEntries(
    Object.entries(node.metadata.annotations ?? {}).filter(([k]) => !k.startsWith("node-heal.io/")),
  );
  const spec = { ...node.spec };
  if (ours) delete spec.unschedulable;
  return { ...node, metadata: { ...node.metadata, annotations }, spec };
}
