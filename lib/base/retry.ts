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

/** Options of a {@link Backoff}; each defaults to client-go's reflector's ({@link BACKOFF_DEFAULTS}). */
export interface BackoffOptions {
  /** The first delay (ms), before jitter. */
  initialMs?: number;
  /** Where the delay stops growing (ms), before jitter (client-go's `Cap`). */
  capMs?: number;
  /** What each delay is multiplied by for the next. */
  factor?: number;
  /** Each delay is lengthened by up to this share of itself, at random (1: from d to 2d). */
  jitter?: number;
  /** Time with no delay asked for after which the delays start again from `initialMs` (ms). */
  resetAfterMs?: number;
  /** Random numbers in [0, 1); `Math.random` by default. */
  random?: () => number;
  /** A monotonic clock (ms); `performance.now` by default. */
  now?: () => number;
}

/**
 * The values of client-go's reflector (`wait.NewExponentialBackoffManager(800ms, 30s, 2m, 2.0,
 * 1.0)`): delays of 0.8 to 1.6 s, then 1.6 to 3.2 s, ..., then 30 to 60 s, until 2 minutes pass
 * with none asked for.
 */
export const BACKOFF_DEFAULTS = {
  initialMs: 800,
  capMs: 30_000,
  factor: 2,
  jitter: 1,
  resetAfterMs: 120_000,
} as const;

/**
 * Delays between tries of something that keeps failing, as client-go's backoff manager gives
 * them: each is longer than the last up to a cap, with jitter so that many clients do not come
 * back at once. Nothing but time resets it: only a period of `resetAfterMs` in which no delay was
 * asked for starts the delays again from the first. A success is not a reset, because under a
 * storm (a watch that answers 410 at once after every successful list) each try succeeds in part.
 */
export class Backoff {
  #o: Required<Omit<BackoffOptions, "random" | "now">>;
  #random: () => number;
  #now: () => number;
  /** The next delay before jitter. */
  #base: number;
  /** When a delay was last asked for. */
  #last: number;

  constructor(options: BackoffOptions = {}) {
    this.#o = {
      initialMs: options.initialMs ?? BACKOFF_DEFAULTS.initialMs,
      capMs: options.capMs ?? BACKOFF_DEFAULTS.capMs,
      factor: options.factor ?? BACKOFF_DEFAULTS.factor,
      jitter: options.jitter ?? BACKOFF_DEFAULTS.jitter,
      resetAfterMs: options.resetAfterMs ?? BACKOFF_DEFAULTS.resetAfterMs,
    };
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
    this.#base = this.#o.initialMs;
    this.#last = this.#now();
  }

  /** How long to wait (ms) before the next try; asking counts as a failure, so the next is longer. */
  next(): number {
    const now = this.#now();
    if (now - this.#last > this.#o.resetAfterMs) this.#base = this.#o.initialMs;
    this.#last = now;
    const base = this.#base;
    this.#base = Math.min(base * this.#o.factor, this.#o.capMs);
    return base + base * this.#o.jitter * this.#random();
  }
}
