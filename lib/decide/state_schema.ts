// The schema of node-heal's state on a Node: every `node-heal.io/*` annotation it reads, parsed
// and bounded before anything counts it. Anyone who may patch a Node can write these (its own
// kubelet included), so nothing here throws: a value too large is refused unread, an entry of the
// wrong shape is dropped, a list or map longer than node-heal ever writes is dropped whole, and
// (given the time) a time in the future never counts. Each drop is a problem, for the reader to
// report (admission.ts).
import { z } from "zod";
import { ANNOTATIONS, HISTORY } from "./state_keys.ts";
import { parseOutcomes } from "./outcome_record.ts";
import { LIMITS } from "../intake/payload_schema.ts";

/**
 * The largest `node-heal.io/*` value read (characters of JSON). node-heal writes a few hundred
 * bytes for a Node or two alerts, and at most: `alerts-overflow`, 256 fingerprints of 64 printable
 * characters each of which JSON may escape to two (`"`, `\\`): 34 KB; `alerts`, 32 holds of those
 * fingerprints and names of 253 characters escaped likewise (decision.ts alertName): 24 KB;
 * `resolved`, 32 of them with `startsAt` of 64 characters, six each at most: 19 KB. Once 32 KB,
 * which the escaped worst cases passed: a Node's holds were then dropped on reading back.
 */
export const MAX_VALUE_BYTES = 64 * 1024;

/** How far a time may lie after the reader's clock (clock skew between replicas) and still count. */
export const FUTURE_SKEW_MS = 5 * 60_000;

/** How many alerts hold one Node by name (in `alerts`) at most; more go to the overflow. */
export const MAX_HOLDS = 32;

/** How many more alerts are listed by fingerprint alone in the overflow at most. */
export const MAX_OVERFLOW = 256;

/** How many resolutions `resolved` keeps. */
export const MAX_RESOLVED = 32;

/** How many remediation times a Node keeps, for the rate gate. */
export const MAX_REMEDIATIONS = 20;

/** Why a value, or an entry of it, was dropped: the metric's `reason`. */
export type ProblemReason = "too-large" | "not-json" | "schema" | "too-many" | "future-time";

/** A value, or an entry of it, dropped, and why. */
export interface Problem {
  /** The annotation. */
  key: string;
  reason: ProblemReason;
  /** One clause: `entry "x" is not a hold ({ alertname, since, seen })`; never the value whole. */
  message: string;
}

const text = (max: number) => z.string().min(1).max(max);
const time = z.string().max(40).refine((v) => !Number.isNaN(Date.parse(v)));
const fingerprint = text(128);

export const HOLD = z.object({ alertname: text(253), since: time, seen: time.optional() });
export const OVERFLOW = z.object({
  seen: time,
  fingerprints: z.array(fingerprint).max(MAX_OVERFLOW),
  unlisted: z.boolean(),
});
/** A resolution keeps its alert's `startsAt` as the webhook took it (at most LIMITS.time). */
export const RESOLUTION = z.object({ startsAt: z.string().max(LIMITS.time), at: time });

/** The parsed value of one annotation, and what was dropped from it. */
export interface Parsed<T> {
  value: T | undefined;
  problems: Problem[];
}

/** Options of the parsers: the reader's clock, when the reader checks times against it. */
export interface ParseOptions {
  /** Times later than this plus {@link FUTURE_SKEW_MS} never count (ms); unset: not checked. */
  now?: number;
}

/** JSON of an annotation, bounded: undefined (with a problem) when too large or not JSON. */
function json(key: string, raw: string, problems: Problem[]): unknown {
  if (raw.length > MAX_VALUE_BYTES) {
    problems.push({
      key,
      reason: "too-large",
      message: `${key} holds ${raw.length} bytes, more than node-heal writes (${MAX_VALUE_BYTES})`,
    });
    return undefined;
  }
  try {
    return JSON.parse(raw);
  } catch {
    problems.push({ key, reason: "not-json", message: `${key} is not JSON` });
    return undefined;
  }
}

/** Whether time `t` (ms) is later than the reader's clock allows. */
function future(t: number, options: ParseOptions): boolean {
  return options.now !== undefined && t > options.now + FUTURE_SKEW_MS;
}

