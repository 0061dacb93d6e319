// The last step of the ladder, decided: when a drained Node's replacement is due, whether the
// replacement gates let it start, and what is written on the Node when it starts or fails. The
// replacement itself is recorded in the ledger and run by act/replace/replacer.ts.
import type { Node } from "../base/node.ts";
import {
  ANNOTATIONS,
  clearedAnnotations,
  HISTORY,
  type NodeState,
  readState,
} from "./node_state.ts";
import { DEFAULT_POLICY, type Policy, type Rule } from "./policy.ts";
import { act, type DecideOptions, type Decision, skip } from "./decision.ts";
import { checkReplace, gateClause, protection } from "./gates.ts";
import { endEpisode } from "./outcomes.ts";

/** Steps at which a drain has ended (a replacement may follow either). */
export const DRAIN_ENDED = new Set(["drained", "drain-failed"]);

/** How far up the ladder each target goes. */
const RANK: Record<string, number> = { cordon: 0, drain: 1, replace: 2 };

/** Whether asking for `action` goes further than the Node's target. */
export function goesFurther(action: string, state: NodeState): boolean {
  return (RANK[action] ?? 0) > (RANK[state.target ?? "cordon"] ?? 0);
}

/**
 * The annotations that ask for a drain (`target` drain) or a drain then a replacement (`target`
 * replace), on a cordon or a hold. A replacement asked of a Node whose drain has ended is due
 * replaceAfter from now.
 */
export function ladderRequest(
  rule: Rule,
  target: "drain" | "replace",
  options: { now: Date; state?: NodeState },
): Record<string, string> {
  const { now, state } = options;
  return {
    [ANNOTATIONS.target]: target,
    [ANNOTATIONS.rule]: rule.name,
    [ANNOTATIONS.drainAt]: new Date(now.getTime() + rule.drainAfterMs).toISOString(),
    ...(target === "replace" && DRAIN_ENDED.has(state?.step ?? "")
      ? { [ANNOTATIONS.replaceAt]: new Date(now.getTime() + rule.replaceAfterMs).toISOString() }
      : {}),
  };
}

/** The rule a Node's replacement follows: the one named on it, if it says how to replace. */
export function replaceRule(policy: Policy, name: string | undefined): Rule | undefined {
  const rule = policy.rules.find((r) => r.name === name);
  return rule?.replace ? rule : undefined;
}

/** When a Node whose drain just ended is due for its replacement, if it asked for one. */
export function replaceAtAfterDrain(node: Node, policy: Policy, now: Date): string | undefined {
  const state = readState(node);
  if (state.target !== "replace") return undefined;
  const rule = replaceRule(policy, state.rule);
  return rule && new Date(now.getTime() + rule.replaceAfterMs).toISOString();
}

/** Whether a replacement is due: asked for, the drain ended, its replace-at passed. */
export function replaceDue(state: NodeState, now: Date): boolean {
  if (!DRAIN_ENDED.has(state.step ?? "") || state.target !== "replace") return false;
  const at = Date.parse(state.replaceAt ?? "");
  return !Number.isNaN(at) && at <= now.getTime();
}

/**
 * Starts the replacement of a drained Node, if the replacement gates allow: the Node is marked
 * `replacing`. Undefined when it is already being replaced (the ledger says so).
 */
export function startReplace(node: Node, now: Date, options: DecideOptions): Decision | undefined {
  const name = node.metadata.name;
  const policy = options.policy ?? DEFAULT_POLICY;
  if (options.replacements?.replacing(name)) return undefined;
  const shield = protection(node, policy.gates);
  if (shield) {
    return skip(shield.gate, name, {
      message: `Not replacing ${name}: ${shield.message}`,
      withEvent: true,
    });
  }
  const rule = replaceRule(policy, readState(node).rule);
  if (!rule || !options.replacements) {
    return skip("policy", name, {
      message: `Not replacing ${name}: its rule "${
        readState(node).rule ?? ""
      }" no longer says how to replace it; it stays cordoned`,
      withEvent: true,
    });
  }
  const budgets = options.replacements.budgets(now, options.paused ?? false);
  const blocked = checkReplace(name, budgets, policy.gates, {
    domains: options.replacements.inDomains?.(node),
    breaker: options.breakers?.holding(node, now) ?? options.breakers?.pacing(node, now),
  });
  if (blocked) {
    return skip(blocked.gate, name, {
      message: `Waiting to replace ${name}: ${blocked.message} ${gateClause(blocked)}`,
      withEvent: true,
    });
  }
  const message = `Replacing ${name} through ${rule.replace!.provider} (rule "${rule.name}")`;
  return act("replace", node, {
    message,
    annotations: {
      [ANNOTATIONS.step]: "replacing",
      [ANNOTATIONS.replaceStartedAt]: now.toISOString(),
    },
    event: { reason: "NodeHealReplaceStarted", type: "Normal", message },
  });
}

/** Records a failed replacement on its Node (step `replace-failed`; it stays cordoned). */
export function endReplace(node: Node, message: string): Decision | undefined {
  if (readState(node).step !== "replacing") return undefined;
  return act("replace-end", node, {
    message,
    annotations: { [ANNOTATIONS.step]: "replace-failed" },
  });
}

/**
 * Releases a Node whose machine was replaced under the same Node object (a GCP recreate): it is
 * its own successor, Ready again, and node-heal's cordon and state go.
 */
export function replacedInPlace(node: Node, now: Date, message: string): Decision | undefined {
  const state = readState(node);
  if (state.step !== "replacing" || !state.owned) return undefined;
  // Recorded on the Node; counted from the ledger, as every replacement (the reporter).
  const ended = endEpisode(node, "replaced", { now });
  return act("uncordon", node, {
    message,
    annotations: {
      ...clearedAnnotations(),
      [HISTORY.releasedAt]: now.toISOString(),
      ...ended?.annotations,
    },
    spec: { unschedulable: null },
    event: { reason: "NodeHealUncordoned", type: "Normal", message },
  });
}
