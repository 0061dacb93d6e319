import { valueAt } from "../base/field_path.ts";
import { z } from "zod";
import type { Alert } from "../intake/alertmanager.ts";
import { DEFAULT_DRAIN, type DrainOptions } from "./drain_plan.ts";
import { durationMs } from "../base/duration.ts";
import { checkDangers, DANGERS } from "./danger_policy.ts";
import { boundedDuration, MAX_DURATIONS } from "./duration_policy.ts";
import { fieldRefusal, PolicyRefused } from "./policy_refusal.ts";
import { unknownKeysRefusal } from "./policy_keys.ts";
import { parsePolicyYaml } from "./policy_yaml.ts";
import { checkRules, readRule } from "./rule_policy.ts";
import {
  type BreakerPolicy,
  breakerSchema,
  type DomainGate,
  domainsSchema,
  readBreaker,
  readDomains,
} from "./domain_policy.ts";
import { type Matcher, matches } from "./matchers.ts";
import { type Escalate, escalateSchema } from "./escalate_policy.ts";
import { notifySchema, readNotify, type SinkConfig } from "./notify_policy.ts";
import {
  DEFAULT_REPLACE_GATES,
  type ReplaceGates,
  type ReplaceOptions,
  replaceSchema,
} from "./replace_policy.ts";

export { type Matcher, matches, parseMatcher, splitMatchers } from "./matchers.ts";
export { PolicyRefused } from "./policy_refusal.ts";
export type { ProviderName, ReplaceGates, ReplaceOptions } from "./replace_policy.ts";
export type { BreakerPolicy, DomainGate } from "./domain_policy.ts";
export type { Escalate } from "./escalate_policy.ts";

/** What a policy rule may ask for: the steps of the ladder, or nothing. */
export type PolicyAction = "cordon" | "drain" | "replace" | "none";

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
  /** For `replace`: how long after the drain ends (or fails) the replacement starts, if the alert still fires (ms). */
  replaceAfterMs: number;
  /** For `replace`: how the Node is replaced; set whenever `actions` lists `replace`. */
  replace?: ReplaceOptions;
  /** A Node remediated this often lately goes straight to a later step (escalation.ts). */
  escalate?: Escalate;
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
  /** Replacements in flight at once, at most. */
  maxReplacing: ReplaceGates["maxReplacing"];
  /** At most `max` replacements started a `window` (ms). */
  replaceRate: ReplaceGates["replaceRate"];
  /** Budgets per topology domain (zone, pool): a take-out, drain or replacement passes each. */
  domains?: readonly DomainGate[];
  /** The correlated-failure breaker, if the policy sets one. */
  breaker?: BreakerPolicy;
}

/** The whole policy: rules, first match wins, gates, and where notifications go. */
export interface Policy {
  rules: Rule[];
  gates: Gates;
  /** The notification sinks (none by default). */
  notify: SinkConfig[];
  /**
   * The labels, name to value, that every alert about this cluster carries (`cluster:`, or
   * `--cluster-name`); an alert without them all is another cluster's and is not acted on.
   * Unset: every alert is taken as this cluster's.
   */
  cluster?: Readonly<Record<string, string>>;
  /** One warning line for each danger the policy acknowledges (`acknowledge:`), said at load. */
  warnings?: readonly string[];
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
    replaceAfterMs: 0,
  }],
  gates: {
    nodeSelector: {},
    minHealthy: "51%",
    maxConcurrent: 1,
    rate: { max: 5, windowMs: 3_600_000 },
    cooldownMs: 600_000,
    paused: false,
    ...DEFAULT_REPLACE_GATES,
  },
  notify: [],
};

/**
 * `policy` with `cluster: { cluster: name }` when it sets no `cluster:` itself and `--cluster-name`
 * gives a name; else `policy` as it is.
 */