/** Short, printable, for a message: never the value whole. */
function shown(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}...` : s);
}

/**
 * A JSON object annotation of entries each checked by `entry`: entries that fail are dropped; an
 * object with more than `max` entries is dropped whole.
 */
export function parseMap<T>(
  key: string,
  raw: string | undefined,
  entry: z.ZodType<T>,
  options: ParseOptions & { max: number; times: (value: T) => string[] },
): Parsed<Record<string, T>> {
  const problems: Problem[] = [];
  if (raw === undefined) return { value: undefined, problems };
  const parsed = json(key, raw, problems);
  if (parsed === undefined) return { value: undefined, problems };
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    problems.push({ key, reason: "schema", message: `${key} is not a JSON object` });
    return { value: undefined, problems };
  }
  const entries = Object.entries(parsed);
  if (entries.length > options.max) {
    problems.push({
      key,
      reason: "too-many",
      message: `${key} has ${entries.length} entries, more than node-heal writes (${options.max})`,
    });
    return { value: undefined, problems };
  }
  const value: Record<string, T> = {};
  for (const [name, v] of entries) {
    const ok = fingerprint.safeParse(name).success ? entry.safeParse(v) : undefined;
    if (!ok?.success) {
      problems.push({
        key,
        reason: "schema",
        message: `${key}: entry ${shown(name)} is malformed`,
      });
      continue;
    }
    if (options.times(ok.data).some((t) => future(Date.parse(t), options))) {
      problems.push({
        key,
        reason: "future-time",
        message: `${key}: entry ${shown(name)} has a time in the future`,
      });
      continue;
    }
    value[name] = ok.data;
  }
  return { value, problems };
}

/** The overflow of holds, or undefined (with a problem) when it is malformed. */
export function parseOverflow(
  key: string,
  raw: string | undefined,
  options: ParseOptions,
): Parsed<z.infer<typeof OVERFLOW>> {
  const problems: Problem[] = [];
  if (raw === undefined) return { value: undefined, problems };
  const parsed = json(key, raw, problems);
  if (parsed === undefined) return { value: undefined, problems };
  const ok = OVERFLOW.safeParse(parsed);
  if (!ok.success) {
    problems.push({ key, reason: "schema", message: `${key} is not an overflow of holds` });
    return { value: undefined, problems };
  }
  if (future(Date.parse(ok.data.seen), options)) {
    problems.push({ key, reason: "future-time", message: `${key} was seen in the future` });
    return { value: undefined, problems };
  }
  return { value: ok.data, problems };
}

/** The remediation times (ms, sorted): a JSON list, or one older single time. */
export function parseTimes(
  key: string,
  raw: string | undefined,
  options: ParseOptions,
): Parsed<number[]> {
  const problems: Problem[] = [];
  if (raw === undefined) return { value: [], problems };
  let list: unknown[];
  if (raw.startsWith("[")) {
    const parsed = json(key, raw, problems);
    if (!Array.isArray(parsed)) {
      if (parsed !== undefined) {
        problems.push({ key, reason: "schema", message: `${key} is not a list of times` });
      }
      return { value: [], problems };
    }
    list = parsed;
  } else {
    list = [raw];
  }
  if (list.length > MAX_REMEDIATIONS) {
    problems.push({
      key,
      reason: "too-many",
      message: `${key} has ${list.length} times, more than node-heal keeps (${MAX_REMEDIATIONS})`,
    });
    return { value: [], problems };
  }
  const times: number[] = [];
  for (const t of list) {
    const ms = time.safeParse(t).success ? Date.parse(t as string) : NaN;
    if (Number.isNaN(ms)) {
      problems.push({ key, reason: "schema", message: `${key} holds something not a time` });
    } else if (future(ms, options)) {
      problems.push({ key, reason: "future-time", message: `${key} holds a time in the future` });
    } else {
      times.push(ms);
    }
  }
  return { value: times.sort((a, b) => a - b), problems };
}

/** A scalar annotation checked by `schema` (a time, a step, a name), or undefined when it fails. */
export function parseScalar(
  key: string,
  raw: string | undefined,
  schema: z.ZodType<string>,
  options: ParseOptions & { isTime?: boolean },
): Parsed<string> {
  const problems: Problem[] = [];
  if (raw === undefined) return { value: undefined, problems };
  if (!schema.safeParse(raw).success) {
    problems.push({ key, reason: "schema", message: `${key} is malformed: ${shown(raw)}` });
    return { value: undefined, problems };
  }
  if (options.isTime && future(Date.parse(raw), options)) {
    problems.push({ key, reason: "future-time", message: `${key} is in the future` });
    return { value: undefined, problems };
  }
  return { value: raw, problems };
}

/** The schemas of node-heal's scalar annotations. */
export const SCALARS = {
  time,
  name: text(253),
  count: z.string().regex(/^\d{1,7}$/),
  step: z.enum(["cordoned", "draining", "drained", "drain-failed", "replacing", "replace-failed"]),
  target: z.enum(["cordon", "drain", "replace"]),
} as const;

/** Every `node-heal.io/*` annotation node-heal reads: how each is parsed, and what its value is. */
const READERS: Record<string, (raw: string | undefined, o: ParseOptions) => Parsed<unknown>> = {
  [ANNOTATIONS.cordonedBy]: (raw, o) => parseScalar(ANNOTATIONS.cordonedBy, raw, SCALARS.name, o),
  [ANNOTATIONS.alerts]: (raw, o) =>
    parseMap(ANNOTATIONS.alerts, raw, HOLD, {
      ...o,
      max: MAX_HOLDS,
      times: (h) => [h.since, ...(h.seen ? [h.seen] : [])],
    }),
  [ANNOTATIONS.overflow]: (raw, o) => parseOverflow(ANNOTATIONS.overflow, raw, o),
  [ANNOTATIONS.step]: (raw, o) => parseScalar(ANNOTATIONS.step, raw, SCALARS.step, o),
  [ANNOTATIONS.target]: (raw, o) => parseScalar(ANNOTATIONS.target, raw, SCALARS.target, o),
  [ANNOTATIONS.rule]: (raw, o) => parseScalar(ANNOTATIONS.rule, raw, SCALARS.name, o),
  [ANNOTATIONS.drainer]: (raw, o) => parseScalar(ANNOTATIONS.drainer, raw, SCALARS.name, o),
  [ANNOTATIONS.podsLeft]: (raw, o) => parseScalar(ANNOTATIONS.podsLeft, raw, SCALARS.count, o),
  [ANNOTATIONS.drainEvicted]: (raw, o) =>
    parseScalar(ANNOTATIONS.drainEvicted, raw, SCALARS.count, o),
  // Times of what happened: never in the future.
  ...Object.fromEntries(
    [
      ANNOTATIONS.cordonedAt,
      ANNOTATIONS.drainStartedAt,
      ANNOTATIONS.drainHeartbeat,
      ANNOTATIONS.replaceStartedAt,
      HISTORY.releasedAt,
    ].map((key) => [
      key,
      (raw: string | undefined, o: ParseOptions) =>
        parseScalar(key, raw, SCALARS.time, { ...o, isTime: true }),
    ]),
  ),
  // Times something is due: in the future on purpose.
  ...Object.fromEntries(
    [ANNOTATIONS.drainAt, ANNOTATIONS.replaceAt].map((key) => [
      key,
      (raw: string | undefined, o: ParseOptions) => parseScalar(key, raw, SCALARS.time, o),
    ]),
  ),
  [HISTORY.remediatedAt]: (raw, o) => parseTimes(HISTORY.remediatedAt, raw, o),
  [HISTORY.resolved]: (raw, o) =>
    parseMap(HISTORY.resolved, raw, RESOLUTION, { ...o, max: MAX_RESOLVED, times: (r) => [r.at] }),
  [HISTORY.outcomes]: (raw, o) => parseOutcomes(HISTORY.outcomes, raw, o),
};

