// The policy's words for the last step of the ladder: how a rule replaces a Node (`replace:`),
// and the gates that bound replacements (`maxReplacing`, `replaceRate`).
import { z } from "zod";
import { DURATION_PATTERN, durationMs } from "../base/duration.ts";

/** The ways node-heal can replace a Node. */
export const PROVIDERS = ["karpenter", "cluster-api", "aws-asg", "gcp-mig", "delete-node"] as const;

/** One of {@link PROVIDERS}. */
export type ProviderName = (typeof PROVIDERS)[number];

/** A rule's `replace:` map, read. */
export interface ReplaceOptions {
  provider: ProviderName;
  /** A replacement not done this long after it started fails (ms). */
  timeoutMs: number;
  /**
   * The Node label whose value names its pool: the successor must carry the same value. When
   * unset, the first of {@link POOL_LABELS} the Node has.
   */
  poolLabel?: string;
  /** aws-asg: the region (else the SDK's default chain: `AWS_REGION`, the config file). */
  region?: string;
  /** aws-asg, gcp-mig: the API's address instead of the public one (VPC endpoints, emulators). */
  endpoint?: string;
  /** gcp-mig: the project (else the one in the providerID). */
  project?: string;
  /** gcp-mig: the managed instance group's zone (else the instance's). */
  zone?: string;
  /** gcp-mig: the managed instance group (else the one that created the instance). */
  group?: string;
}

/** The replacement gates, read. */
export interface ReplaceGates {
  maxReplacing: number;
  replaceRate: { max: number; windowMs: number };
}

/** Replacement gates when the policy names none: one at a time, two an hour. */
export const DEFAULT_REPLACE_GATES: ReplaceGates = {
  maxReplacing: 1,
  replaceRate: { max: 2, windowMs: 3_600_000 },
};

/** How long a replacement may take when `timeout` is not given: a cloud's boot and join, with room. */
export const DEFAULT_REPLACE_TIMEOUT_MS = 20 * 60_000;

/**
 * The longest a rule's `timeout` may be. A replacement is a boot and a join, minutes; the bound
 * keeps every deadline node-heal records within what it accepts back from the ledger.
 */
export const MAX_REPLACE_TIMEOUT_MS = 24 * 3_600_000;

/** Labels that name a Node's pool, in the order they are looked for. */
export const POOL_LABELS = [
  "karpenter.sh/nodepool",
  "eks.amazonaws.com/nodegroup",
  "alpha.eksctl.io/nodegroup-name",
  "cloud.google.com/gke-nodepool",
  "kubernetes.azure.com/agentpool",
  "node-heal.io/pool",
];

const duration = z.string().regex(
  DURATION_PATTERN,
  'must be a duration such as "90s", "10m" or "1h"',
);
const endpoint = z.string().regex(
  /^https?:\/\/[^\s/]+(\/\S*)?$/,
  'must be an http:// or https:// URL such as "https://autoscaling.us-east-1.amazonaws.com"',
);
const common = {
  timeout: duration.refine(
    (d) => (durationMs(d) ?? 0) <= MAX_REPLACE_TIMEOUT_MS,
    "must be at most 24h",
  ).optional(),
  poolLabel: z.string().min(1).optional(),
};

/** The `replace:` map of a rule: the provider, and the keys that provider takes. */
export const replaceSchema = z.discriminatedUnion("provider", [
  z.object({ provider: z.literal("karpenter"), ...common }).strict(),
  z.object({ provider: z.literal("cluster-api"), ...common }).strict(),
  z.object({ provider: z.literal("delete-node"), ...common }).strict(),
  z.object({
    provider: z.literal("aws-asg"),
    ...common,
    region: z.string().regex(
      /^[a-z]{2}(-[a-z]+)+-\d+$/,
      'must be an AWS region such as "us-east-1"',
    ).optional(),
    endpoint: endpoint.optional(),
  }).strict(),
  z.object({
    provider: z.literal("gcp-mig"),
    ...common,
    project: z.string().regex(/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/, "must be a GCP project id")
      .optional(),
    zone: z.string().regex(/^[a-z]+-[a-z]+\d+-[a-z]$/, 'must be a GCP zone such as "us-central1-a"')
      .optional(),
    group: z.string().regex(
      /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/,
      "must be a managed instance group's name",
    ).optional(),
    endpoint: endpoint.optional(),
  }).strict(),
], {
  error: (issue) =>
    issue.code === "invalid_union"
      ? `must name a provider: one of ${PROVIDERS.join(", ")}`
      : undefined,
});

/** A `replace:` map as the schema read it, in the form decisions and providers use. */
export function replaceOptions(raw: z.infer<typeof replaceSchema>): ReplaceOptions {
  const { timeout, ...rest } = raw;
  return { ...rest, timeoutMs: timeout ? durationMs(timeout)! : DEFAULT_REPLACE_TIMEOUT_MS };
}
