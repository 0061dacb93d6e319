// A step decided earlier is decided again at the moment it acts: a drain starts, and each of its
// rounds and evictions goes on, only if the policy in force still allows it on this Node now.
// Pure: the drain supervisor asks before every eviction, startDrain() before a drain begins.
import { isCordoned, type Node } from "../base/node.ts";
import { readState } from "./node_state.ts";
import type { Policy, Rule } from "./policy.ts";
import { protection, type ProtectionGate } from "./protection.ts";
import type { Gate } from "./gates.ts";
import type { SkipReason } from "./decision.ts";
import type { BreakerView } from "./breaker.ts";

/**
 * Why the policy in force stops a drain, with an Event: node-heal is `paused`, the Node is
 * `protected` or `excluded`, its domain's `breaker` is open (breaker.ts), or its rule (`policy`)
 * was renamed, removed or no longer drains.
 */
export type PolicyGate =
  | Extract<Gate, "paused" | "breaker">
  | ProtectionGate
  | Extract<SkipReason, "policy">;

/**
 * Why a drain is no longer this replica's to run, stopped quietly, its claim left for whoever
 * owns it now: the Node is no longer cordoned by node-heal and claimed by this replica
 * (`notOurs`), or this replica no longer leads (`notLeading`).
 */
export type QuietGate = "notOurs" | "notLeading";

/** A drain that may not start or go on, and the clause that says why. */
export type Halt =
  | { gate: PolicyGate; message: string }
  | { gate: QuietGate; message: string };

/** A halt by the policy in force. */
export type PolicyHalt = Extract<Halt, { gate: PolicyGate }>;

/** Whether a halt stops a drain quietly: the drain is someone else's now, not refused. */
export function quietHalt(halt: Halt): halt is Extract<Halt, { gate: QuietGate }> {
  return halt.gate === "notOurs" || halt.gate === "notLeading";
}

/** What {@link drainHalt} looks at besides the Node. */
export interface HaltOptions {
  policy: Policy;
  paused: boolean;
  /** The correlated-failure breakers, when the policy sets one. */
  breakers?: BreakerView;
  now?: Date;
}

/** The rule that allows a Node's drain now: the one named on it, only if it still drains. */
export function drainingRule(policy: Policy, name: string | undefined): Rule | undefined {
  const rule = policy.rules.find((r) => r.name === name);
  return rule && rule.actions.some((a) => a === "drain" || a === "replace") ? rule : undefined;
}

/**
 * Why the policy in force does not allow Node `node`'s drain now (its pause, the Node's
 * protection, its rule), or undefined when it does. Never falls back to another rule: a drain
 * runs under the rule that asked for it, or not at all.
 */
export function drainHalt(node: Node, options: HaltOptions): PolicyHalt | undefined {
  const { policy } = options;
  if (options.paused) return { gate: "paused", message: "node-heal is paused" };
  const shield = protection(node, policy.gates);
  if (shield) return { gate: shield.gate, message: shield.message };
  const held = options.breakers?.holding(node, options.now ?? new Date());
  if (held) return { gate: "breaker", message: held };
  const named = readState(node).rule;
  if (drainingRule(policy, named)) return undefined;
  const rule = policy.rules.find((r) => r.name === named);
  return {
    gate: "policy",
    message: rule
      ? `rule "${rule.name}" no longer drains (actions: ${rule.actions.join(", ")})`
      : named
      ? `its rule "${named}" is no longer in the policy`
      : "no rule of the policy asked for its drain",
  };
}

/**
 * Why a running drain may not go on now: the Node is no longer this replica's to drain
 * (`notOurs`), or the policy in force does not allow it ({@link drainHalt}).
 */
export function runningDrainHalt(
  node: Node | undefined,
  options: HaltOptions & { instance: string },
): Halt | undefined {
  const state = node && readState(node);
  if (
    !node || !state?.owned || !isCordoned(node) || state.step !== "draining" ||
    state.drainer !== options.instance
  ) {
    return { gate: "notOurs", message: "it is no longer node-heal's to drain here" };
  }
  return drainHalt(node, options);
}
