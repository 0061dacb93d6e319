import type { Node } from "../base/node.ts";
import { ANNOTATIONS, readState } from "./node_state.ts";
import { DEFAULT_POLICY, type Policy } from "./policy.ts";
import { replaceAtAfterDrain } from "./replace_step.ts";
import { DEFAULT_DRAIN } from "./drain_plan.ts";

import { act, type DecideOptions, type Decision, skip } from "./decision.ts";
import { drainHalt, drainingRule, type PolicyHalt } from "./halts.ts";
import { checkDrain, gateClause } from "./gates.ts";

/** A drain whose drainer has not said it is alive for this long may be resumed by another replica. */
export const DRAIN_HEARTBEAT_TTL_MS = 30_000;

/** Steps at which a Node has been (or is being) drained. */
export const DRAIN_STEPS = new Set(["draining", "drained", "drain-failed"]);

/**
 * Starts (or resumes) the drain of a Node node-heal cordoned, if the drain gates allow:
 * a claim written with the resourceVersion read, so two replicas never drain one Node.
 */
export function startDrain(
  node: Node,
  now: Date,
  options: DecideOptions & { resume?: boolean },
): Decision {
  const resume = options.resume ?? false;
  const name = node.metadata.name;
  const state = readState(node);
  const policy = options.policy ?? DEFAULT_POLICY;
  // Decided again now: a pause, a protection or a rule changed since the drain was asked for.
  const halt = drainHalt(node, {
    policy,
    paused: options.paused ?? false,
    breakers: options.breakers,
    now,
  });
  if (halt) return haltDrain(node, halt, { now });
  const draining = options.tally?.draining(name) ??
    [...(options.nodes ?? [])].filter((n) =>
      n.metadata.name !== name && readState(n).step === "draining"
    ).length;
  const blocked = resume ? undefined : checkDrain({
    node: name,
    draining,
    gates: policy.gates,
    domains: options.tally?.domainBudgets(node),
    breaker: options.breakers?.pacing(node, now),
  });
  if (blocked) {
    const message = `Waiting to drain ${name}: ${blocked.message} ${gateClause(blocked)}`;
    return skip(blocked.gate, name, { message, withEvent: true });
  }
  const rule = drainingRule(policy, state.rule);
  const at = now.toISOString();
  const message = resume
    ? `Resuming the drain of ${name} (started ${state.drainStartedAt ?? "earlier"})`
    : `Draining ${name}: evicting its pods as kubectl drain --ignore-daemonsets --delete-emptydir-data would`;
  return {
    ...act("drain", node, {
      message,
      annotations: {
        [ANNOTATIONS.step]: "draining",
        [ANNOTATIONS.drainer]: options.instance ?? "node-heal",
        [ANNOTATIONS.drainHeartbeat]: at,
        [ANNOTATIONS.drainStartedAt]: state.drainStartedAt ?? at,
        // A new drain counts its evictions from zero; a resumed one (after a restart, a
        // hand-over or a halt) goes on counting.
        ...(resume || state.drainStartedAt ? {} : { [ANNOTATIONS.drainEvicted]: null }),
      },
      event: { reason: "NodeHealDrainStarted", type: "Normal", message },
    }),
    drain: rule?.drain ?? DEFAULT_DRAIN,
  } as Decision;
}

/** Whether a requested drain is due: cordoned by node-heal, asked to drain, its drain-at passed. */
export function drainDue(state: ReturnType<typeof readState>, now: Date): boolean {
  if (state.step !== "cordoned" || (state.target !== "drain" && state.target !== "replace")) {
    return false;
  }
  const at = Date.parse(state.drainAt ?? "");
  return !Number.isNaN(at) && at <= now.getTime();
}

/** A running drain records its progress this often at most, unless pods were evicted or none is left. */
export const DRAIN_PROGRESS_INTERVAL_MS = 5000;

/** Where a running drain stands, as the drainer tells after each round. */
export interface DrainProgress {
  /** Pods still to move. */
  left: number;
  /** Pods evicted so far, earlier runs of the drain included. */
  evicted: number;
}

/**
 * Records a running drain's progress and heartbeat on its Node: a few times a minute at most,
 * and whenever more pods were evicted (so that a resumed drain counts them) or none is left.
 * Nothing when the Node is no longer draining by this replica.
 */
export function drainProgress(
  node: Node,
  progress: DrainProgress,
  options: { now: Date; instance: string },
): Decision | undefined {
  const state = readState(node);
  if (state.step !== "draining" || state.drainer !== options.instance) return undefined;
  const annotations = node.metadata.annotations ?? {};
  const beat = Date.parse(state.drainHeartbeat ?? "");
  const recorded = Number(annotations[ANNOTATIONS.drainEvicted] ?? 0) || 0;
  const firstRound = annotations[ANNOTATIONS.podsLeft] === undefined;
  if (
    !firstRound && options.now.getTime() - beat < DRAIN_PROGRESS_INTERVAL_MS &&
    progress.left > 0 && progress.evicted === recorded
  ) return undefined;
  return act("drain-progress", node, {
    message: `${progress.left} pods left to move off ${node.metadata.name}`,
    annotations: {
      [ANNOTATIONS.podsLeft]: String(progress.left),
      [ANNOTATIONS.drainEvicted]: String(progress.evicted),
      [ANNOTATIONS.drainHeartbeat]: options.now.toISOString(),
    },
  });
}

