import { parse as parseYaml } from "yaml";
import { fieldName, valueAt } from "../field_path.ts";
import { z } from "zod";
import type { Alert } from "../intake/alertmanager.ts";
import { DEFAULT_DRAIN, type DrainOptions } from "./drain_plan.ts";
import { DURATION_PATTERN, durationMs } from "../duration.ts";

/** What a policy rule may ask for: the steps of the ladder (replace comes later), or nothing. */
export type PolicyAction = "cordon" | "drain" | "none";

/** One Alertmanager-style matcher: `name="value"`, `name!="value"`, `name=~"re"`, `name!~"re"`. */
export interface Matcher {
  name: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
  regex?: RegExp;
}

/** A policy rule: alerts matching every matcher get one of `actions` (the first unless `heal_action` picks another). */
export interface Rule {
  name: string;
  match: Matcher[];
  actions: PolicyAction[];
  /** For `drain`: how long after the cordon the drain starts if the alert still fires (ms; 0 = at once). */
  drainAfterMs: number;
  /** For `drain`: uncordon a drained node when its alerts resolve (default true). */
  uncordonAfterDrain: boolean;
  /** For `drain`: which pods may be evicted, and for how long it may try. */
  drain: DrainOptions;
}

/** The safety gates' settings. */
export interface Gates {
  /** Nodes outside this label selector are protected (never touched); empty selects all. */
  nodeSelector: Record<string, string>;
  /** Selected nodes that must stay schedulable and Ready: a count, or a percentage (`"51%"`). */
  minHealthy: number | string;
  /** Nodes node-heal drains or replaces at once (cordons are bounded by minHealthy and rate). */
  maxConcurrent: number;
  /** At most `max` remediations a `window` (ms). */
  rate: { max: number; windowMs: number };
  /** A node node-heal released is not remediated again for this long (ms). */
  cooldownMs: number;
  /** Stop new remediations (releases still happen). */
  paused: boolean;
}

/** The whole policy: rules, first match wins, and gates. */
export interface Policy {
  rules: Rule[];
  gates: Gates;
}

/** The policy used when no `--config` is given. */
export const DEFAULT_POLICY: Policy = {
  rules: [{
    name: "heal",
    match: [{ name: "heal", op: "=", value: "true" }],
    actions: ["cordon", "drain"],
    drainAfterMs: 0,
    uncordonAfterDrain: true,
    drain: DEFAULT_DRAIN,
  }],
  gates: {
    nodeSelector: {},
    minHealthy: "51%",
    maxConcurrent: 1,
    rate: { max: 5, windowMs: 3_600_000 },
    cooldownMs: 600_000,
    paused: false,
  },
};

const MATCHER =
  /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s,{}]*))\s*$/;

