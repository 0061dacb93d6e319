// The schema a stored replacement ledger entry must pass (decide/replacements.ts holds the rules
// that count the entries): each field of a Replacement, bounded, its times within what a replica's
// clock allows. Anyone with RBAC in node-heal's namespace can write the ledger; an entry that fails
// is read as unreadable, never thrown on.
import { z } from "zod";
import { clip } from "../base/clip.ts";
import { formatDuration } from "../base/duration.ts";
import { MAX_REPLACE_TIMEOUT_MS, PROVIDERS } from "./replace_policy.ts";
import type { Replacement } from "./replacements.ts";
/** How many entries a stored ledger may hold; one with more is damaged. */
export const MAX_ENTRIES = 1000;

/** How far ahead of this replica's clock a recorded time may be (replicas' clocks differ a little). */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** The earliest time a record may name: Kubernetes 1.0 (nothing was replaced before). */
export const EARLIEST_TIME = Date.parse("2015-07-21T00:00:00Z");

/** How long a stored message may be; a longer one is clipped, not refused. */
export const MAX_MESSAGE = 1024;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const text = (max: number) => z.string().min(1).max(max);
/** A Kubernetes object name (a DNS subdomain at most). */
const name = text(253);
/** An RFC 3339 time that is one: the pattern lets a 13th month or a 32nd day by, Date.parse not. */
const time = z.string().regex(RFC3339, "must be an RFC 3339 time").refine(
  (v) => !Number.isNaN(Date.parse(v)),
  "must be an RFC 3339 time",
);

/** One stored ledger entry: the fields of {@link Replacement}, bounded. Unknown keys are dropped. */
const entrySchema = z.object({
  id: text(300),
  node: name,
  uid: text(128).optional(),
  providerID: text(512).optional(),
  pool: z.object({ label: text(317), value: z.string().max(63) }).optional(),
  labels: z.record(text(317), z.string().max(63)).refine(
    (a) => Object.keys(a).length <= 9,
    "must have at most 9 entries",
  ).optional(),
  annotations: z.record(text(317), z.string().max(253)).refine(
    (a) => Object.keys(a).length <= 8,
    "must have at most 8 entries",
  ).optional(),
  provider: z.enum(PROVIDERS),
  rule: text(253),
  cordonedAt: time.optional(),
  startedAt: time,
  deadline: time,
  by: name,
  phase: z.enum(["starting", "requested", "replaced", "failed"]),
  operation: text(512).optional(),
  message: z.string().transform((m) => clip(m, MAX_MESSAGE)).optional(),
  endedAt: time.optional(),
  successor: name.optional(),
  unsettled: z.boolean().optional(),
}).refine((e) => e.successor === undefined || e.phase === "replaced", {
  message: "only a replaced entry names a successor",
  path: ["successor"],
}).refine((e) => e.unsettled === undefined || e.phase === "failed", {
  message: "only a failed entry is unsettled",
  path: ["unsettled"],
});

/** Why a stored ledger entry cannot be read: a fixed word for the metric, and a sentence. */
export interface EntryProblem {
  reason: "schema" | "future-time" | "old-time";
  message: string;
}

/**
 * A stored ledger entry read through the schema and its times checked against `now` (this
 * replica's clock): none after `now` beyond {@link CLOCK_SKEW_MS}, none before
 * {@link EARLIEST_TIME}, a deadline after the start and no later than the longest timeout a rule
 * may have allows. Never throws; the problem never echoes the entry.
 */
export function readEntry(raw: unknown, now: Date): { entry: Replacement } | EntryProblem {
  const parsed = entrySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length ? `field "${issue.path.join(".")}"` : "the entry";
    return { reason: "schema", message: `${field} ${clip(issue.message, 120)}` };
  }
  const e = parsed.data as Replacement;
  const latest = now.getTime() + CLOCK_SKEW_MS;
  for (const key of ["cordonedAt", "startedAt", "endedAt"] as const) {
    const at = e[key] === undefined ? undefined : Date.parse(e[key]);
    if (at === undefined) continue;
    if (at > latest) {
      return {
        reason: "future-time",
        message: `field "${key}" ${e[key]} is later than this replica's clock allows (${
          new Date(latest).toISOString()
        })`,
      };
    }
    if (at < EARLIEST_TIME) {
      return { reason: "old-time", message: `field "${key}" ${e[key]} is before 2015-07-21` };
    }
  }
  const started = Date.parse(e.startedAt);
  const deadline = Date.parse(e.deadline);
  if (deadline < started || deadline > started + MAX_REPLACE_TIMEOUT_MS + CLOCK_SKEW_MS) {
    return {
      reason: "future-time",
      message: `field "deadline" ${e.deadline} is not within ${
        formatDuration(MAX_REPLACE_TIMEOUT_MS)
      } after startedAt ${e.startedAt}`,
    };
  }
  return { entry: e };
}
