import { deadline } from "../../base/timing.ts";
import { KubeError } from "./types.ts";

/** The error of a call the API server did not answer within `ms`. */
function late(what: string, ms: number): KubeError {
  return new KubeError(`Cannot ${what}: the API server did not answer within ${ms} ms`);
}

/** Fails `call` as a timeout after `ms`; the request itself is left to finish on its own. */
export function timeBound<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  return deadline(call, ms, () => late(what, ms));
}

/** One call bounded by {@link TimeBounds}: when it is late, and how to fail it until it settles. */
interface Bound {
  end: number;
  what: string;
  /** Dropped once the call settles, so that a bound kept a while holds no answer. */
  reject?: (err: unknown) => void;
}

/** Settled bounds dropped from the front at once are compacted past this many. */
const COMPACT_AFTER = 1024;

/**
 * {@link timeBound} for the calls of one client, all bounded by the same `ms`, with one timer
 * between them instead of one each (a timer made and cleared costs 1.5 KB of garbage and a few µs,
 * every API call). Deadlines come in the order the calls start, so one timer, set for the first
 * call pending, serves them all: when it fires it fails the calls past their deadline, and is set
 * again for the next. No timer is left once no call is pending.
 */
export class TimeBounds {
  readonly #ms: number;
  /** Bounds by deadline; from #first on, those settled since are skipped when met. */
  #bounds: Bound[] = [];
  #first = 0;
  /** Calls not settled yet. */
  #pending = 0;
  #timer?: ReturnType<typeof setTimeout>;

  constructor(ms: number) {
    this.#ms = ms;
  }

  /** Fails `call` as a timeout after `ms`, as {@link timeBound} does. */
  bound<T>(call: Promise<T>, what: string): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const bound: Bound = { end: performance.now() + this.#ms, what, reject };
    this.#bounds.push(bound);
    this.#pending++;
    this.#timer ??= this.#arm();
    call.then((value) => {
      if (this.#settle(bound)) resolve(value);
    }, (err) => {
      if (this.#settle(bound)) reject(err);
    });
    return promise;
  }

  /** Marks `bound` settled; false if it was failed as late already. */
  #settle(bound: Bound): boolean {
    if (!bound.reject) return false;
    bound.reject = undefined;
    if (--this.#pending === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#bounds.length = 0;
      this.#first = 0;
    } else this.#skipSettled();
    return true;
  }

  /** Moves #first past the bounds settled, and lets them go. */
  #skipSettled(): void {
    const bounds = this.#bounds;
    while (this.#first < bounds.length && !bounds[this.#first].reject) this.#first++;
    if (this.#first > COMPACT_AFTER && this.#first * 2 > bounds.length) {
      bounds.splice(0, this.#first);
      this.#first = 0;
    }
  }

  /** A timer for the first call pending (there is one). */
  #arm(): ReturnType<typeof setTimeout> {
    const wait = Math.max(0, this.#bounds[this.#first].end - performance.now());
    return setTimeout(() => this.#fire(), wait);
  }

  /** Fails the calls past their deadline, then waits for the next. */
  #fire(): void {
    this.#timer = undefined;
    const now = performance.now();
    const bounds = this.#bounds;
    while (this.#first < bounds.length) {
      const bound = bounds[this.#first];
      if (bound.reject) {
        if (bound.end > now) break;
        const reject = bound.reject;
        bound.reject = undefined;
        this.#pending--;
        reject(late(bound.what, this.#ms));
      }
      this.#first++;
    }
    if (this.#pending === 0) {
      bounds.length = 0;
      this.#first = 0;
    } else {
      this.#skipSettled();
      this.#timer = this.#arm();
    }
  }
}
