import type { KubeClient } from "./kube/types.ts";
import { type DrainOptions, planDrain } from "../decide/drain_plan.ts";
import { type Pod, podKey } from "../base/pod.ts";
import { clip } from "../base/clip.ts";
import { formatDuration } from "../base/duration.ts";
import { sleep } from "../base/timing.ts";
import { type Clock, systemClock } from "../base/clock.ts";
import { type Halt, quietHalt } from "../decide/halts.ts";
import { DRAIN_ENDS } from "../decide/drain_step.ts";
import { isFenced, NOT_LEADING } from "./fence.ts";

/** How a drain ends (the `outcome` label of `nodeheal_drain_duration_seconds`). */
export const DRAIN_OUTCOMES = [...DRAIN_ENDS, "stopped", "halted"] as const;

/** What an eviction attempt came to (the `result` label of `nodeheal_evictions_total`). */
export const EVICTION_RESULTS = ["evicted", "gone", "blocked", "error"] as const;

/** How a drain ended. */
export interface DrainReport {
  /**
   * `drained`: every pod to evict is gone; `refused`: a pod the options forbid evicting;
   * `failed`: the timeout; `stopped`: cancelled, or no longer this replica's to run (a quiet
   * {@link Halt}); `halted`: the policy in force no longer allows it (`halt` says why).
   */
  outcome: (typeof DRAIN_OUTCOMES)[number];
  /** Why it was halted, or stopped by a quiet halt. */
  halt?: Halt;
  /** Pods evicted (and gone) by this run. */
  evicted: string[];
  /** Pods evicted by earlier runs of the same drain (before a restart or a hand-over). */
  evictedBefore: number;
  /** Pods left where they are on purpose (DaemonSet, mirror). */
  skipped: string[];
  /** Pods that kept the drain from finishing, with why (a budget's message, or the refusal). */
  blocking: { pod: string; why: string }[];
  /** One sentence for the Event and the log. */
  message: string;
}

/** Options of {@link drainNode}. */
export interface DrainRun {
  options: DrainOptions;
  /** Stops the drain between steps (the alert resolved, the process is stopping). */
  signal?: AbortSignal;
  /**
   * Asked before the drain starts, before each round and immediately before each eviction: why
   * it may not go on now, or undefined when it may (see decide/halts.ts).
   */
  halt?: () => Halt | undefined;
  /**
   * Told after every round how many pods are left and how many the drain has evicted in all
   * (earlier runs included), to record progress on the Node.
   */
  progress?: (left: number, evicted: number) => Promise<void> | void;
  /** Pods earlier runs of this drain evicted, as recorded on the Node (default 0). */
  evictedBefore?: number;
  /** Told of every eviction attempt's result, for metrics. */
  evicted?: (result: (typeof EVICTION_RESULTS)[number]) => void;
  /** First wait between rounds while budgets block (ms; doubles up to 5 s). Default 500. */
  retryMs?: number;
  /** The clock the timeout runs on (default the system's). */
  now?: Clock;
}

/** Pods named in one message at most; the rest are counted, so an Event stays small. */
const NAMED_PODS = 10;

/** `1 pod`, `2 pods`. */
function podCount(n: number): string {
  return `${n} pod${n === 1 ? "" : "s"}`;
}

/** `1 pod (a/b)`, `2 pods (a/b, c/d)`, `0 pods`, `12 pods (a/b, ..., and 2 more)`. */
function podList(keys: string[]): string {
  const n = podCount(keys.length);
  if (keys.length === 0) return n;
  const named = keys.slice(0, NAMED_PODS).join(", ");
  const more = keys.length - NAMED_PODS;
  return `${n} (${named}${more > 0 ? `, and ${more} more` : ""})`;
}

/**
 * Drains a node as `kubectl drain --ignore-daemonsets --delete-emptydir-data` does, through the
 * Eviction API: plan the pods (refusing the whole drain for a pod the options forbid), evict,
 * retry evictions a PodDisruptionBudget blocks (429) with backoff until the timeout, and wait
 * until evicted pods are gone. Pods already gone are not evicted again, so a drain resumed
 * after a restart only finishes what is left. Never force-deletes. Asks `run.halt` before it
 * starts, before each round and immediately before each eviction.
 */
