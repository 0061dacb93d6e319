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

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Waits before each further try (ms); their count is how many more tries there are. */
  delaysMs: readonly number[];
  /** Whether an error is worth another try (default: {@link passing} of its status). */
  retryable?: (err: unknown) => boolean;
}

/** Calls `call` until it succeeds, an error is not retryable, or the delays run out (then throws). */
export async function retry<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const retryable = options.retryable ?? ((err) => passing(statusOf(err)));
  for (let attempt = 0;; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= options.delaysMs.length || !retryable(err)) throw err;
      await sleep(options.delaysMs[attempt]);
    }
  }
}
