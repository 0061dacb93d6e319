// One sink's delivery: a bounded queue and one worker. A remediation only ever calls `push`,
// which returns at once; the worker delivers in order, one at a time (a resolve never overtakes
// its trigger), retrying what may pass and giving up after a bound, so a dead receiver costs
// memory up to the queue's bound and nothing else.
import { Background } from "../../base/background.ts";
import { log } from "../../base/log.ts";
import { sleep as realSleep } from "../../base/timing.ts";
import type { Metrics } from "../metrics.ts";
import type { NotifyResult } from "../labels.ts";
import type { Attempt, NotifyEvent, Sink } from "./types.ts";

const logger = log("notify");

/** The defaults, and the reasons for them. */
export const QUEUE_DEFAULTS = {
  /** Per attempt: Slack and PagerDuty answer in well under a second when they are well. */
  attemptMs: 5_000,
  /**
   * An entry is given up (`expired`) when its next attempt would start more than this after its
   * first: a page ten minutes late still helps; one an hour late mostly confuses.
   */
  expireMs: 10 * 60_000,
  /** ...or after this many attempts, whichever comes first (a receiver asking `Retry-After: 0`). */
  maxAttempts: 20,
  /** Backoff: doubling from `baseMs` to `maxMs`, each wait jittered in its upper half. */
  baseMs: 1_000,
  maxMs: 60_000,
  /** No wait shorter than this, whatever Retry-After says: no hot loop against a receiver. */
  minWaitMs: 100,
  /** What `close` waits for the queue to drain, by default. */
  closeMs: 5_000,
  /**
   * The entries waiting weigh at most this ({@link eventBytes}), whatever `capacity` says: 1,000
   * alerts of 64 labels of 4 KiB would be 500 MB, and a hung receiver under such alerts ran the
   * production heap out in 300 cordons. 8 MiB is thousands of ordinary notifications.
   */
  maxBytes: 8 * 1024 * 1024,
} as const;

/** What one field of an event costs beyond its text, in {@link eventBytes}'s estimate. */
const FIELD_BYTES = 64;

/**
 * An estimate of what an event holds in memory: two bytes a character (V8 keeps a string with
 * any character past Latin-1 in two), and {@link FIELD_BYTES} a field; at least what its JSON
 * would be. Walks only the event's own fields and its alert's labels: cheap to take at each push.
 */
export function eventBytes(event: NotifyEvent): number {
  let chars = 0;
  let fields = 0;
  for (const v of Object.values(event)) {
    fields++;
    if (typeof v === "string") chars += v.length;
  }
  const alert = event.alert;
  if (alert) {
    for (const v of Object.values(alert)) {
      fields++;
      if (typeof v === "string") chars += v.length;
    }
    for (const [k, v] of Object.entries(alert.labels)) {
      fields++;
      chars += k.length + v.length;
    }
  }
  return 2 * chars + FIELD_BYTES * fields;
}

/** Options of {@link SinkQueue}; all but `capacity` have defaults ({@link QUEUE_DEFAULTS}). */
export interface QueueOptions {
  /** Entries waiting at most (the policy's `queue:`). */
  capacity: number;
  /** What the entries waiting weigh at most ({@link eventBytes}); {@link QUEUE_DEFAULTS}. */
  maxBytes?: number;
  metrics?: Metrics;
  attemptMs?: number;
  expireMs?: number;
  maxAttempts?: number;
  baseMs?: number;
  maxMs?: number;
  /** For tests: waits (resolving early when the signal aborts), the time in ms, a random [0,1). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

interface Entry {
  event: NotifyEvent;
  pushedAt: number;
  /** {@link eventBytes} of the event, taken as it was queued. */
  bytes: number;
}

