// The outcome of a remediation episode (a cordon to its end) as node-heal records it on the Node,
// in the sealed history annotation `node-heal.io/outcomes` (a JSON list, the last
// MAX_OUTCOMES): its schema and its parser. Like every `node-heal.io/*` value it is read as hostile:
// a value too large is refused unread, an entry of the wrong shape or from the future is dropped,
// a list longer than node-heal writes is dropped whole; nothing here throws.
import { z } from "zod";
import type { Parsed, ParseOptions, Problem } from "./state_schema.ts";

/**
 * How a remediation ended: `recovered` (its alerts resolved, or went unseen for the hold TTL, and
 * the Node was uncordoned), `replaced` (a successor took its place), `still-failing` (held longer
 * than {@link STILL_FAILING_MS}; recorded once per episode, the episode goes on), `recurred` (a
 * Node cordoned again for the alert named by its last `recovered` outcome, within
 * {@link RECUR_WINDOW_MS}).
 */
export const OUTCOMES = ["recovered", "replaced", "still-failing", "recurred"] as const;
export type OutcomeKind = (typeof OUTCOMES)[number];

/** The furthest step of the ladder an episode reached. */
export const OUTCOME_STEPS = ["cordon", "drain", "replace"] as const;
export type OutcomeStep = (typeof OUTCOME_STEPS)[number];

/** How many outcomes a Node keeps. */
export const MAX_OUTCOMES = 10;

/** A Node held this long by node-heal is counted `still-failing` (once per episode). */
export const STILL_FAILING_MS = 24 * 60 * 60 * 1000;

/** A cordon for the alert of the last `recovered` outcome within this long after it: `recurred`. */
export const RECUR_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The longest episode a record may state (a year): more is damage. */
export const MAX_SECONDS = 366 * 24 * 60 * 60;

/** The largest `outcomes` value read (bytes): ten records are about 2 KB. */
const MAX_BYTES = 8 * 1024;

const time = z.string().max(40).refine((v) => !Number.isNaN(Date.parse(v)));

/** One recorded outcome. */
export const OUTCOME_RECORD = z.object({
  outcome: z.enum(OUTCOMES),
  step: z.enum(OUTCOME_STEPS),
  /** The episode's first alert (the hold seen first), by name. */
  alert: z.string().min(1).max(253),
  /** When the episode started: its first alert's hold, or its cordon, whichever came first. */
  startedAt: time,
  /** When the outcome was recorded (the release, the replacement's end, when it was noticed). */
  endedAt: time,
  /** From `startedAt` to `endedAt`, whole seconds. */
  seconds: z.number().int().min(0).max(MAX_SECONDS),
});

/** One recorded outcome of a remediation episode. */
export type OutcomeRecord = z.infer<typeof OUTCOME_RECORD>;

/** The `outcomes` annotation parsed: the records that count, oldest first, and what was dropped. */
export function parseOutcomes(
  key: string,
  raw: string | undefined,
  options: ParseOptions,
): Parsed<OutcomeRecord[]> {
  const problems: Problem[] = [];
  if (raw === undefined) return { value: undefined, problems };
  if (raw.length > MAX_BYTES) {
    const message = `${key} holds ${raw.length} bytes, more than node-heal writes (${MAX_BYTES})`;
    problems.push({ key, reason: "too-large", message });
    return { value: undefined, problems };
  }
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    problems.push({ key, reason: "not-json", message: `${key} is not JSON` });
    return { value: undefined, problems };
  }
  if (!Array.isArray(list)) {
    problems.push({ key, reason: "schema", message: `${key} is not a list of outcomes` });
    return { value: undefined, problems };
  }
  if (list.length > MAX_OUTCOMES) {
    const message =
      `${key} has ${list.length} outcomes, more than node-heal keeps (${MAX_OUTCOMES})`;
    problems.push({ key, reason: "too-many", message });
    return { value: undefined, problems };
  }
  const value: OutcomeRecord[] = [];
  for (const entry of list) {
    const ok = OUTCOME_RECORD.safeParse(entry);
    if (!ok.success) {
      problems.push({ key, reason: "schema", message: `${key} holds something not an outcome` });
    } else if (
      options.now !== undefined &&
      [ok.data.startedAt, ok.data.endedAt].some((t) => Date.parse(t) > options.now! + SKEW_MS)
    ) {
      problems.push({ key, reason: "future-time", message: `${key} holds a time in the future` });
    } else value.push(ok.data);
  }
  return { value, problems };
}

/** As state_schema.ts's FUTURE_SKEW_MS (not imported: that module imports this one). */
const SKEW_MS = 5 * 60_000;
