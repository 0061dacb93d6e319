import type { KubeClient } from "./kube/types.ts";
import type { Decision } from "../decide/decision.ts";
import { sealPatch, type StateSeal } from "../decide/seal.ts";
import type { Release } from "../decide/tally.ts";
import type { Clock } from "../base/clock.ts";
import type { Node } from "../base/node.ts";
import type { ActMetrics } from "./act_metrics.ts";
import type { NodeIndex } from "../resolve/node_index.ts";
import { permanent, retry, statusOf } from "../base/retry.ts";

/** A decision to write: an `act` one. */
export type Write = Extract<Decision, { kind: "act" }>;
/** A decision to write nothing: a `skip` one. */
export type Skip = Extract<Decision, { kind: "skip" }>;

/** What a write to a Node came to (the `result` label of `nodeheal_actions_total`). */
export const WRITE_RESULTS = ["success", "conflict", "failure", "dry_run"] as const;

/** What applying a decision to a Node came to. */
export type Applied =
  /** There was nothing to decide. */
  | { kind: "none" }
  /** The decision was to change nothing (`at`: when it was made). */
  | { kind: "skip"; decision: Skip; at: Date }
  /** The decision is written (in a dry run: the API server accepted it and changed nothing). */
  | { kind: "written"; decision: Write; at: Date }
  /** The Node no longer exists. */
  | { kind: "gone" }
  /**
   * A read or write failed: `permanent` when the API server refused it for good, else it may
   * pass (the alert should be sent again).
   */
  | {
    kind: "failed";
    action: string;
    error: Error;
    permanent: boolean;
    decision?: Write;
    at: Date;
  }
  /** The Node kept changing under node-heal: every write met a newer Node. */
  | { kind: "conflicts"; tries: number };

/** Options of {@link NodeWriter.apply}. */
export interface ApplyOptions {
  /**
   * Confirm a skip on a fresh read before accepting it (a resolved alert that changes nothing
   * may be looking at a stale cache: another replica's write not yet watched).
   */
  confirmSkip?: boolean;
  /**
   * Nodes read afresh earlier (in one notification): the index holds that read and node-heal's
   * own writes since, so a skip on one is not confirmed again. Nodes read here are added.
   */
  freshlyRead?: Set<string>;
  /** Runs before a decision is written, such as stopping a drain before an uncordon. */
  before?: (decision: Write) => Promise<void>;
  /**
   * Where decisions are made: each decision (not its write) runs inside it, such as the one
   * take-out turn, so that decisions are made one at a time while writes go on at once.
   */
  decideIn?: <T>(decide: () => T) => Promise<T>;
  /**
   * Counts a decision as done until its write has ended (the take-out it reserves, so that
   * decisions made meanwhile count it); returns the release, or undefined when nothing is held.
   */
  reserve?: (decision: Write, at: Date) => Release | undefined;
}

/** What a {@link NodeWriter} works with. */
export interface NodeWriterDeps {
  client: KubeClient;
  index: NodeIndex;
  metrics: ActMetrics;
  now: Clock;
  /** Seals every write of node-heal's state (decide/seal.ts); without one, writes are unsealed. */
  seal?: StateSeal;
}

/**
 * How long a take-out whose write got no answer stays counted if the Node shows nothing: past
 * the API server's own limit on a request (60 s), by which the write has landed or never will.
 */
export const UNSURE_WRITE_MS = 90_000;

/** How often a write that met a newer Node (409) is decided again from a fresh read. */
export const MAX_CONFLICT_RETRIES = 5;

/** Waits before each retry of a call that failed for a passing reason: 50 ms, then 200 ms. */
const RETRY_DELAYS_MS = [50, 200];

/**
 * The one way node-heal writes a Node: decide on the Node as known, write the decision as a
 * merge patch carrying the resourceVersion it was decided on, and on a conflict (409) read the
 * Node again and decide again. A failure that passes (5xx, 429, the network) is retried a
 * couple of times with backoff, so a blip costs milliseconds. Never throws.
 */
