// The one HTTP attempt every sink makes: POST a body, classify the answer into an Attempt. Kept
// apart from the sinks so the status table (what is retried, what is refused for good) and the
// reading of Retry-After are the same for Slack, PagerDuty and the webhook.
import { readPrefix } from "../../base/bounded_read.ts";
import type { Attempt } from "./types.ts";

/** A Retry-After longer than this is taken as this: a receiver cannot park a sink for hours. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** What of a refusal's body an Attempt's `why` keeps: enough for "invalid_blocks", no more. */
const BODY_EXCERPT = 200;

/**
 * What of a receiver's answer node-heal reads: its first 64 KiB, the rest cancelled unread. Only
 * the status and an excerpt of the body matter, and a receiver answering 100 MB must not cost
 * 100 MB (read whole, 160 MB ran the production heap out).
 */
export const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * `Retry-After` in ms from `nowMs`: delay-seconds or an HTTP-date, capped at
 * {@link MAX_RETRY_AFTER_MS}; undefined when absent or unreadable (the backoff then decides).
 */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

/**
 * An answer as an Attempt: 2xx sent; 408, 429 and 5xx retried (after Retry-After when given);
 * any other status rejected. Redirects are not followed (see {@link post}), so a 3xx is refused:
 * a webhook that moved must be configured anew, not chased with its secret.
 */
export function classify(status: number, retryAfter: string | null, body: string, nowMs: number) {
  const why = `HTTP ${status}${body ? `: ${excerpt(body)}` : ""}`;
  if (status >= 200 && status < 300) return { result: "sent" } satisfies Attempt;
  if (status === 408 || status === 429 || status >= 500) {
    const afterMs = retryAfterMs(retryAfter, nowMs);
    return (afterMs === undefined
      ? { result: "retry", why }
      : { result: "retry", why, afterMs }) satisfies Attempt;
  }
  return { result: "rejected", why } satisfies Attempt;
}

/** One line of a receiver's answer, shortened. */
function excerpt(body: string): string {
  const line = body.slice(0, 4 * BODY_EXCERPT).replace(/\s+/g, " ").trim();
  return line.length <= BODY_EXCERPT ? line : `${line.slice(0, BODY_EXCERPT - 1)}…`;
}

/** Options of {@link post}. */
export interface PostOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Texts that must never reach a `why` (the Slack URL, a routing key): replaced by `[redacted]`. */
  secrets: readonly string[];
  /** The time, for an HTTP-date Retry-After. */
  now?: () => number;
}

/**
 * POSTs once and classifies the outcome; never throws. A network error or the signal's abort is
 * a retry. Deno's fetch errors quote the URL, and the Slack URL is itself the secret, so every
 * `why` is scrubbed of the URL, its parts and `secrets`.
 */
export async function post(options: PostOptions): Promise<Attempt> {
  const now = options.now ?? Date.now;
  try {
    const res = await fetch(options.url, {
      method: "POST",
      body: options.body,
      headers: options.headers,
      signal: options.signal,
      redirect: "manual",
    });
    // Read (and so release) the start of the body, cancel the rest; a receiver that stalls here
    // is cut by the same signal.
    const { bytes } = await readPrefix(res.body, MAX_ANSWER_BYTES);
    const text = new TextDecoder().decode(bytes);
    const attempt: Attempt = classify(res.status, res.headers.get("retry-after"), text, now());
    return attempt.result === "sent" ? attempt : { ...attempt, why: scrub(attempt.why, options) };
  } catch (err) {
    const why = options.signal.aborted
      ? abortWhy(options.signal)
      : String((err as Error)?.message ?? err);
    return { result: "retry", why: scrub(why, options) };
  }
}

/** Why the signal ended an attempt, in words (the timeout's own message names no limit). */
function abortWhy(signal: AbortSignal): string {
  const reason = signal.reason as { name?: string; message?: string } | undefined;
  if (reason?.name === "TimeoutError") return "no answer in time (attempt timed out)";
  return `attempt aborted${reason?.message ? `: ${reason.message}` : ""}`;
}

/** `text` with the URL's path and query, and each secret, replaced by `[redacted]`. */
export function scrub(text: string, options: { url: string; secrets: readonly string[] }): string {
  const hidden = new Set(options.secrets.filter((s) => s.length >= 4));
  hidden.add(options.url);
  try {
    const u = new URL(options.url);
    // The origin alone is harmless and says where; what follows it may be the secret.
    if (u.pathname.length > 1) hidden.add(u.pathname);
    if (u.search) hidden.add(u.search);
  } catch {
    // An unparsable URL is hidden whole, above.
  }
  let out = text;
  for (const s of [...hidden].sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(s, "[redacted]");
  }
  return out;
}