export async function drainNode(
  client: KubeClient,
  node: string,
  run: DrainRun,
): Promise<DrainReport> {
  const drain = new Drain(client, node, run);
  const before = run.halt?.();
  if (before) return drain.halted(before);
  const refused = await drain.plan();
  if (refused) return refused;
  const started = drain.now();
  let wait = run.retryMs ?? 500;
  while (drain.left > 0) {
    if (run.signal?.aborted) return drain.stopped();
    const halt = await drain.evictRound();
    if (halt) return drain.halted(halt);
    await drain.collectGone();
    await run.progress?.(drain.left, drain.evictedInAll);
    if (drain.left === 0) break;
    const left = run.options.timeoutMs - (drain.now() - started);
    if (left <= 0) return drain.timedOut();
    await sleep(Math.min(wait, left), run.signal);
    wait = Math.min(wait * 2, 5000);
  }
  return drain.drained();
}

/** One drain under way: the pods still to move, those asked to go, and why others are blocked. */
class Drain {
  #client: KubeClient;
  #node: string;
  #run: DrainRun;
  #now: Clock;
  #evictedBefore: number;
  #skipped: string[] = [];
  #pending = new Map<string, Pod>();
  /** Pods asked to go (evicted, or terminating already), waited for until gone. */
  #asked = new Set<string>();
  #blockedBy = new Map<string, string>();
  #evicted: string[] = [];

  constructor(client: KubeClient, node: string, run: DrainRun) {
    this.#client = client;
    this.#node = node;
    this.#run = run;
    this.#now = run.now ?? systemClock;
    this.#evictedBefore = run.evictedBefore ?? 0;
  }

  now(): number {
    return this.#now().getTime();
  }

  /** Pods still to move off the node. */
  get left(): number {
    return this.#pending.size;
  }

  /** Pods evicted by this drain in all, earlier runs included. */
  get evictedInAll(): number {
    return this.#evictedBefore + this.#evicted.length;
  }

  /** Plans the pods to evict and to leave; the report of a refused drain when one may not go. */
  async plan(): Promise<DrainReport | undefined> {
    const pods = await this.#client.listPodsOnNode(this.#node);
    const daemonSetNames = new Set<string>();
    for (const pod of pods) {
      const owner = pod.metadata.ownerReferences?.find((o) => o.controller);
      if (owner?.kind === "DaemonSet") {
        daemonSetNames.add(`${pod.metadata.namespace}/${owner.name}`);
      }
    }
    const existing = new Set<string>();
    for (const key of daemonSetNames) {
      const [ns, name] = key.split("/");
      if (await this.#client.daemonSetExists(ns, name)) existing.add(key);
    }
    const plan = planDrain(pods, this.#run.options, existing);
    this.#skipped = plan.skip.map((s) => s.pod);
    if (plan.refuse.length > 0) {
      return this.#report("refused", {
        blocking: plan.refuse,
        message: `Cannot drain ${this.#node}: ${
          named(plan.refuse.map((r) => `${r.pod} (${r.why})`))
        }; nothing was evicted`,
      });
    }
    for (const pod of plan.evict) this.#pending.set(podKey(pod), pod);
    // Pods already terminating (an earlier run evicted them) are waited for, not evicted again.
    for (const pod of plan.evict) if (pod.metadata.deletionTimestamp) this.#asked.add(podKey(pod));
    return undefined;
  }