export class NodeWriter {
  #deps: NodeWriterDeps;

  constructor(deps: NodeWriterDeps) {
    this.#deps = deps;
  }

  get dryRun(): boolean {
    return this.#deps.client.dryRun;
  }

  /** Decides with `choose` on Node `name` and writes what it decides. */
  async apply(
    name: string,
    choose: (node: Node, now: Date) => Decision | undefined,
    options: ApplyOptions = {},
  ): Promise<Applied> {
    const { client, index, metrics } = this.#deps;
    let node: Node | undefined = index.get(name);
    let fresh = options.freshlyRead?.has(name) ?? false;
    const decideIn = options.decideIn ?? (<T>(decide: () => T) => Promise.resolve(decide()));
    for (let attempt = 0; node && attempt <= MAX_CONFLICT_RETRIES; attempt++) {
      const current: Node = node;
      const { now, decision, release } = await decideIn(() => {
        const now = this.#deps.now();
        const decision = choose(current, now);
        const release = decision?.kind === "act" ? options.reserve?.(decision, now) : undefined;
        return { now, decision, release };
      });
      if (!decision) return { kind: "none" };
      if (decision.kind === "skip") {
        if (options.confirmSkip && !fresh) {
          const read = await this.#read(name);
          if (read instanceof Error) return this.#failed("read", read);
          node = read;
          fresh = true;
          options.freshlyRead?.add(name);
          continue;
        }
        return { kind: "skip", decision, at: now };
      }
      try {
        await options.before?.(decision);
        // In a dry run the API server answers with the Node as it would be: later decisions
        // count it, so a dry run skips what a real run would skip.
        const { seal } = this.#deps;
        const patch = seal ? sealPatch(current, decision.patch, seal) : decision.patch;
        index.upsert(await this.#transient(() => client.patchNode(name, patch)));
      } catch (err) {
        // Without an answer (a timeout, the network) the write may still land: its take-out
        // stays counted until the Node shows it, or can no longer show it, or for a while.
        release?.(
          statusOf(err) === undefined
            ? {
              from: decision.patch.metadata.resourceVersion,
              until: new Date(now.getTime() + UNSURE_WRITE_MS),
            }
            : undefined,
        );
        const status = statusOf(err);
        if (status === 409) {
          metrics.actions.inc({ action: decision.action, result: "conflict" });
          const read = await this.#read(name);
          if (read instanceof Error) return this.#failed(decision.action, read, decision);
          node = read;
          fresh = true;
          continue;
        }
        if (status === 404) {
          index.remove(name);
          return { kind: "gone" };
        }
        return this.#failed(decision.action, err as Error, decision);
      }
      release?.();
      metrics.actions.inc({
        action: decision.action,
        result: client.dryRun ? "dry_run" : "success",
      });
      return { kind: "written", decision, at: now };
    }
    return node ? { kind: "conflicts", tries: MAX_CONFLICT_RETRIES + 1 } : { kind: "gone" };
  }

  #failed(action: string, error: Error, decision?: Write): Applied {
    this.#deps.metrics.actions.inc({ action, result: "failure" });
    const at = this.#deps.now();
    return { kind: "failed", action, error, permanent: permanent(statusOf(error)), decision, at };
  }

  /**
   * Reads Node `name` afresh into the index; an Error when the read failed. What is decided on,
   * and sealed again, is the Node as the index admits it: node-heal's state only where its seal
   * holds, never the annotations as read (anyone who may patch the Node wrote those).
   */
  async #read(name: string): Promise<Node | undefined | Error> {
    try {
      const node = await this.#transient(() => this.#deps.client.getNode(name));
      if (!node) {
        this.#deps.index.remove(name);
        return undefined;
      }
      return this.#deps.index.upsert(node);
    } catch (err) {
      return err as Error;
    }
  }

  #transient<T>(call: () => Promise<T>): Promise<T> {
    return retry(call, { delaysMs: RETRY_DELAYS_MS });
  }
}
