import { sleep } from "./timing.ts";

/** Statuses under 500 that pass: the server timed out the request, or asks to slow down. */
const PASSING_4XX: ReadonlySet<number> = new Set([408, 429]);

/**
 * Whether a failed API call may succeed if tried again: no status (the network, a timeout), a
 * 5xx, 408 or 429. The one table every retrying caller uses.
 */
export function passing(status: number | undefined): boolean {
  return status === undefined || status >= 500 || PASSING_4XX.has(status);
}

/**
 * Whether a failed API call will fail the same way however often it is tried: a 4xx that does
 * not pass, other than 404 (the object is gone) and 409 (it changed), which callers handle.
 */
export function permanent(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 && !passing(status) &&
    status !== 404 && status !== 409;
}

/** The HTTP status an error carries (`KubeError` and the client library's errors), if any. */
export function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown })?.status;
  return typeof status === "number" ? status : undefined;
}

/**
 * Whether an error says no try may follow it, whatever its status (`final: true`: a write the
 * fence refused, which would be refused again).
 */
export function isFinal(err: unknown): boolean {
  return (err as { final?: unknown })?.final === true;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Waits before each further try (ms); their count is how many more tries there are. */
  delaysMs: readonly number[];
  /** Whether an error is worth another try (default: {@link passing} of its status). */
  retryable?: (err: unknown) => boolean;
}

/** The longest `Retry-After` a retry honours; a longer one fails the call for its caller to retry. */
export const MAX_RETRY_AFTER_MS = 10_000;

/** How long the server asked to wait before another try, if it did (an API server's 429). */
export function retryAfterOf(err: unknown): number | undefined {
  const ms = (err as { retryAfterMs?: unknown })?.retryAfterMs;
  return typeof ms === "number" ? ms : undefined;
}

/**
 * Calls `call` until it succeeds, an error is not retryable (or {@link isFinal}), or the delays
 * run out (then throws).
 * A server that says when to come back (`Retry-After`) is waited for, not tried sooner; one that
 * asks for longer than {@link MAX_RETRY_AFTER_MS} ends the tries.
 */
export async function retry<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const retryable = options.retryable ?? ((err) => passing(statusOf(err)));
  for (let attempt = 0;; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= options.delaysMs.length || isFinal(err) || !retryable(err)) throw err;
      const asked = retryAfterOf(err);
      if (asked !== undefined && asked > MAX_RETRY_AFTER_MS) throw err;
      await sleep(Math.max(options.delaysMs[attempt], asked ?? 0));
    }
  }
}
