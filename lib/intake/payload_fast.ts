// The common, well-formed Alertmanager payload read by hand, without zod: a schema's general
// machinery cost ~30 µs per one-alert notification, the most of what intake spends. It accepts
// only what `payloadSchema` accepts and builds what zod would build (unknown fields stripped,
// absent optional fields left out); anything else, however harmless, it declines and zod
// decides, so that only zod's messages are ever seen. `payload_fast_test.ts` holds them equal.
// zod measures strings in code points: one within a limit in UTF-16 units is within it in code
// points too; a longer one is declined (zod may still accept it).
import { FINGERPRINT, LIMITS, type Payload, type PayloadAlert } from "./payload_schema.ts";

type Fields = Record<string, unknown>;

/** The payload as `payloadSchema` would parse it, or `undefined` to let zod decide. */
export function fastPayload(body: unknown): Payload | undefined {
  if (!isPlain(body) || body.version !== "4" || !isStatus(body.status)) return undefined;
  const alerts = fastAlerts(body.alerts);
  if (alerts === undefined) return undefined;
  const out: Fields = { version: "4" };
  if (!copyString(body, "receiver", LIMITS.receiver, out)) return undefined;
  out.status = body.status;
  out.alerts = alerts;
  const fine = copyRecord(body, "groupLabels", LIMITS.labelValue, LIMITS.labels, out) &&
    copyRecord(body, "commonLabels", LIMITS.labelValue, LIMITS.labels, out) &&
    copyRecord(body, "commonAnnotations", LIMITS.annotationValue, LIMITS.annotations, out) &&
    copyString(body, "externalURL", LIMITS.url, out) &&
    copyString(body, "groupKey", LIMITS.groupKey, out) &&
    copyCount(body, "truncatedAlerts", out);
  return fine ? out as Payload : undefined;
}

function fastAlerts(value: unknown): PayloadAlert[] | undefined {
  if (!Array.isArray(value) || value.length > LIMITS.alerts) return undefined;
  const alerts: PayloadAlert[] = [];
  for (let i = 0; i < value.length; i++) {
    const alert = fastAlert(value[i]);
    if (alert === undefined) return undefined;
    alerts.push(alert);
  }
  return alerts;
}

function fastAlert(value: unknown): PayloadAlert | undefined {
  if (!isPlain(value) || !isStatus(value.status)) return undefined;
  const labels = fastRecord(value.labels, LIMITS.labelValue, LIMITS.labels);
  if (labels === undefined) return undefined;
  const out: Fields = { status: value.status, labels };
  const fine = copyRecord(value, "annotations", LIMITS.annotationValue, LIMITS.annotations, out) &&
    copyString(value, "startsAt", LIMITS.time, out) &&
    copyString(value, "endsAt", LIMITS.time, out) &&
    copyString(value, "generatorURL", LIMITS.url, out) &&
    copyString(value, "fingerprint", LIMITS.fingerprint, out) &&
    (out.fingerprint === undefined || FINGERPRINT.test(out.fingerprint as string));
  return fine ? out as PayloadAlert : undefined;
}

/**
 * A copy of a map of strings within its limits, or `undefined`. Declined: a key `__proto__` (zod
 * drops it), symbol keys (zod refuses them), anything but a plain object (zod's test differs).
 */
function fastRecord(
  value: unknown,
  maxValue: number,
  maxEntries: number,
): Record<string, string> | undefined {
  if (!isPlain(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length > maxEntries || Object.getOwnPropertySymbols(value).length !== 0) {
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const key of keys) {
    const text = value[key];
    if (typeof text !== "string" || text.length > maxValue) return undefined;
    if (key.length > LIMITS.labelName || key === "__proto__") return undefined;
    out[key] = text;
  }
  return out;
}

/**
 * Sets `out[key]` to an optional field's value; false when zod must decide. An absent field is
 * left out; one present but `undefined` (never in JSON) zod keeps as such, so it is declined.
 */
function copyOptional(
  from: Fields,
  key: string,
  out: Fields,
  read: (value: unknown) => unknown,
): boolean {
  const value = from[key];
  if (value === undefined) return !(key in from);
  const got = read(value);
  if (got === undefined) return false;
  out[key] = got;
  return true;
}

function copyString(from: Fields, key: string, max: number, out: Fields): boolean {
  const value = from[key];
  if (typeof value === "string" && value.length <= max) {
    out[key] = value;
    return true;
  }
  return value === undefined && !(key in from);
}

function copyRecord(
  from: Fields,
  key: string,
  maxValue: number,
  maxEntries: number,
  out: Fields,
): boolean {
  return copyOptional(from, key, out, (value) => fastRecord(value, maxValue, maxEntries));
}

function copyCount(from: Fields, key: string, out: Fields): boolean {
  return copyOptional(
    from,
    key,
    out,
    (value) => Number.isSafeInteger(value) && (value as number) >= 0 ? value : undefined,
  );
}

function isStatus(value: unknown): value is "firing" | "resolved" {
  return value === "firing" || value === "resolved";
}

/** An object made by JSON.parse or a literal: a prototype other than Object's goes to zod. */
function isPlain(value: unknown): value is Fields {
  return typeof value === "object" && value !== null &&
    Object.getPrototypeOf(value) === Object.prototype;
}