  /**
   * Evicts, one at a time, every pod not yet asked to go; why the drain may not go on, asked
   * before the round and before each eviction (or learnt from the fence), or undefined.
   */
  async evictRound(): Promise<Halt | undefined> {
    const { options } = this.#run;
    const round = this.#run.halt?.();
    if (round) return round;
    for (const [key, pod] of this.#pending) {
      if (this.#asked.has(key)) continue;
      // Decided again immediately before each eviction: the drain may have been halted, or this
      // replica deposed, while the last one was under way.
      const halt = this.#run.halt?.();
      if (halt) return halt;
      const { namespace, name, uid } = pod.metadata;
      let outcome: Awaited<ReturnType<KubeClient["evictPod"]>>;
      try {
        outcome = await this.#client.evictPod(namespace, name, {
          gracePeriodSeconds: options.gracePeriodSeconds,
          uid,
        });
      } catch (err) {
        if (isFenced(err)) return { gate: "notLeading", message: NOT_LEADING };
        this.#run.evicted?.("error");
        this.#blockedBy.set(key, (err as Error).message);
        continue;
      }
      this.#run.evicted?.(outcome.result);
      if (outcome.result === "blocked") {
        this.#blockedBy.set(key, outcome.message);
      } else {
        this.#asked.add(key);
        this.#blockedBy.delete(key);
      }
    }
    return undefined;
  }

  /** Evicted pods are gone once they no longer exist, or exist again under another uid or node. */
  async collectGone(): Promise<void> {
    for (const key of [...this.#asked]) {
      const pod = this.#pending.get(key)!;
      const current = await this.#client.getPod(pod.metadata.namespace, pod.metadata.name);
      if (
        !current || current.metadata.uid !== pod.metadata.uid ||
        current.spec?.nodeName !== this.#node
      ) {
        this.#pending.delete(key);
        this.#asked.delete(key);
        this.#evicted.push(key);
      }
    }
  }

  drained(): DrainReport {
    const evicted = this.#evicted;
    const before = this.#evictedBefore;
    return this.#report("drained", {
      blocking: [],
      message: `Drained ${this.#node}: evicted ${
        before === 0
          ? podList(evicted)
          : `${podCount(before + evicted.length)}: ${before} before it was resumed, then ${
            podList(evicted)
          }`
      }; left ${podList(this.#skipped)}`,
    });
  }

  stopped(): DrainReport {
    return this.#report("stopped", {
      blocking: this.#leftWhy(() => "the drain was stopped"),
      message: `Stopped draining ${this.#node} with ${podCount(this.left)} left`,
    });
  }

  timedOut(): DrainReport {
    const blocking = this.#leftWhy((pod) =>
      this.#blockedBy.get(pod) ?? "evicted, still terminating"
    );
    return this.#report("failed", {
      blocking,
      message: `Cannot drain ${this.#node} within ${formatDuration(this.#run.options.timeoutMs)}: ${
        named(blocking.map((b) => `${b.pod} (${clip(b.why, 200)})`))
      }; it stays cordoned`,
    });
  }

  /**
   * The report of a drain that may not go on: `halted` when the policy in force says no,
   * `stopped` when it is no longer this replica's to run (a quiet halt).
   */
  halted(halt: Halt): DrainReport {
    const quiet = quietHalt(halt);
    return {
      ...this.#report(quiet ? "stopped" : "halted", {
        blocking: this.#leftWhy(() => halt.message),
        message: `${quiet ? "Stopped" : "Halted"} the drain of ${this.#node} with ${
          podCount(this.left)
        } left: ${halt.message}`,
      }),
      halt,
    };
  }

  #leftWhy(why: (pod: string) => string): DrainReport["blocking"] {
    return [...this.#pending.keys()].map((pod) => ({ pod, why: why(pod) }));
  }

  #report(
    outcome: DrainReport["outcome"],
    end: Pick<DrainReport, "blocking" | "message">,
  ): DrainReport {
    return {
      outcome,
      evicted: this.#evicted,
      evictedBefore: this.#evictedBefore,
      skipped: this.#skipped,
      ...end,
    };
  }
}

/** The first {@link NAMED_PODS} of `items`, and how many more. */
function named(items: string[]): string {
  const more = items.length - NAMED_PODS;
  return `${items.slice(0, NAMED_PODS).join(", ")}${more > 0 ? `, and ${more} more` : ""}`;
}