/** The keys of every annotation node-heal writes and reads on a Node (its state and history). */
export const STATE_KEYS: readonly string[] = Object.keys(READERS);

/**
 * node-heal's annotations on a Node parsed by their schemas (state_schema.ts): the values that
 * count, and what was dropped. With `now`, times later than it (and the skew) are dropped too.
 */
export function parseAnnotations(
  annotations: Record<string, string>,
  options: ParseOptions,
): { values: Record<string, unknown>; problems: Problem[] } {
  const values: Record<string, unknown> = {};
  const problems: Problem[] = [];
  for (const [key, read] of Object.entries(READERS)) {
    const raw = annotations[key];
    if (raw === undefined) continue;
    const parsed = read(raw, options);
    if (parsed.value !== undefined) values[key] = parsed.value;
    problems.push(...parsed.problems);
  }
  return { values, problems };
}

/**
 * node-heal's annotations on a Node with what fails their schema (or, given `now`, lies in the
 * future) taken out: values dropped, maps and lists without their bad entries. The Node's other
 * annotations are kept as they are. `problems` says what was taken out; none: the same object.
 */
export function cleanAnnotations(
  annotations: Record<string, string>,
  options: ParseOptions,
): { annotations: Record<string, string>; problems: Problem[] } {
  const { values, problems } = parseAnnotations(annotations, options);
  if (problems.length === 0) return { annotations, problems };
  const cleaned = { ...annotations };
  for (const key of new Set(problems.map((p) => p.key))) {
    const value = values[key];
    if (value === undefined) delete cleaned[key];
    else if (key === HISTORY.remediatedAt) {
      cleaned[key] = JSON.stringify((value as number[]).map((t) => new Date(t).toISOString()));
    } else cleaned[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return { annotations: cleaned, problems };
}
