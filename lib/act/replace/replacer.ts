// The replacements this replica runs: each recorded in the ledger before its provider is asked,
// its operation recorded as soon as the provider answers, then followed until the old Node is
// gone and a successor is Ready, or until its deadline. A restart (or a new leader) resumes every
// replacement in flight from the ledger: it follows a recorded operation, and asks again only a
// provider that had not answered, each provider's start being idempotent.
import type { Clock } from "../../clock.ts";
import type { Node } from "../../node.ts";
import type { Policy, Rule } from "../../decide/policy.ts";
import {
  checkReplace,
  holdsPlace,
  inFlight,
  poolOf,
  pruned,
  type ReplaceBudgets,
  replaceBudgets,
  type Replacement,
  type ReplaceView,
} from "../../decide/replacements.ts";
import type { NodeIndex } from "../../resolve/node_index.ts";
import { Ledger } from "./ledger.ts";
import { ANNOTATIONS } from "../../decide/node_state.ts";
import type { ReplaceProvider } from "./provider.ts";
import { follow } from "./follower.ts";
import type { KubeClient } from "../kube_types.ts";

/** How a replacement ended, or that it started, as the replacer tells it. */
export type ReplaceNews =
  | { kind: "requested"; replacement: Replacement }
  | { kind: "replaced"; replacement: Replacement }
  | { kind: "failed"; replacement: Replacement };

/** What a {@link Replacer} works with. */
export interface ReplacerDeps {
  client: KubeClient;
  index: NodeIndex;
  /** The policy in force (it may be reloaded). */
  policy: () => Policy;
  /** The provider of each rule that replaces, by rule name, in force. */
  providers: () => ReadonlyMap<string, ReplaceProvider>;
  /** node-heal's namespace: where the ledger is. */
  namespace: string;
  /** This replica's name, recorded as who started a replacement. */
  instance: string;
  now: Clock;
  /** How often a replacement in flight is looked at (ms; default 2 s). */
  pollMs?: number;
  /** Told when a replacement was requested of its provider, and when it ended. */
  told: (news: ReplaceNews) => void | Promise<void>;
}

/** A replacement that may not start after all: a gate, as counted on the stored ledger, says no. */
export class ReplaceBlocked extends Error {
  readonly gate: string;
  constructor(gate: string, message: string) {
    super(message);
    this.gate = gate;
  }
}

/** See the module comment. */
export class Replacer implements ReplaceView {
  #deps: ReplacerDeps;
  #ledger: Ledger;
  /** Replacements decided and not yet recorded: counted by the gates meanwhile. */
  #reserved = new Set<string>();
  #running = new Map<string, { stop: AbortController; done: Promise<void> }>();

  constructor(deps: ReplacerDeps) {
    this.#deps = deps;
    this.#ledger = new Ledger(deps.client, deps.namespace);
  }

  /** Every replacement in the ledger as last read or written, oldest first. */
  get entries(): readonly Replacement[] {
    return this.#ledger.entries;
  }