export function withClusterName(policy: Policy, name: string | undefined): Policy {
  return policy.cluster || !name ? policy : { ...policy, cluster: { cluster: name } };
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

const after = boundedDuration(MAX_DURATIONS.after);
const timeout = boundedDuration(MAX_DURATIONS.timeout);
const window = boundedDuration(MAX_DURATIONS.window);

/** A Prometheus label name. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A value `cluster:` (or `--cluster-name`) may ask for: no control character, none empty. */
export const CLUSTER_VALUE = /^[^\p{Cc}\p{Cf}]{1,253}$/u;

const fileSchema = z.object({
  rules: z.array(
    z.object({
      // Bounded as the replacement ledger bounds the rule it records.
      name: z.string().min(1).max(253),
      match: z.array(z.string()).min(1),
      actions: z.array(z.enum(["cordon", "drain", "replace", "none"])).min(1),
      drainAfter: after.optional(),
      replaceAfter: after.optional(),
      replace: replaceSchema.optional(),
      escalate: escalateSchema.optional(),
      uncordonAfterDrain: z.boolean().optional(),
      drain: z.object({
        deleteEmptyDirData: z.boolean().optional(),
        evictStandalone: z.boolean().optional(),
        evictUnsafe: z.boolean().optional(),
        gracePeriodSeconds: z.number().int().nonnegative().optional(),
        timeout: timeout.optional(),
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
    rate: z.object({ max: z.number().int().positive(), window }).strict().optional(),
    cooldown: window.optional(),
    paused: z.boolean().optional(),
    maxReplacing: z.number().int().positive().optional(),
    replaceRate: z.object({ max: z.number().int().positive(), window }).strict().optional(),
    domains: domainsSchema.optional(),
    breaker: breakerSchema.optional(),
  }).strict().optional(),
  notify: notifySchema.optional(),
  cluster: z.record(
    z.string().regex(LABEL_NAME, 'must be a label name such as "cluster"'),
    z.string({ error: 'must be a string; quote a number, such as "5"' })
      .regex(CLUSTER_VALUE, "must be a label value of 1 to 253 printable characters"),
    { error: "must map label names to values, such as { cluster: prod }" },
  ).refine(
    (m) => Object.keys(m).length > 0,
    'must name at least one label, such as "cluster: prod"',
  )
    .optional(),
  acknowledge: z.array(z.enum(DANGERS)).optional(),
}).strict();

/**
 * Parses and validates a policy file (YAML) within its bounds; throws {@link PolicyRefused}, one
 * short line naming the field and what was expected, never quoting a secret.
 */
export function parsePolicy(text: string, source = "policy"): Policy {
  try {
    return readPolicy(text);
  } catch (err) {
    throw new PolicyRefused(`Cannot load ${source}: ${(err as Error).message}`);
  }
}

/** The reason a policy's schema refuses it: the first issue, its field, what was got. */
function schemaRefusal(raw: unknown, error: z.ZodError): string {
  // Keys the policy does not know, first: a misspelled key explains the missing one it stands for
  // (`macth` for `match`). Named with the known key nearest, nothing under them quoted.
  const unknown = error.issues.find((i) => i.code === "unrecognized_keys");
  if (unknown) return unknownKeysRefusal(fileSchema, raw, unknown);
  let issue = error.issues[0];
  let got = valueAt(raw, issue.path);
  // A bad key of a map (`cluster:`): its own message, and the key as what was got.
  if (issue.code === "invalid_key" && issue.issues[0]) {
    got = issue.path.at(-1);
    issue = { ...issue.issues[0], path: issue.path } as typeof issue;
  }
  return fieldRefusal(issue.path, issue.message, got);
}

function readPolicy(text: string): Policy {
  const raw = parsePolicyYaml(text);
  const result = fileSchema.safeParse(raw ?? {});
  if (!result.success) throw new Error(schemaRefusal(raw, result.error));
  const file = result.data;
  checkRules(file.rules ?? []);
  checkRateWindows(file.gates ?? {});
  const rules: Rule[] = file.rules ? file.rules.map(readRule) : DEFAULT_POLICY.rules;
  const gates = readGates(file.gates ?? {});
  const warnings = checkDangers({ rules, ...gates }, file.acknowledge ?? []);
  return {
    notify: readNotify(file.notify ?? []),
    ...(file.cluster ? { cluster: file.cluster } : {}),
    rules,
    gates,
    ...(warnings.length ? { warnings } : {}),
  };
}

type PolicyFile = z.infer<typeof fileSchema>;
/** One rule of a policy file, as the schema read it. */
export type FileRule = NonNullable<PolicyFile["rules"]>[number];
type FileGates = NonNullable<PolicyFile["gates"]>;

/** A rate's window must be longer than 0: every action would otherwise fall outside it. */
function checkRateWindows(gates: FileGates): void {
  for (const [field, rate] of [["rate", gates.rate], ["replaceRate", gates.replaceRate]] as const) {
    if (rate && ms(rate.window) <= 0) {
      throw new Error(`field "gates.${field}.window" must be longer than 0, got "${rate.window}"`);
    }
  }
}

/** The gates as the decisions read them: durations in ms, the defaults where the file is silent. */
function readGates(g: FileGates): Gates {
  const d = DEFAULT_POLICY.gates;
  return {
    nodeSelector: g.nodeSelector ?? d.nodeSelector,
    minHealthy: g.minHealthy ?? d.minHealthy,
    maxConcurrent: g.maxConcurrent ?? d.maxConcurrent,
    rate: g.rate ? { max: g.rate.max, windowMs: ms(g.rate.window) } : d.rate,
    cooldownMs: g.cooldown ? ms(g.cooldown) : d.cooldownMs,
    paused: g.paused ?? d.paused,
    maxReplacing: g.maxReplacing ?? d.maxReplacing,
    replaceRate: g.replaceRate
      ? { max: g.replaceRate.max, windowMs: ms(g.replaceRate.window) }
      : d.replaceRate,
    ...(g.domains?.length ? { domains: readDomains(g.domains) } : {}),
    ...(g.breaker ? { breaker: readBreaker(g.breaker) } : {}),
  };
}
