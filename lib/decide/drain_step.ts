import type { Node } from "../node.ts";
import { ANNOTATIONS, readState } from "./node_state.ts";
import { DEFAULT_POLICY, type Policy, type Rule } from "./policy.ts";
import { DEFAULT_DRAIN } from "./drain_plan.ts";

import { act, type DecideOptions, type Decision, skip } from "./decision.ts";

/** A drain whose drainer has not said it is alive for this long may be resumed by another replica. */
export const DRAIN_HEARTBEAT_TTL_MS = 30_000;

/** Steps at which a Node has been (or is being) drained. */
export const DRAIN_STEPS = new Set(["draining", "drained", "drain-failed"]);

/** The annotations that ask for a drain, on a cordon or a hold. */
export function drainRequest(rule: Rule, now: Date): Record<string, string> {
  return {
    [ANNOTATIONS.target]: "drain",
    [ANNOTATIONS.rule]: rule.name,
    [ANNOTATIONS.drainAt]: new Date(now.getTime() + rule.drainAfterMs).toISOString(),
  };
}

/** The rule a Node's drain follows: the one named on it, else the policy's first that drains. */
export function drainRule(policy: Policy, name: string | undefined): Rule | undefined {
  return policy.rules.find((r) => r.name === name) ??
    policy.rules.find((r) => r.actions.includes("drain"));
}

/**
 * Starts (or resumes) the drain of a Node node-heal cordoned, if the maxConcurrent gate allows:
 * a claim written with the resourceVersion read, so two replicas never drain one Node.
 */
export function startDrain(
  node: Node,
  now: Date,
  options: DecideOptions,
  resume: boolean,
): Decision {
  const name = node.metadata.name;
  const state = readState(node);
  const policy = options.policy ?? DEFAULT_POLICY;
  const draining =
    [...(options.nodes ?? [])].filter((n) =>
      n.metadata.name !== name && readState(n).step === "draining"
    ).length;
  if (!resume && draining >= policy.gates.maxConcurrent) {
    const message =
      `Waiting to drain ${name}: ${draining} nodes are draining, maxConcurrent is ${policy.gates.maxConcurrent} (gate maxConcurrent)`;
    return skip("maxConcurrent", name, message, true);
  }
  const rule = drainRule(policy, state.rule);
  const at = now.toISOString();
  const message = resume
    ? `Resuming the drain of ${name} (started ${state.drainStartedAt ?? "earlier"})`
    : `Draining ${name}: evicting its pods as kubectl drain --ignore-daemonsets --delete-emptydir-data would`;
  return {
    ...act("drain", node, message, {
      annotations: {
        [ANNOTATIONS.step]: "draining",
        [ANNOTATIONS.drainer]: options.instance ?? "node-heal",
        [ANNOTATIONS.drainHeartbeat]: at,
        [ANNOTATIONS.drainStartedAt]: resume && state.drainStartedAt ? state.drainStartedAt : at,
        // A new drain counts its evictions from zero; a resumed one goes on counting.
        ...(resume ? {} : { [ANNOTATIONS.drainEvicted]: null }),
      },
    }, { reason: "NodeHealDrainStarted", type: "Normal", message }),
    drain: rule?.drain ?? DEFAULT_DRAIN,
  } as Decision;
}

/** Whether a requested drain is due: cordoned by node-heal, asked to drain, its drain-at passed. */
export function drainDue(state: ReturnType<typeof readState>, now: Date): boolean {
  if (state.step !== "cordoned" || state.target !== "drain") return false;
  const at = Date.parse(state.drainAt ?? "");
  return !Number.isNaN(at) && at <= now.getTime();
}