  budgets(now: Date, paused: boolean): ReplaceBudgets {
    return replaceBudgets(this.#ledger.entries, {
      gates: this.#deps.policy().gates,
      now,
      paused,
      reserved: this.#reserved,
      nodeGone: this.#nodeGone,
      damaged: this.#ledger.damaged,
    });
  }

  replacing(name: string): boolean {
    return this.#ledger.entries.some((r) => r.node === name && inFlight(r));
  }

  /** Replacements holding a place in maxReplacing: in flight, or unsettled with their Node gone. */
  inFlight(): number {
    return this.#ledger.entries.filter((r) => holdsPlace(r, this.#nodeGone)).length;
  }

  /**
   * Nodes being replaced (or unsettled) whose Node object is gone: minHealthy counts them until
   * their successor is Ready.
   */
  goneInFlight(): number {
    return this.#ledger.entries.filter((r) => holdsPlace(r, this.#nodeGone) && this.#nodeGone(r))
      .length;
  }

  /** Whether a replacement's old Node object is gone (or another object took its name). */
  #nodeGone = (r: Replacement): boolean => {
    const node = this.#deps.index.get(r.node);
    return !node || (r.uid !== undefined && node.metadata.uid !== r.uid);
  };

  /** Counts a replacement of `name` as started until the returned release (its record written, or not). */
  reserve(name: string): () => void {
    this.#reserved.add(name);
    return () => this.#reserved.delete(name);
  }

  /**
   * Records the start of the replacement of `node` under `rule` in the ledger, its gates counted
   * again on the ledger as stored (another replica may have written since this one read it).
   * Throws {@link ReplaceBlocked} when one says no; resolves with the record (the one already
   * in flight for this Node, if there is one).
   */
  begin(node: Node, rule: Rule, options: { now: Date; paused: boolean }): Promise<Replacement> {
    const { now } = options;
    const name = node.metadata.name;
    const gates = this.#deps.policy().gates;
    return this.#ledger.update((entries) => {
      const current = entries.find((r) => r.node === name && inFlight(r));
      if (current) return { result: current };
      const budgets = replaceBudgets(entries, {
        gates,
        now,
        paused: options.paused,
        nodeGone: this.#nodeGone,
      });
      const blocked = checkReplace(name, budgets, gates);
      if (blocked) throw new ReplaceBlocked(blocked.gate, blocked.message);
      const cordonedAt = node.metadata.annotations?.[ANNOTATIONS.cordonedAt];
      const annotations = Object.fromEntries(
        Object.entries(node.metadata.annotations ?? {}).filter(([k]) =>
          k.startsWith("cluster.x-k8s.io/")
        ),
      );
      const replacement: Replacement = {
        id: `${name}@${now.getTime().toString(36)}`,
        node: name,
        ...(node.metadata.uid ? { uid: node.metadata.uid } : {}),
        ...(node.spec?.providerID ? { providerID: node.spec.providerID } : {}),
        ...(poolOf(node, rule.replace!.poolLabel)
          ? { pool: poolOf(node, rule.replace!.poolLabel) }
          : {}),
        ...(Object.keys(annotations).length ? { annotations } : {}),
        provider: rule.replace!.provider,
        rule: rule.name,
        ...(cordonedAt ? { cordonedAt } : {}),
        startedAt: now.toISOString(),
        deadline: new Date(now.getTime() + rule.replace!.timeoutMs).toISOString(),
        by: this.#deps.instance,
        phase: "starting",
      };
      return {
        entries: [...pruned(entries, gates, now, this.#nodeGone), replacement],
        result: replacement,
      };
    });
  }

  /** Reads the ledger again, and follows every replacement holding a place not followed here. */
  async resume(): Promise<void> {
    await this.#ledger.refresh();
    for (const r of this.#ledger.entries) if (inFlight(r) || r.unsettled) this.follow(r);
  }

  /** Follows replacement `r` in the background, unless it is followed here already. */
  follow(r: Replacement): void {
    if (this.#running.has(r.id)) return;
    const stop = new AbortController();
    const { client, index, policy, providers, now } = this.#deps;
    const done = follow(r, {
      client,
      index,
      policy,
      provider: () => providers().get(r.rule),
      now,
      pollMs: this.#deps.pollMs ?? 2000,
      taken: (self) =>
        new Set(
          this.#ledger.entries.filter((e) => e.id !== self.id && e.successor).map((e) =>
            e.successor!
          ),
        ),
      record: (rec, change) => this.#record(rec, change),
      told: (kind, rec) => this.#deps.told({ kind, replacement: rec }),
    }, stop.signal).finally(() => this.#running.delete(r.id));
    this.#running.set(r.id, { stop, done });
  }

  /** Stops following every replacement (at shutdown, or when this replica stops leading); the ledger keeps them. */
  async stopAll(): Promise<void> {
    for (const { stop } of this.#running.values()) stop.abort();
    await Promise.all([...this.#running.values()].map((r) => r.done));
  }

  async #record(r: Replacement, change: Partial<Replacement>): Promise<Replacement> {
    return await this.#ledger.update((entries) => {
      const i = entries.findIndex((e) => e.id === r.id);
      // Gone from the ledger (pruned, or the ConfigMap deleted): written back, so it is counted.
      const next = { ...(i >= 0 ? entries[i] : r), ...change };
      if (next.unsettled === false) delete next.unsettled;
      const list = i >= 0 ? entries.with(i, next) : [...entries, next];
      return { entries: list, result: next };
    });
  }
}
