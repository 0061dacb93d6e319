// The policy's words for escalation by recurrence: a rule's `escalate:` map sends a Node that
// needed remediation `after` times within `within` straight to a later step of the rule's ladder
// (escalation.ts decides it; docs/policy.md).
import { z } from "zod";
import { durationMs } from "../base/duration.ts";
import { boundedDuration, MAX_DURATIONS } from "./duration_policy.ts";
import { MAX_REMEDIATIONS } from "./state_schema.ts";

/** The steps an escalation may go to: past the cordon every remediation starts with. */
export const ESCALATION_TARGETS = ["drain", "replace"] as const;

/** One of {@link ESCALATION_TARGETS}. */
export type EscalationTarget = (typeof ESCALATION_TARGETS)[number];

/** A rule's `escalate:`, read. */
export interface Escalate {
  /** Remediations within `withinMs`, this one counted, that escalate (2 to the 20 a Node keeps). */
  after: number;
  withinMs: number;
  to: EscalationTarget;
}

/** A rule's `escalate:` map. `after` is bounded by the remediation times a Node keeps. */
export const escalateSchema = z.object({
  after: z.number({ error: "must be a whole number of remediations such as 3" }).int()
    .min(2, "must be at least 2: the first remediation is the rule's own ladder")
    .max(
      MAX_REMEDIATIONS,
      `must be at most ${MAX_REMEDIATIONS}: node-heal keeps a Node's last ${MAX_REMEDIATIONS} remediation times`,
    ),
  within: boundedDuration(MAX_DURATIONS.window),
  to: z.enum(ESCALATION_TARGETS, { error: "must be drain or replace, a later step of the ladder" }),
}).strict();

type EscalateFile = z.infer<typeof escalateSchema>;

/**
 * What the schema cannot say of a rule's `escalate:`: `within` at least 1m, `to` one of the
 * rule's actions (and so, for replace, a rule that says how to replace). Throws one line naming
 * the field.
 */
export function checkEscalate(
  e: EscalateFile,
  rule: { actions: readonly string[]; replace?: unknown },
  i: number,
): void {
  const field = `field "rules[${i}].escalate`;
  // Remediations are at least a cordon and a release apart: a window under a minute counts one.
  if ((durationMs(e.within) ?? 0) < 60_000) {
    throw new Error(`${field}.within" must be at least 1m, got "${e.within}"`);
  }
  if (!rule.actions.includes(e.to)) {
    throw new Error(
      `${field}.to" must be one of the rule's actions, got "${e.to}" with actions ${
        JSON.stringify(rule.actions)
      }`,
    );
  }
  if (e.to === "replace" && !rule.replace) {
    throw new Error(`${field}.to" is replace, but the rule has no replace: to say how`);
  }
}

/** A rule's `escalate:` as the decisions read it. */
export function readEscalate(e: EscalateFile): Escalate {
  return { after: e.after, withinMs: durationMs(e.within)!, to: e.to };
}
