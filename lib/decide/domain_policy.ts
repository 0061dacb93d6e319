// The policy's words for correlated failures: budgets per topology domain (`gates.domains`: a
// label key, such as a zone or a pool, and the budgets each of its values gets) and the breaker
// (`gates.breaker`) that holds drains and replacements back when many nodes of one domain alert
// together. The counting is in domains.ts, the breaker in breaker.ts.
import { z } from "zod";
import { durationMs } from "../base/duration.ts";
import { boundedDuration, MAX_DURATIONS } from "./duration_policy.ts";

/** One `gates.domains` entry, read: a label key and the budgets each of its domains gets. */
export interface DomainGate {
  /** The Node label whose value names the domain (a zone, a pool, a rack). */
  key: string;
  /** Nodes of the domain that must stay schedulable and Ready: a count or a percentage (rounded up). */
  minHealthy?: number | string;
  /** Nodes of the domain that may be unavailable at once, whoever made them so (rounded down). */
  maxUnavailable?: number | string;
  /** Nodes of the domain node-heal may hold cordoned at once (rounded down). */
  maxCordoned?: number | string;
  /** Nodes of the domain node-heal drains at once. */
  maxConcurrent?: number;
  /** Replacements in flight in the domain at once. */
  maxReplacing?: number;
}

/** `gates.breaker`, read. */
export interface BreakerPolicy {
  /** The label whose values are the breaker's domains; unset, the whole selection is one. */
  key?: string;
  /** Nodes of one domain whose alerts began within `withinMs` of each other that open it. */
  alerting: number;
  withinMs: number;
  /** How long it stays open once fewer than `alerting` such nodes still alert (ms). */
  quietMs: number;
  /** Once closed, the escalations it held start one per this long (ms). */
  releaseMs: number;
}

/** How often a closed breaker lets a held escalation start, when `release` is not given. */
export const DEFAULT_RELEASE_MS = 60_000;

/** The most `gates.domains` entries a policy may list: each is counted on every Node change. */
export const MAX_DOMAIN_GATES = 8;

/** A Kubernetes label key: an optional DNS prefix and `/`, then a name of at most 63 characters. */
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

const labelKey = z.string({
  error: 'must be a Node label key such as "topology.kubernetes.io/zone"',
})
  .max(317).regex(
    LABEL_KEY,
    'must be a Node label key such as "topology.kubernetes.io/zone"',
  );

/** A count, or a percentage such as "34%". */
const countOrPercent = z.union([
  z.number().int("must be a whole count").min(0, "must be 0 or more"),
  z.string().regex(/^(100|[1-9]?\d)%$/, 'must be a count or a percentage such as "34%"'),
]);

const BUDGETS = ["minHealthy", "maxUnavailable", "maxCordoned", "maxConcurrent", "maxReplacing"];

/** A count of 1 or more. */
const positive = z.number({ error: "must be a count such as 1" }).int("must be a whole count")
  .min(1, "must be 1 or more");

export const domainsSchema = z.array(
  z.object({
    key: labelKey,
    minHealthy: countOrPercent.optional(),
    maxUnavailable: countOrPercent.optional(),
    maxCordoned: countOrPercent.optional(),
    maxConcurrent: positive.optional(),
    maxReplacing: positive.optional(),
  }).strict().refine(
    (d) => BUDGETS.some((b) => b in d),
    `must set at least one of ${BUDGETS.join(", ")}`,
  ),
  {
    error:
      "must be a list of domains, such as [{ key: topology.kubernetes.io/zone, maxUnavailable: 1 }]",
  },
).max(MAX_DOMAIN_GATES, `must list at most ${MAX_DOMAIN_GATES} domains`).refine(
  (list) => new Set(list.map((d) => d.key)).size === list.length,
  "must name each key once (give one entry all of a key's budgets)",
);

const window = boundedDuration(MAX_DURATIONS.window);

export const breakerSchema = z.object({
  key: labelKey.optional(),
  alerting: z.number({ error: "must be a count of nodes such as 3" }).int("must be a whole count")
    .min(2, "must be at least 2: one node alerting is a node problem"),
  within: window.refine((d) => durationMs(d)! > 0, "must be longer than 0"),
  // A breaker quiet for 0s would close in the moment it opened, and hold nothing.
  quiet: window.refine((d) => durationMs(d)! > 0, "must be longer than 0"),
  release: window.optional(),
}, { error: "must be a map such as { alerting: 3, within: 5m, quiet: 15m }" }).strict();

/** `gates.domains` as the decisions read it. */
export function readDomains(raw: z.infer<typeof domainsSchema> | undefined): DomainGate[] {
  return (raw ?? []).map((d) => ({ ...d }));
}

/** `gates.breaker` as the decisions read it: durations in ms. */
export function readBreaker(
  raw: z.infer<typeof breakerSchema> | undefined,
): BreakerPolicy | undefined {
  if (!raw) return undefined;
  return {
    ...(raw.key ? { key: raw.key } : {}),
    alerting: raw.alerting,
    withinMs: durationMs(raw.within)!,
    quietMs: durationMs(raw.quiet)!,
    releaseMs: raw.release ? durationMs(raw.release)! : DEFAULT_RELEASE_MS,
  };
}

/**
 * A count of a budget over `total` nodes: a count as it is, a percentage rounded down (a budget
 * that takes away is never rounded up) or, for `minHealthy`, up (what must stay).
 */
export function scaled(value: number | string, total: number, round: "up" | "down"): number {
  if (typeof value === "number") return value;
  const exact = (Number(value.slice(0, -1)) * total) / 100;
  return round === "up" ? Math.ceil(exact) : Math.floor(exact);
}

/** The most characters of a domain's value node-heal shows (a label value has at most 63). */
const MAX_VALUE = 63;

/** A domain's value as a Node carries it: its label's value, "" when it has none. */
export function domainValue(labels: Record<string, string> | undefined, key: string): string {
  const value = labels?.[key] ?? "";
  return value.length > MAX_VALUE ? value.slice(0, MAX_VALUE) : value;
}

/**
 * Whether a replacement recorded with `labels` counts in domain `value` of `key`: when its labels
 * name that domain, or when they do not know the key (recorded without labels, or under a policy
 * whose domains had other keys), since then it may have been in any.
 */
export function recordedIn(
  labels: Readonly<Record<string, string>> | undefined,
  key: string,
  value: string,
): boolean {
  return !labels || !Object.hasOwn(labels, key) || labels[key] === value;
}

/** How messages name a domain: `zone us-east-1a`, `nodepool general`, `zone (unlabelled)`. */
export function domainName(key: string | undefined, value: string): string {
  if (key === undefined) return "the selection";
  const short = key.slice(key.lastIndexOf("/") + 1);
  return `${short} ${value === "" ? "(unlabelled)" : JSON.stringify(value).slice(1, -1)}`;
}
