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
  inFlight,
  poolOf,
  pruned,
  type ReplaceBudgets,
  replaceBudgets,
  type Replacement,
  type ReplaceView,
  successorOf,
} from "../../decide/replacements.ts";
import type { NodeIndex } from "../../resolve/node_index.ts";
import { sleep } from "../../timing.ts";
import { log } from "../../log.ts";
import { Ledger } from "./ledger.ts";
import {
  type Progress,
  type ReplaceProvider,
  ReplaceRefused,
  type ReplaceTarget,
} from "./provider.ts";
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
  policy: Policy;
  /** The provider of each rule that replaces, by rule name. */
  providers: ReadonlyMap<string, ReplaceProvider>;
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
      gates: this.#deps.policy.gates,
      now,
      paused,
      reserved: this.#reserved,
    });
  }

  replacing(name: string): boolean {
    return this.#ledger.entries.some((r) => r.node === name && inFlight(r));
  }

  /** Replacements in flight. */
  inFlight(): number {
    return this.#ledger.entries.filter(inFlight).length;
  }

  /** Nodes being replaced whose Node object is gone: minHealthy counts them until their successor is Ready. */
  goneInFlight(): number {
    return this.#ledger.entries.filter((r) => inFlight(r) && !this.#deps.index.get(r.node))
      .length;
  }

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
    const gates = this.#deps.policy.gates;
    return this.#ledger.update((entries) => {
      const current = entries.find((r) => r.node === name && inFlight(r));
      if (current) return { result: current };
      const budgets = replaceBudgets(entries, { gates, now, paused: options.paused });
      const blocked = checkReplace(name, budgets, gates);
      if (blocked) throw new ReplaceBlocked(blocked.gate, blocked.message);
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
        startedAt: now.toISOString(),
        deadline: new Date(now.getTime() + rule.replace!.timeoutMs).toISOString(),
        by: this.#deps.instance,
        phase: "starting",
      };
      return {
        entries: [...pruned(entries, gates, now), replacement],
        result: replacement,
      };
    });
  }

  /** Reads the ledger again, and follows every replacement in flight not followed here. */
  async resume(): Promise<void> {
    await this.#ledger.refresh();
    for (const r of this.#ledger.entries) if (inFlight(r)) this.follow(r);
  }

  /** Follows replacement `r` in the background, unless it is followed here already. */
  follow(r: Replacement): void {
    if (this.#running.has(r.id)) return;
    const stop = new AbortController();
    const done = this.#run(r, stop.signal).catch((err) => {
      log("act").error("The replacement of {node} stopped: {error}", {
        node: r.node,
        error: (err as Error).message,
      });
    }).finally(() => this.#running.delete(r.id));
    this.#running.set(r.id, { stop, done });
  }

  /** Stops following every replacement (at shutdown, or when this replica stops leading); the ledger keeps them. */
  async stopAll(): Promise<void> {
    for (const { stop } of this.#running.values()) stop.abort();
    await Promise.all([...this.#running.values()].map((r) => r.done));
  }

  async #run(start: Replacement, signal: AbortSignal): Promise<void> {
    const { now, providers } = this.#deps;
    const provider = providers.get(start.rule);
    const pollMs = this.#deps.pollMs ?? 2000;
    let r = start;
    while (!signal.aborted) {
      const late = now().getTime() > Date.parse(r.deadline);
      if (!provider) {
        return void await this.#end(r, "failed", {
          message:
            `No provider for rule "${r.rule}" in the policy in force; ${r.node} was not replaced`,
        });
      }
      if (r.phase === "starting") {
        if (late) {
          return void await this.#end(r, "failed", {
            message:
              `The replacement of ${r.node} through ${r.provider} did not start before its deadline ${r.deadline}`,
          });
        }
        try {
          const op = await provider.start(targetOf(r));
          r = await this.#record(r, { phase: "requested", operation: op.id, message: op.message });
          await this.#deps.told({ kind: "requested", replacement: r });
        } catch (err) {
          if (err instanceof ReplaceRefused) {
            return void await this.#end(r, "failed", {
              message: `${r.provider} refused to replace ${r.node}: ${err.message}`,
            });
          }
          log("act").warn("Cannot ask {provider} to replace {node} yet, trying again: {error}", {
            provider: r.provider,
            node: r.node,
            error: (err as Error).message,
          });
        }
      } else if (r.phase === "requested") {
        const progress = await this.#progress(provider, r);
        if (progress?.state === "failed") {
          return void await this.#end(r, "failed", {
            message: `${r.provider} failed to replace ${r.node}: ${progress.message}`,
          });
        }
        const successor = this.#successor(r, progress, provider.inPlace === true);
        if (successor) {
          return void await this.#end(r, "replaced", { successor: successor.metadata.name });
        }
        if (late) {
          return void await this.#end(r, "failed", {
            message: `${r.node} was not replaced within ${
              Math.round((Date.parse(r.deadline) - Date.parse(r.startedAt)) / 1000)
            }s: ${
              this.#deps.index.get(r.node) ? "it still exists" : "no successor became Ready"
            } (${r.provider}, ${r.operation ?? "no operation"})`,
          });
        }
      } else {
        return;
      }
      await sleep(pollMs, signal);
    }
  }

  /** Where the provider's operation stands; undefined when it does not say (or cannot now). */
  async #progress(provider: ReplaceProvider, r: Replacement): Promise<Progress | undefined> {
    if (!provider.progress || !r.operation) return undefined;
    try {
      return await provider.progress(targetOf(r), r.operation);
    } catch (err) {
      log("act").warn("Cannot read the progress of {operation} ({node}): {error}", {
        operation: r.operation,
        node: r.node,
        error: (err as Error).message,
      });
      return { state: "running" };
    }
  }

  /**
   * The Node that took `r`'s place, once the old Node is gone: a new Ready Node of its pool. A
   * provider that rebuilds the machine under the same Node object (`inPlace`, a GCP recreate) and
   * says its operation is done: then that Node, Ready again, is the successor. For any other, the
   * old Node still there (an instance terminated, its Node not yet deleted) is no successor.
   */
  #successor(r: Replacement, progress: Progress | undefined, inPlace: boolean): Node | undefined {
    if (progress?.state === "running") return undefined;
    const { index, policy } = this.#deps;
    const old = index.get(r.node);
    if (old && old.metadata.uid === r.uid) {
      if (!inPlace || progress?.state !== "done") return undefined;
      return successorOf(
        { ...r, uid: undefined, startedAt: "1970-01-01T00:00:00Z" },
        [old],
        policy.gates,
      );
    }
    return successorOf(r, index.nodes(), policy.gates);
  }

  async #record(r: Replacement, change: Partial<Replacement>): Promise<Replacement> {
    return await this.#ledger.update((entries) => {
      const i = entries.findIndex((e) => e.id === r.id);
      // Gone from the ledger (pruned, or the ConfigMap deleted): written back, so it is counted.
      const next = { ...(i >= 0 ? entries[i] : r), ...change };
      const list = i >= 0 ? entries.with(i, next) : [...entries, next];
      return { entries: list, result: next };
    });
  }

  async #end(
    r: Replacement,
    phase: "replaced" | "failed",
    detail: { message?: string; successor?: string },
  ): Promise<void> {
    const ended = await this.#record(r, {
      phase,
      endedAt: this.#deps.now().toISOString(),
      ...detail,
    });
    await this.#deps.told({ kind: phase, replacement: ended });
  }
}

/** What a provider is told of a replacement's Node. */
export function targetOf(r: Replacement): ReplaceTarget {
  return {
    node: r.node,
    ...(r.uid ? { uid: r.uid } : {}),
    ...(r.providerID ? { providerID: r.providerID } : {}),
    labels: r.pool ? { [r.pool.label]: r.pool.value } : {},
    annotations: r.annotations ?? {},
  };
}