/** Alertmanager's unescaping of a quoted value: `\\`, `\"` and `\n`; other escapes stay as written. */
function unescape(value: string): string {
  return value.replace(/\\(["\\n])/g, (_, c) => c === "n" ? "\n" : c);
}

/** Splits `a="x", b=~"y"` (optionally in braces) into matchers, on commas outside quotes. */
export function splitMatchers(text: string): string[] {
  let t = text.trim();
  if (t.startsWith("{") && t.endsWith("}")) t = t.slice(1, -1);
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (ch === "\\" && quoted) {
      current += ch + (t[i + 1] ?? "");
      i++;
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === "," && !quoted) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

/** Parses one matcher in Alertmanager's syntax; throws a message naming the text. */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER.exec(text);
  if (!m) throw new Error(`must be a matcher such as heal="true", got "${text}"`);
  const value = m[3] !== undefined ? unescape(m[3]) : m[4];
  const op = m[2] as Matcher["op"];
  const matcher: Matcher = { name: m[1], op, value };
  if (op === "=~" || op === "!~") {
    // Alertmanager's regexes are RE2: no lookaround and no backreferences.
    if (/\(\?[=!<]|\\[1-9]/.test(value)) {
      throw new Error(
        `has a regular expression Alertmanager would refuse (RE2 has no lookaround or backreferences): "${value}"`,
      );
    }
    try {
      matcher.regex = new RegExp(`^(?:${value})$`);
    } catch {
      throw new Error(`has an invalid regular expression "${value}"`);
    }
  }
  return matcher;
}

/** Whether a label set satisfies a matcher (a missing label reads as empty, as in Alertmanager). */
export function matches(m: Matcher, labels: Record<string, string>): boolean {
  const v = labels[m.name] ?? "";
  switch (m.op) {
    case "=":
      return v === m.value;
    case "!=":
      return v !== m.value;
    case "=~":
      return m.regex!.test(v);
    case "!~":
      return !m.regex!.test(v);
  }
}

/** What the policy says about one alert: an action, or why there is none. */
export type Choice =
  | { action: PolicyAction; rule: string; options: Rule }
  | { action?: undefined; rule?: string; why: string };

/** Chooses the action for an alert: the first matching rule, then its `heal_action` label if allowed. */
export function chooseAction(policy: Policy, alert: Alert): Choice {
  const rule = policy.rules.find((r) => r.match.every((m) => matches(m, alert.labels)));
  if (!rule) return { why: "no policy rule matches it" };
  const asked = alert.labels.heal_action;
  if (asked !== undefined && asked !== "") {
    if (!(rule.actions as string[]).includes(asked)) {
      return {
        rule: rule.name,
        why: `its heal_action "${asked}" is not allowed by rule "${rule.name}" (allowed: ${
          rule.actions.join(", ")
        })`,
      };
    }
    return { action: asked as PolicyAction, rule: rule.name, options: rule };
  }
  return { action: rule.actions[0], rule: rule.name, options: rule };
}

/** Milliseconds of a duration the schema below has checked. */
function ms(text: string): number {
  return durationMs(text)!;
}

const duration = z.string().regex(
  DURATION_PATTERN,
  'must be a duration such as "90s", "10m" or "1h"',
);

const fileSchema = z.object({
  rules: z.array(
    z.object({
      name: z.string().min(1),
      match: z.array(z.string()).min(1),
      actions: z.array(z.enum(["cordon", "drain", "none"])).min(1),
      drainAfter: duration.optional(),
      uncordonAfterDrain: z.boolean().optional(),
      drain: z.object({
        deleteEmptyDirData: z.boolean().optional(),
        evictStandalone: z.boolean().optional(),
        evictUnsafe: z.boolean().optional(),
        gracePeriodSeconds: z.number().int().nonnegative().optional(),
        timeout: duration.optional(),
      }).strict().optional(),
    }).strict(),
  ).min(1).optional(),
  gates: z.object({
    nodeSelector: z.record(z.string(), z.string()).optional(),
    minHealthy: z.union([
      z.number().int().nonnegative(),
      z.string().regex(/^(100|[1-9]?\d)%$/, 'must be a count or a percentage such as "51%"'),
    ]).optional(),
    maxConcurrent: z.number().int().positive().optional(),
    rate: z.object({ max: z.number().int().positive(), window: duration }).strict().optional(),
    cooldown: duration.optional(),
    paused: z.boolean().optional(),
  }).strict().optional(),
}).strict();

/** Parses and validates a policy file (YAML); throws naming the field and the value that are wrong. */
export function parsePolicy(text: string, source = "policy"): Policy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new Error(`Cannot load ${source}: not YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const result = fileSchema.safeParse(raw ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = fieldName(issue.path) || "(file)";
    const got = valueAt(raw, issue.path);
    throw new Error(
      `Cannot load ${source}: field "${field}" ${
        issue.code === "unrecognized_keys"
          ? `has unknown keys ${issue.keys.join(", ")}`
          : issue.message
      }, got ${JSON.stringify(got) ?? "nothing"}`,
    );
  }
  const file = result.data;
  const names = new Set<string>();
  for (const [i, r] of (file.rules ?? []).entries()) {
    if (names.has(r.name)) {
      throw new Error(
        `Cannot load ${source}: field "rules[${i}].name" repeats the rule name "${r.name}"`,
      );
    }
    names.add(r.name);
  }
  if (file.gates?.rate && ms(file.gates.rate.window) <= 0) {
    throw new Error(
      `Cannot load ${source}: field "gates.rate.window" must be longer than 0, got "${file.gates.rate.window}"`,
    );
  }
  const rules: Rule[] = file.rules
    ? file.rules.map((r, i) => ({
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
      match: r.match.flatMap((text, j) => {
        try {
          const parts = splitMatchers(text);
          if (parts.length === 0) {
            throw new Error(`must be a matcher such as heal="true", got "${text}"`);
          }
          return parts.map(parseMatcher);
        } catch (err) {
          throw new Error(
            `Cannot load ${source}: field "rules[${i}].match[${j}]" ${(err as Error).message}`,
          );
        }
      }),
    }))
    : DEFAULT_POLICY.rules;
  const g = file.gates ?? {};
  const d = DEFAULT_POLICY.gates;
  return {
    rules,
    gates: {
      nodeSelector: g.nodeSelector ?? d.nodeSelector,
      minHealthy: g.minHealthy ?? d.minHealthy,
      maxConcurrent: g.maxConcurrent ?? d.maxConcurrent,
      rate: g.rate ? { max: g.rate.max, windowMs: ms(g.rate.window) } : d.rate,
      cooldownMs: g.cooldown ? ms(g.cooldown) : d.cooldownMs,
      paused: g.paused ?? d.paused,
    },
  };
}
