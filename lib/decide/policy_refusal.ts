// Why a policy is refused, in one short line that is safe to log, to put in an Event and to print
// at start-up: it names the field and what was expected, quotes at most QUOTE_MAX characters of a
// value, and never quotes a value that can hold a secret (a Slack URL written inline by mistake
// once reached all three) or anything under a key the policy does not know.
import { clip } from "../base/clip.ts";
import { fieldName } from "../base/field_path.ts";
import { UsageError } from "../base/usage_error.ts";

/** Characters of a value a refusal quotes, at most. */
export const QUOTE_MAX = 200;
/** Characters of a refusal, at most, from "Cannot load" on (a reload adds what it kept). */
export const REFUSAL_MAX = 600;
/** Keys, of a map's, a refusal lists at most. */
const KEYS_MAX = 5;

/** A policy refused for what it says: said in one line; start-up exits 2 on it, as on a bad flag. */
export class PolicyRefused extends UsageError {
  constructor(reason: string) {
    super(clip(oneLine(reason), REFUSAL_MAX));
    this.name = "PolicyRefused";
  }
}

/** `text` on one line: control characters (a newline, an escape) shown as spaces. */
function oneLine(text: string): string {
  return text.replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, " ");
}

/**
 * Whether a key names something that can hold a secret: a URL (credentials or a token in it),
 * headers, a routing key, a secret, a token, a password; and `…File` and `…Env` of those too,
 * where the secret itself is written by mistake as often as its file's path or variable's name.
 */
export function isSecretKey(key: PropertyKey): boolean {
  const k = String(key).toLowerCase();
  return /url|header|routingkey|secret|token|passw|credential|apikey|auth|endpoint/.test(k);
}

/** A key as a refusal quotes it: JSON, clipped; one that looks like a URL or a token, not at all. */
export function quoteKey(key: PropertyKey): string {
  const k = String(key);
  if (k.includes("://") || /^[A-Za-z0-9+/=_.-]{24,}$/.test(k)) {
    return "(a key not shown: it looks like a URL or a token)";
  }
  return JSON.stringify(clip(oneLine(k), 60));
}

/** Keys as a refusal lists them: the first few, quoted, and how many more. */
export function quoteKeys(keys: readonly PropertyKey[]): string {
  const shown = keys.slice(0, KEYS_MAX).map(quoteKey).join(", ");
  return keys.length > KEYS_MAX ? `${shown} and ${keys.length - KEYS_MAX} more` : shown;
}

/**
 * What a refusal says was got at `path`: a scalar quoted (at most {@link QUOTE_MAX} characters), a
 * map by its keys, a list by its length, and nothing of a value under a secret's key.
 */
export function describeGot(path: readonly PropertyKey[], value: unknown): string {
  const secret = path.find(isSecretKey);
  if (secret !== undefined && value !== undefined) {
    return `a value not shown (${quoteKey(secret)} can hold a secret)`;
  }
  // A sink written as a bare value is as likely its webhook URL or key as anything else.
  if (path[0] === "notify" && path.length <= 2 && value !== null && typeof value !== "object") {
    return `a ${typeof value} (not shown: a notification sink's values can hold a secret)`;
  }
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(clip(value, QUOTE_MAX));
  if (typeof value !== "object") return clip(String(value), QUOTE_MAX);
  if (Array.isArray(value)) return `a list of ${value.length} items`;
  const keys = Object.keys(value);
  return keys.length === 0 ? "an empty map" : `a map with keys ${quoteKeys(keys)}`;
}

/** The refusal of the field at `path`: `field "gates.rate" <what>, got <describeGot>`. */
export function fieldRefusal(path: readonly PropertyKey[], what: string, got: unknown): string {
  return `field "${clip(fieldName(path), 200) || "(file)"}" ${what}, got ${describeGot(path, got)}`;
}
