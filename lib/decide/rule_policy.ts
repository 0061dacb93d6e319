// What the schema alone cannot say of a policy's rules (unique names; a replace, an escalation and
// their actions agreeing; timeouts longer than 0), and a rule as the decisions read it: durations
// in ms, defaults filled in, matchers parsed. policy.ts reads the file; this reads its rules.
import { clip } from "../base/clip.ts";
import { durationMs } from "../base/duration.ts";
import { DEFAULT_DRAIN } from "./drain_plan.ts";
import { parseMatcher, splitMatchers } from "./matchers.ts";
import type { FileRule, Rule } from "./policy.ts";
import { replaceOptions } from "./replace_policy.ts";
import { checkEscalate, readEscalate } from "./escalate_policy.ts";

/** Milliseconds of a duration the schema has checked. */
function ms(text: string): number {
  return durationMs(text)!;
}

/** What the schema cannot say of the rules: unique names, and a replace and its actions agreeing. */
export function checkRules(rules: FileRule[]): void {
  const names = new Set<string>();
  for (const [i, r] of rules.entries()) {
    if (names.has(r.name)) {
      throw new Error(
        `field "rules[${i}].name" repeats the rule name ${JSON.stringify(clip(r.name, 60))}`,
      );
    }
    names.add(r.name);
    if (r.replace && !r.actions.includes("replace")) {
      throw new Error(
        `field "rules[${i}].replace" says how to replace, but actions does not list replace, got actions ${
          JSON.stringify(r.actions)
        }`,
      );
    }
    if (r.replace?.timeout !== undefined && ms(r.replace.timeout) <= 0) {
      throw new Error(
        `field "rules[${i}].replace.timeout" must be longer than 0, got "${r.replace.timeout}"`,
      );
    }
    // A drain that times out at once fails at once: a replace after it would replace undrained.
    if (r.drain?.timeout !== undefined && ms(r.drain.timeout) <= 0) {
      throw new Error(
        `field "rules[${i}].drain.timeout" must be longer than 0, got "${r.drain.timeout}"`,
      );
    }
    if (r.actions.includes("replace") && !r.replace) {
      throw new Error(
        `field "rules[${i}].replace" must say how to replace (provider: karpenter, cluster-api, aws-asg, gcp-mig or delete-node) since actions lists replace, got nothing`,
      );
    }
    if (r.escalate) checkEscalate(r.escalate, r, i);
  }
}

/** A rule as the decisions read it: durations in ms, defaults filled in, matchers parsed. */
export function readRule(r: FileRule, i: number): Rule {
  return {
    name: r.name,
    actions: r.actions,
    drainAfterMs: r.drainAfter ? ms(r.drainAfter) : 0,
    uncordonAfterDrain: r.uncordonAfterDrain ?? true,
    drain: {
      deleteEmptyDirData: r.drain?.deleteEmptyDirData ?? DEFAULT_DRAIN.deleteEmptyDirData,
      evictStandalone: r.drain?.evictStandalone ?? DEFAULT_DRAIN.evictStandalone,
      evictUnsafe: r.drain?.evictUnsafe ?? DEFAULT_DRAIN.evictUnsafe,
      ...(r.drain?.gracePeriodSeconds !== undefined
        ? { gracePeriodSeconds: r.drain.gracePeriodSeconds }
        : {}),
      timeoutMs: r.drain?.timeout ? ms(r.drain.timeout) : DEFAULT_DRAIN.timeoutMs,
    },
    replaceAfterMs: r.replaceAfter ? ms(r.replaceAfter) : 0,
    ...(r.replace ? { replace: replaceOptions(r.replace) } : {}),
    ...(r.escalate ? { escalate: readEscalate(r.escalate) } : {}),
    match: r.match.flatMap((text, j) => {
      try {
        const parts = splitMatchers(text);
        if (parts.length === 0) {
          throw new Error(`must be a matcher such as heal="true", got "${clip(text, 200)}"`);
        }
        return parts.map(parseMatcher);
      } catch (err) {
        throw new Error(`field "rules[${i}].match[${j}]" ${clip((err as Error).message, 300)}`);
      }
    }),
  };
}
