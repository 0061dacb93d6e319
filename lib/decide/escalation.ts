// Escalation by recurrence (a rule's `escalate:`): a Node that needed remediation `after` times
// within `within`, this one counted, goes straight to `to` on its rule's ladder. Only the target
// changes: the cordon passes the take-out gates, the drain and the replacement their own gates
// when due, as any other (docs/policy.md, "Escalation by recurrence").
import type { Node } from "../base/node.ts";
import { formatDuration } from "../base/duration.ts";
import { remediations } from "./node_state.ts";
import type { Decision } from "./decision.ts";
import type { EscalationTarget } from "./escalate_policy.ts";
import type { Rule } from "./policy.ts";

/** An escalation decided: where to, and why in one line (the NodeHealEscalated Event). */
export interface Escalation {
  to: EscalationTarget;
  count: number;
  message: string;
}

/** How many times node-heal took `node` out within `windowMs` before `now`. */
export function remediatedWithin(node: Node, now: Date, windowMs: number): number {
  const since = now.getTime() - windowMs;
  return remediations(node).filter((t) => t > since).length;
}

/**
 * The escalation of an alert under `rule` that asks for `asks` (undefined: the cordon alone), on
 * a Node that is cordoned already (a hold, whose cordon was counted when it was made) or not (a
 * cordon, counted now). Undefined when the rule has no `escalate:`, when the alert already asks
 * for as much, or when the Node was not remediated often enough.
 */
export function escalationOf(
  rule: Rule,
  asks: EscalationTarget | undefined,
  on: { node: Node; now: Date; cordoned: boolean },
): Escalation | undefined {
  const e = rule.escalate;
  if (!e || asks === e.to || asks === "replace") return undefined;
  const count = remediatedWithin(on.node, on.now, e.withinMs) + (on.cordoned ? 0 : 1);
  if (count < e.after) return undefined;
  const name = on.node.metadata.name;
  return {
    to: e.to,
    count,
    message: `${name} was remediated ${count} times in ${
      formatDuration(e.withinMs)
    }; escalating to ${e.to}`,
  };
}

/**
 * A cordon or hold that raises the Node's target because of `escalation`: its Event is
 * NodeHealEscalated and says why, and it is counted (`nodeheal_escalations_total`). A skip, or
 * a write that asks for nothing more, is left as it is.
 */
export function escalating(
  decision: Decision,
  escalation: Escalation | undefined,
  asked: Record<string, string>,
): Decision {
  if (!escalation || decision.kind !== "act" || Object.keys(asked).length === 0) return decision;
  const { message, to } = escalation;
  return {
    ...decision,
    message: `${decision.message}; ${message}`,
    event: { reason: "NodeHealEscalated", type: "Warning", message },
    escalated: to,
  };
}
