// The policy's words for notifications: a top-level `notify:` list of sinks, each with a name, a
// type, the event kinds it wants (`on:`) and the alerts it wants (`match:`). Secrets are named
// here (a file or an environment variable), never written here.
import { z } from "zod";
import { durationMs } from "../base/duration.ts";
import { boundedDuration, MAX_DURATIONS } from "./duration_policy.ts";
import { type Matcher, parseMatcher, splitMatchers } from "./matchers.ts";

/** The kinds of events node-heal notifies, in the order of the ladder. */
export const NOTIFY_KINDS = [
  "cordoned",
  "drainStarted",
  "drained",
  "drainFailed",
  "replaceStarted",
  "replaced",
  "replaceFailed",
  "released",
  "blocked",
  "breakerOpen",
  "breakerClosed",
] as const;

/** The sink types. */
export const SINK_TYPES = ["slack", "pagerduty", "webhook", "log"] as const;

/** Where a secret is read from: a file (a mounted Secret), or an environment variable. */
export type SecretSource = { file: string } | { env: string };

/** One sink of the policy, read. */
export interface SinkConfig {
  name: string;
  type: (typeof SINK_TYPES)[number];
  /** The event kinds it gets; all when unset. */
  on?: readonly (typeof NOTIFY_KINDS)[number][];
  /** Alert matchers every event's alert must satisfy (an event no alert drove has empty labels). */
  match: Matcher[];
  /** Notifications waiting at most; beyond, the oldest is dropped and counted. */
  queue: number;
  /** A gate blocking the same node is told at most once this often (ms). */
  blockedEveryMs: number;
  /** slack: the incoming webhook URL; pagerduty: the routing key; webhook: the HMAC key. */
  secret?: SecretSource;
  /** pagerduty: the Events API v2 endpoint; webhook: where to POST. */
  url?: string;
  /** webhook: extra headers. */
  headers?: Record<string, string>;
}

/** PagerDuty's Events API v2 endpoint. */
export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

const DEFAULT_QUEUE = 1000;
const DEFAULT_BLOCKED_EVERY_MS = 10 * 60_000;

const url = z.string().regex(
  /^https?:\/\/[^\s/]+(\/\S*)?$/,
  'must be an http:// or https:// URL such as "https://hooks.example.com/node-heal"',
);
const path = z.string().min(1, "must be a file path");
const envName = z.string().regex(
  /^[A-Za-z_][A-Za-z0-9_]*$/,
  "must be an environment variable name",
);
const common = {
  name: z.string().regex(
    /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    'must be a name such as "ops-slack" (lower case, digits, dashes)',
  ),
  on: z.array(z.enum(NOTIFY_KINDS)).min(1).optional(),
  match: z.array(z.string()).optional(),
  queue: z.number().int().min(1).max(100_000).optional(),
  blockedEvery: boundedDuration(MAX_DURATIONS.blockedEvery).optional(),
};

/** The `notify:` list's schema. */
export const notifySchema = z.array(
  z.discriminatedUnion("type", [
    z.object({
      type: z.literal("slack"),
      ...common,
      urlFile: path.optional(),
      urlEnv: envName.optional(),
    })
      .strict(),
    z.object({
      type: z.literal("pagerduty"),
      ...common,
      routingKeyFile: path.optional(),
      routingKeyEnv: envName.optional(),
      url: url.optional(),
    }).strict(),
    z.object({
      type: z.literal("webhook"),
      ...common,
      url,
      secretFile: path.optional(),
      secretEnv: envName.optional(),
      headers: z.record(
        z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name"),
        z.string().regex(/^[^\r\n]*$/, "must be one line"),
      ).optional(),
    }).strict(),
    z.object({ type: z.literal("log"), ...common }).strict(),
  ], {
    error: (issue) =>
      issue.code === "invalid_union"
        ? `must name a type: one of ${SINK_TYPES.join(", ")}`
        : undefined,
  }),
);

/** Headers a webhook sink's `headers:` may not set: node-heal writes them. */
const OWN_HEADERS = [
  "content-type",
  "x-node-heal-signature",
  "x-node-heal-timestamp",
  "idempotency-key",
];

/**
 * The `notify:` list, read; throws a message naming the field (`notify[1].urlFile`) when a sink
 * cannot work: two of one name, a secret named twice or not at all.
 */
export function readNotify(raw: z.infer<typeof notifySchema>): SinkConfig[] {
  const names = new Set<string>();
  return raw.map((s, i) => {
    const field = `notify[${i}]`;
    if (names.has(s.name)) {
      throw new Error(`field "${field}.name" repeats the sink name "${s.name}"`);
    }
    names.add(s.name);
    const match = (s.match ?? []).flatMap((text, j) => {
      try {
        return splitMatchers(text).map(parseMatcher);
      } catch (err) {
        throw new Error(`field "${field}.match[${j}]" ${(err as Error).message}`);
      }
    });
    const base = {
      name: s.name,
      type: s.type,
      ...(s.on ? { on: s.on } : {}),
      match,
      queue: s.queue ?? DEFAULT_QUEUE,
      blockedEveryMs: s.blockedEvery ? durationMs(s.blockedEvery)! : DEFAULT_BLOCKED_EVERY_MS,
    };
    switch (s.type) {
      case "slack":
        return { ...base, secret: secret(field, "url", s.urlFile, s.urlEnv, true)! };
      case "pagerduty":
        return {
          ...base,
          secret: secret(field, "routingKey", s.routingKeyFile, s.routingKeyEnv, true)!,
          url: s.url ?? PAGERDUTY_EVENTS_URL,
        };
      case "webhook": {
        const own = Object.keys(s.headers ?? {}).find((h) => OWN_HEADERS.includes(h.toLowerCase()));
        if (own) {
          throw new Error(`field "${field}.headers" may not set ${own}: node-heal writes it`);
        }
        const key = secret(field, "secret", s.secretFile, s.secretEnv, false);
        return { ...base, url: s.url, ...(key ? { secret: key } : {}), headers: s.headers ?? {} };
      }
      case "log":
        return base;
    }
  });
}

/** A secret named by `<what>File` or `<what>Env`: one of them, or neither when optional. */
function secret(
  field: string,
  what: string,
  file: string | undefined,
  env: string | undefined,
  required: boolean,
): SecretSource | undefined {
  if (file !== undefined && env !== undefined) {
    throw new Error(
      `field "${field}" names its ${what} twice: give ${what}File or ${what}Env, not both`,
    );
  }
  if (file !== undefined) return { file };
  if (env !== undefined) return { env };
  if (required) {
    throw new Error(
      `field "${field}" needs ${what}File (a mounted Secret) or ${what}Env: secrets are never written in the policy`,
    );
  }
  return undefined;
}