/** How a drain that ran to its end ended: `drained`, or why not (`refused`, `failed`). */
export const DRAIN_ENDS = ["drained", "refused", "failed"] as const;

/** How a drain ended, as decide needs it. */
export interface DrainEnd {
  /** `drained`, or why not (`refused`, `failed`). */
  outcome: (typeof DRAIN_ENDS)[number];
  /** Pods left that kept the drain from finishing. */
  blocking: number;
  /** Pods evicted in all, earlier runs included. */
  evicted: number;
  /** One sentence for the Event and the log. */
  message: string;
}

/**
 * Records the end of a drain on its Node (step `drained` or `drain-failed`), if it is still
 * draining; a Node that asked for a replacement gets its replace-at.
 */
export function endDrain(
  node: Node,
  end: DrainEnd,
  options: { now: Date; policy?: Policy },
): Decision | undefined {
  if (readState(node).step !== "draining") return undefined;
  const drained = end.outcome === "drained";
  const replaceAt = replaceAtAfterDrain(node, options.policy ?? DEFAULT_POLICY, options.now);
  return act("drain-end", node, {
    message: end.message,
    annotations: {
      [ANNOTATIONS.step]: drained ? "drained" : "drain-failed",
      [ANNOTATIONS.drainer]: null,
      [ANNOTATIONS.drainHeartbeat]: null,
      [ANNOTATIONS.podsLeft]: String(end.blocking),
      [ANNOTATIONS.drainEvicted]: String(end.evicted),
      ...(replaceAt ? { [ANNOTATIONS.replaceAt]: replaceAt } : {}),
    },
    event: {
      reason: drained ? "NodeHealDrained" : "NodeHealDrainFailed",
      type: drained ? "Normal" : "Warning",
      message: end.message,
    },
  });
}

/**
 * When a Node must be looked at again after `decision` was written at `writtenAt`: at its
 * drain-at (or replace-at) when a cordon or a hold asked to drain or replace, at its replace-at
 * when a drain ended before a replacement; undefined when nothing waits on time.
 */
export function lookAgainAt(decision: Decision, writtenAt: Date): Date | undefined {
  if (decision.kind !== "act") return undefined;
  const annotations = decision.patch.metadata.annotations ?? {};
  const { action } = decision;
  const target = annotations[ANNOTATIONS.target];
  if ((action === "cordon" || action === "hold") && (target === "drain" || target === "replace")) {
    const at = Date.parse(
      annotations[ANNOTATIONS.replaceAt] ?? annotations[ANNOTATIONS.drainAt] ?? "",
    );
    return Number.isNaN(at) ? writtenAt : new Date(at);
  }
  if (action === "drain-end" && annotations[ANNOTATIONS.replaceAt]) {
    return new Date(Date.parse(annotations[ANNOTATIONS.replaceAt]!));
  }
  return undefined;
}

/**
 * What node-heal writes when the policy in force no longer allows a Node's drain (see
 * halts.ts): a running drain goes back to step `cordoned`, its claim dropped; one asked for by a
 * rule that is gone or no longer drains is no longer asked for (a later alert under a rule that
 * drains asks again); one only waiting (paused, protected) is told and left due, to start once
 * allowed. The Node stays cordoned; the Event names why.
 */
export function haltDrain(node: Node, halt: PolicyHalt, options: { now: Date }): Decision {
  const name = node.metadata.name;
  const state = readState(node);
  const running = state.step === "draining";
  const message = `${running ? "Stopped draining" : "Not draining"} ${name}: ${halt.message}; ` +
    `it stays cordoned (gate ${halt.gate})`;
  const event = { reason: "NodeHealDrainHalted" as const, type: "Warning" as const, message };
  const { gate } = halt;
  if (!running && halt.gate !== "policy") {
    return { ...skip(gate, name, { message, withEvent: false }), event };
  }
  const written = act("drain-halt", node, {
    message,
    annotations: {
      ...(running
        ? {
          [ANNOTATIONS.step]: "cordoned",
          [ANNOTATIONS.drainer]: null,
          [ANNOTATIONS.drainHeartbeat]: null,
          // Due again at once when allowed again (a pause lifted).
          [ANNOTATIONS.drainAt]: state.drainAt ?? options.now.toISOString(),
        }
        : {}),
      ...(halt.gate === "policy"
        ? {
          [ANNOTATIONS.target]: "cordon",
          [ANNOTATIONS.drainAt]: null,
          [ANNOTATIONS.replaceAt]: null,
        }
        : {}),
    },
    event,
  });
  return { ...written, gate } as Decision;
}
