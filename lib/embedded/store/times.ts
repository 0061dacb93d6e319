// Timestamps as the real server writes them: RFC 3339 in UTC, seconds or microseconds.

/** `ms` as a `metav1.Time`: RFC 3339 in UTC, to the second. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

const TIME_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const TIME_KEY = /(Time|Timestamp|At)$|^time$/;
/** Fields of type `metav1.MicroTime`, serialized with microseconds; other times have seconds. */
const MICRO_TIME_KEYS = new Set(["eventTime", "renewTime", "acquireTime", "lastObservedTime"]);
/** Maps whose keys are data, not fields: never rewritten. */
const OPAQUE_KEYS = new Set(["labels", "annotations", "data", "stringData", "selector"]);

/**
 * Rewrites timestamps as the real server's round trip through Go types does: `metav1.Time`
 * to RFC 3339 seconds, `metav1.MicroTime` to microseconds, both in UTC. Without it a client
 * that sends `.000Z` would make every unchanged update look like a change.
 */
export function normalizeTimes(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => normalizeTimes(v, key));
  if (value !== null && typeof value === "object") {
    if (OPAQUE_KEYS.has(key)) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalizeTimes(v, k);
    return out;
  }
  if (typeof value === "string" && TIME_KEY.test(key)) {
    const m = TIME_RE.exec(value);
    if (!m) return value;
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) return value;
    const iso = new Date(ms).toISOString();
    if (MICRO_TIME_KEYS.has(key)) {
      const fraction = ((m[2] ?? ".") + "000000").slice(1, 7);
      return `${iso.slice(0, 19)}.${fraction}Z`;
    }
    return `${iso.slice(0, 19)}Z`;
  }
  return value;
}