/** One sink's queue and its worker. */
export class SinkQueue {
  readonly #queue: Entry[] = [];
  /** What the entries waiting weigh ({@link eventBytes}), the one being delivered not included. */
  #bytes = 0;
  readonly #stop = new AbortController();
  readonly #o: Required<Omit<QueueOptions, "metrics">>;
  readonly #metrics: Metrics | undefined;
  /** Runs the worker: a failure of its own is logged and counted, and the next push starts another. */
  readonly #background: Background;
  #worker: Promise<void> | undefined;
  #current: Entry | undefined;
  #closed = false;
  #dropWarned = false;

  constructor(readonly sink: Sink, options: QueueOptions) {
    this.#metrics = options.metrics;
    this.#background = options.metrics?.background ?? new Background();
    this.#o = {
      capacity: options.capacity,
      maxBytes: options.maxBytes ?? QUEUE_DEFAULTS.maxBytes,
      attemptMs: options.attemptMs ?? QUEUE_DEFAULTS.attemptMs,
      expireMs: options.expireMs ?? QUEUE_DEFAULTS.expireMs,
      maxAttempts: options.maxAttempts ?? QUEUE_DEFAULTS.maxAttempts,
      baseMs: options.baseMs ?? QUEUE_DEFAULTS.baseMs,
      maxMs: options.maxMs ?? QUEUE_DEFAULTS.maxMs,
      sleep: options.sleep ?? realSleep,
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
    };
    this.#gauge();
  }

  /** Entries waiting (the one being delivered not included). */
  get depth(): number {
    return this.#queue.length;
  }

  /** What the entries waiting weigh ({@link eventBytes}). */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Queues `event`; never blocks, never throws. False when it was not queued: a kind the sink
   * cannot send (not counted), or the queue is closing (counted dropped). A full queue, by count
   * (`capacity`) or by weight (`maxBytes`), drops its oldest entries, counted, to make room: the
   * newest says most about the node now. The newest is always queued: no event weighs near the
   * bound (an alert's labels and annotations are bounded at intake, docs/limits.md).
   */
  push(event: NotifyEvent): boolean {
    if (this.sink.kinds && !this.sink.kinds.has(event.kind)) return false;
    if (this.#closed) {
      this.#count("dropped");
      return false;
    }
    const bytes = eventBytes(event);
    while (
      this.#queue.length > 0 &&
      (this.#queue.length >= this.#o.capacity || this.#bytes + bytes > this.#o.maxBytes)
    ) {
      const full = this.#queue.length >= this.#o.capacity ? "count" : "bytes";
      const old = this.#queue.shift()!;
      this.#bytes -= old.bytes;
      this.#count("dropped");
      if (!this.#dropWarned) {
        // Once per overflow, not once per drop: a flood of warnings would bury the cause.
        this.#dropWarned = true;
        logger.warn(
          "Notification queue of {sink} full ({full}: {capacity} entries, {maxBytes} bytes): dropping the oldest",
          {
            sink: this.sink.name,
            full,
            capacity: this.#o.capacity,
            maxBytes: this.#o.maxBytes,
            id: old.event.id,
            kind: old.event.kind,
            node: old.event.node,
          },
        );
      }
    }
    this.#queue.push({ event, pushedAt: this.#o.now(), bytes });
    this.#bytes += bytes;
    this.#gauge();
    this.#worker ??= this.#background.settled("notify", async () => {
      try {
        await this.#work();
      } finally {
        this.#worker = undefined;
      }
    });
    return true;
  }

  /**
   * Stops taking entries, lets the worker drain the queue for up to `boundMs`, then aborts what
   * is under way; what is left is counted dropped. Resolves when the worker has stopped.
   */
  async close(boundMs: number = QUEUE_DEFAULTS.closeMs): Promise<void> {
    this.#closed = true;
    if (this.#worker) {
      const timer = new AbortController();
      await Promise.race([this.#worker, realSleep(boundMs, timer.signal)]);
      timer.abort();
    }
    this.#stop.abort();
    await this.#worker;
    const left = this.#queue.length + (this.#current ? 1 : 0);
    if (left > 0) {
      this.#count("dropped", left);
      logger.warn("Notification sink {sink} closed with {left} notifications undelivered", {
        sink: this.sink.name,
        left,
      });
    }
    this.#queue.length = 0;
    this.#bytes = 0;
    this.#current = undefined;
    this.#gauge();
  }

  /** Delivers until the queue is empty or the queue is stopped. */
  async #work(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
      this.#current = this.#queue.shift()!;
      this.#bytes -= this.#current.bytes;
      this.#gauge();
      const done = await this.#deliver(this.#current);
      if (done) this.#current = undefined;
    }
  }

  /** Tries one entry until it ends (true), or the queue is stopped under it (false). */
  async #deliver(entry: Entry): Promise<boolean> {
    const { event } = entry;
    const firstAt = this.#o.now();
    for (let attempt = 1;; attempt++) {
      const result = await this.#attempt(event);
      const fields = {
        sink: this.sink.name,
        id: event.id,
        kind: event.kind,
        node: event.node,
        attempt,
      };
      if (result.result === "sent") {
        this.#count("sent");
        this.#dropWarned = false;
        this.#metrics?.notifySeconds.observe(
          { sink: this.sink.name },
          (this.#o.now() - entry.pushedAt) / 1000,
        );
        return true;
      }
      if (result.result === "rejected") {
        this.#count("rejected");
        logger.warn("Notification to {sink} refused, not retried: {why}", {
          ...fields,
          why: result.why,
        });
        return true;
      }
      // A retry because close cut the attempt is no failure of the receiver: close counts it.
      if (this.#stop.signal.aborted) return false;
      const wait = Math.max(QUEUE_DEFAULTS.minWaitMs, result.afterMs ?? this.#backoff(attempt));
      if (attempt >= this.#o.maxAttempts || this.#o.now() + wait - firstAt > this.#o.expireMs) {
        this.#count("expired");
        logger.warn("Notification to {sink} given up after {attempt} attempts: {why}", {
          ...fields,
          why: result.why,
        });
        return true;
      }
      this.#count("retried");
      logger.debug("Notification to {sink} failed, retrying in {wait} ms: {why}", {
        ...fields,
        wait,
        why: result.why,
      });
      await this.#o.sleep(wait, this.#stop.signal);
      if (this.#stop.signal.aborted) return false;
    }
  }

  /** One attempt, cut at `attemptMs` or when the queue stops; a sink that throws is retried. */
  async #attempt(event: NotifyEvent): Promise<Attempt> {
    // One controller that the timer and close both abort, its listener removed after: nothing
    // outlives the attempt (no timer, no listener on the queue's long-lived signal).
    const cut = new AbortController();
    const timer = setTimeout(
      () => cut.abort(new DOMException("attempt timed out", "TimeoutError")),
      this.#o.attemptMs,
    );
    const stop = () => cut.abort(this.#stop.signal.reason);
    this.#stop.signal.addEventListener("abort", stop, { once: true });
    try {
      return await this.sink.deliver(event, cut.signal);
    } catch (err) {
      // Sinks never throw; should one, its message may hold a secret, so it is not repeated.
      return { result: "retry", why: `the sink failed (${(err as Error)?.name ?? "error"})` };
    } finally {
      clearTimeout(timer);
      this.#stop.signal.removeEventListener("abort", stop);
    }
  }

  /** The wait after the `attempt`th failure: doubling, capped, jittered in its upper half. */
  #backoff(attempt: number): number {
    const ceiling = Math.min(this.#o.maxMs, this.#o.baseMs * 2 ** (attempt - 1));
    return ceiling / 2 + this.#o.random() * ceiling / 2;
  }

  #count(result: NotifyResult, n = 1): void {
    this.#metrics?.sent.inc({ sink: this.sink.name, result }, n);
  }

  #gauge(): void {
    this.#metrics?.notifyQueue.set({ sink: this.sink.name }, this.#queue.length);
  }
}
