// The durations a policy may give, each bounded: a timer waits at most 2^31-1 ms (24.8 days) and a
// date at most 8.64e15 ms from 1970, so `drainAfter: 99999999999h` was accepted and then every
// drain answered 500 "Invalid time value" while Alertmanager retried for ever.
import { z } from "zod";
import { DURATION_PATTERN, durationMs, formatDuration } from "../base/duration.ts";

const DAY = 24 * 3_600_000;

/** The longest each duration of a policy may be (docs/policy.md, docs/limits.md). */
export const MAX_DURATIONS = {
  /** `rules[].drainAfter`, `rules[].replaceAfter`: waits of a remediation in flight. */
  after: DAY,
  /** `rules[].drain.timeout`, `rules[].replace.timeout`. */
  timeout: DAY,
  /** `gates.rate.window`, `gates.replaceRate.window`, `gates.cooldown`: a week. */
  window: 7 * DAY,
  /** `notify[].blockedEvery`. */
  blockedEvery: DAY,
} as const;

/** A duration such as `90s` of at most `maxMs`. */
export function boundedDuration(maxMs: number) {
  const expected = 'must be a duration such as "90s", "10m" or "1h"';
  return z.string({ error: expected }).regex(DURATION_PATTERN, expected)
    .refine(
      (d) => (durationMs(d) ?? Infinity) <= maxMs,
      `must be a duration of at most ${formatDuration(maxMs)}`,
    );
}
