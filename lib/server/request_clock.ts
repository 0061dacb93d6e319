// The webhook's request deadlines, kept by one timer for all requests in flight: a timer, an
// `AbortSignal.any` and a shutdown listener made per request cost a tenth of what intake spent.
import { HttpError } from "./http_error.ts";

/**
 * One request's deadline from its arrival (reading the body, parsing and handling), and the cut a
 * shutdown makes to a body still arriving (a request already read is handled to its end).
 */
export class RequestSignals {
  /** Aborted at the deadline. */
  readonly deadline: AbortSignal;
  /** Aborted at the deadline, or at a shutdown while the body is still arriving. */
  readonly reading: AbortSignal;
  /** When the deadline passes (`performance.now()`). */
  readonly at: number;
  readonly #expiry = new AbortController();
  readonly #cut = new AbortController();
  readonly #clock: RequestClock;
  #read = false;

  constructor(clock: RequestClock, at: number) {
    this.#clock = clock;
    this.at = at;
    this.deadline = this.#expiry.signal;
    this.reading = this.#cut.signal;
  }

  /** The body is in: a shutdown no longer cuts this request. */
  bodyRead(): void {
    this.#read = true;
  }

  /** The request is answered. */
  end(): void {
    this.#read = true;
    this.#clock.forget(this);
  }

  /** The deadline passed. */
  expire(): void {
    this.#expiry.abort();
    if (!this.reading.aborted) this.#cut.abort(this.deadline.reason);
  }

  /** Node-heal shuts down: a body still arriving is cut. */
  shutDown(): void {
    if (this.#read || this.reading.aborted) return;
    this.#cut.abort(
      new HttpError(503, "Shutting down: send it again, to another replica or later", {
        "retry-after": "5",
      }),
    );
  }
}

/**
 * The deadlines of a route's requests. All have the same timeout, so they pass in the order the
 * requests came: one timer waits for the oldest in flight, and none is left once all are answered.
 */
export class RequestClock {
  readonly #timeoutMs: number;
  readonly #closing?: AbortSignal;
  /** Requests in flight, oldest first. */
  readonly #inFlight = new Set<RequestSignals>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The request the timer waits for. */
  #next: RequestSignals | undefined;

  constructor(timeoutMs: number, closing: AbortSignal | undefined) {
    this.#timeoutMs = timeoutMs;
    this.#closing = closing;
    closing?.addEventListener("abort", () => {
      for (const r of this.#inFlight) r.shutDown();
    }, { once: true });
  }

  /** A request's signals, from now. */
  start(): RequestSignals {
    const r = new RequestSignals(this, performance.now() + this.#timeoutMs);
    if (this.#closing?.aborted) r.shutDown();
    this.#inFlight.add(r);
    if (this.#timer === undefined) this.#arm(r, this.#timeoutMs);
    return r;
  }

  /** A request is answered: its deadline no longer matters. */
  forget(r: RequestSignals): void {
    this.#inFlight.delete(r);
    if (this.#inFlight.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = this.#next = undefined;
    }
  }

  #arm(r: RequestSignals, ms: number): void {
    this.#next = r;
    this.#timer = setTimeout(() => this.#tick(), ms);
  }

  /** Expires the request the timer waited for, and every other one past its deadline. */
  #tick(): void {
    const waited = this.#next;
    this.#timer = this.#next = undefined;
    const now = performance.now();
    for (const r of this.#inFlight) {
      if (r !== waited && r.at > now) break;
      this.#inFlight.delete(r);
      r.expire();
    }
    const [oldest] = this.#inFlight;
    if (oldest && this.#timer === undefined) {
      this.#arm(oldest, Math.max(0, oldest.at - performance.now()));
    }
  }
}
