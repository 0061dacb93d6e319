import type { KubeClient } from "./kube_types.ts";
import { type DrainOptions, planDrain } from "../decide/drain_plan.ts";
import { type Pod, podKey } from "../pod.ts";
import { clip } from "../clip.ts";
import { formatDuration } from "../duration.ts";
import { sleep } from "../timing.ts";
import { type Clock, systemClock } from "../clock.ts";
import { type Halt, quietHalt } from "../decide/halts.ts";
import { isFenced, NOT_LEADING } from "./fence.ts";

/** How a drain ended. */
export interface DrainReport {
  /**
   * `drained`: every pod to evict is gone; `refused`: a pod the options forbid evicting;
   * `failed`: the timeout; `stopped`: cancelled, or no longer this replica's to run (a quiet
   * {@link Halt}); `halted`: the policy in force no longer allows it (`halt` says why).
   */
  outcome: "drained" | "refused" | "failed" | "stopped" | "halted";
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
  evicted?: (result: "evicted" | "gone" | "blocked" | "error") => void;
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
 * after a restart only finishes what is left. Never force-deletes.
 */
export async function drainNode(
  client: KubeClient,
  node: string,
  run: DrainRun,
): Promise<DrainReport> {
  const { options, signal } = run;
  const now = run.now ?? systemClock;
  const started = now().getTime();
  const evictedBefore = run.evictedBefore ?? 0;
  const haltedAt = (halt: Halt, left: string[], evicted: string[]): DrainReport =>
    halted(node, halt, { left, evicted, evictedBefore, skipped: [] });
  const before = run.halt?.();
  if (before) return haltedAt(before, [], []);
  const pods = await client.listPodsOnNode(node);
  const daemonSetNames = new Set<string>();
  for (const pod of pods) {
    const owner = pod.metadata.ownerReferences?.find((o) => o.controller);
    if (owner?.kind === "DaemonSet") daemonSetNames.add(`${pod.metadata.namespace}/${owner.name}`);
  }
  const existing = new Set<string>();
  for (const key of daemonSetNames) {
    const [ns, name] = key.split("/");
    if (await client.daemonSetExists(ns, name)) existing.add(key);
  }
  const plan = planDrain(pods, options, existing);
  const skipped = plan.skip.map((s) => s.pod);
  if (plan.refuse.length > 0) {
    return {
      outcome: "refused",
      evicted: [],
      evictedBefore,
      skipped,
      blocking: plan.refuse,
      message: `Cannot drain ${node}: ${
        plan.refuse.slice(0, NAMED_PODS).map((r) => `${r.pod} (${r.why})`).join(", ")
      }${
        plan.refuse.length > NAMED_PODS ? `, and ${plan.refuse.length - NAMED_PODS} more` : ""
      }; nothing was evicted`,
    };
  }
  const pending = new Map<string, Pod>(plan.evict.map((p) => [podKey(p), p]));
  // Pods already terminating (an earlier run evicted them) are waited for, not evicted again.
  const asked = new Set<string>(
    plan.evict.filter((p) => p.metadata.deletionTimestamp).map((p) => podKey(p)),
  );
  const blockedBy = new Map<string, string>();
  const evicted: string[] = [];
  let wait = run.retryMs ?? 500;
  while (pending.size > 0) {
    if (signal?.aborted) {
      return {
        outcome: "stopped",
        evicted,
        evictedBefore,
        skipped,
        blocking: [...pending.keys()].map((pod) => ({ pod, why: "the drain was stopped" })),
        message: `Stopped draining ${node} with ${podCount(pending.size)} left`,
      };
    }
    const round = run.halt?.();
    if (round) return { ...haltedAt(round, [...pending.keys()], evicted), skipped };
    for (const [key, pod] of pending) {
      if (asked.has(key)) continue;
      const { namespace, name, uid } = pod.metadata;
      // Decided again immediately before each eviction: the drain may have been halted, or this
      // replica deposed, while the last one was under way.
      const halt = run.halt?.();
      if (halt) return { ...haltedAt(halt, [...pending.keys()], evicted), skipped };
      let outcome: Awaited<ReturnType<KubeClient["evictPod"]>>;
      try {
        outcome = await client.evictPod(namespace, name, {
          gracePeriodSeconds: options.gracePeriodSeconds,
          uid,
        });
      } catch (err) {
        if (isFenced(err)) {
          const halt = { gate: "notLeading" as const, message: NOT_LEADING };
          return { ...haltedAt(halt, [...pending.keys()], evicted), skipped };
        }
        run.evicted?.("error");
        blockedBy.set(key, (err as Error).message);
        continue;
      }
      run.evicted?.(outcome.result);
      if (outcome.result === "blocked") {
        blockedBy.set(key, outcome.message);
      } else {
        asked.add(key);
        blockedBy.delete(key);
      }
    }
    // Evicted pods are gone once they no longer exist, or exist again under another uid.
    for (const key of [...asked]) {
      const pod = pending.get(key)!;
      const current = await client.getPod(pod.metadata.namespace, pod.metadata.name);
      if (
        !current || current.metadata.uid !== pod.metadata.uid || current.spec?.nodeName !== node
      ) {
        pending.delete(key);
        asked.delete(key);
        evicted.push(key);
      }
    }
    await run.progress?.(pending.size, evictedBefore + evicted.length);
    if (pending.size === 0) break;
    const left = options.timeoutMs - (now().getTime() - started);
    if (left <= 0) {
      const blocking = [...pending.keys()].map((pod) => ({
        pod,
        why: blockedBy.get(pod) ?? "evicted, still terminating",
      }));
      return {
        outcome: "failed",
        evicted,
        evictedBefore,
        skipped,
        blocking,
        message: `Cannot drain ${node} within ${formatDuration(options.timeoutMs)}: ${
          blocking.slice(0, NAMED_PODS).map((b) => `${b.pod} (${clip(b.why, 200)})`).join(", ")
        }${
          blocking.length > NAMED_PODS ? `, and ${blocking.length - NAMED_PODS} more` : ""
        }; it stays cordoned`,
      };
    }
    await sleep(Math.min(wait, left), signal);
    wait = Math.min(wait * 2, 5000);
  }
  return {
    outcome: "drained",
    evicted,
    evictedBefore,
    skipped,
    blocking: [],
    message: `Drained ${node}: evicted ${
      evictedBefore === 0
        ? podList(evicted)
        : `${
          podCount(evictedBefore + evicted.length)
        }: ${evictedBefore} before it was resumed, then ${podList(evicted)}`
    }; left ${podList(skipped)}`,
  };
}

/**
 * The report of a drain that may not go on: `halted` when the policy in force says no, `stopped`
 * when it is no longer this replica's to run (a quiet halt).
 */
function halted(
  node: string,
  halt: Halt,
  parts: { left: string[]; evicted: string[]; evictedBefore: number; skipped: string[] },
): DrainReport {
  const quiet = quietHalt(halt);
  return {
    outcome: quiet ? "stopped" : "halted",
    halt,
    evicted: parts.evicted,
    evictedBefore: parts.evictedBefore,
    skipped: parts.skipped,
    blocking: parts.left.map((pod) => ({ pod, why: halt.message })),
    message: `${quiet ? "Stopped" : "Halted"} the drain of ${node} with ${
      podCount(parts.left.length)
    } left: ${halt.message}`,
  };
}
