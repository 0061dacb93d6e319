/**
 * At most `size` tasks at once; the rest wait their turn in order, tasks of low priority after
 * every other task waiting. Bounds, say, the calls in flight to the API server, and so the
 * connections a burst opens; Events (low) never hold up a remediation's write waiting for a slot.
 */
export class Slots {
  #free: number;
  #waiting: (() => void)[] = [];
  #low: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`Slots: size ${size}`);
    this.#free = size;
  }

  /**
   * Runs `task` once a slot is free, and frees it when the task settles. When `signal` aborts
   * while it waits for a slot, it leaves the queue and `task` never runs.
   */
  run<T>(task: () => Promise<T>, signal?: AbortSignal, low = false): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#free > 0) {
      this.#free--;
      return this.#runNow(task);
    }
    return this.#runLater(task, signal, low ? this.#low : this.#waiting);
  }

  /** Runs `task` in the slot taken for it (no promise of its own, when the slot is free at once). */
  #runNow<T>(task: () => Promise<T>): Promise<T> {
    let running: Promise<T>;
    try {
      running = task();
    } catch (err) {
      this.#release();
      return Promise.reject(err);
    }
    running.then(this.#release, this.#release);
    return running;
  }

  /** Runs `task` once a slot is free, unless `signal` aborts first. */
  async #runLater<T>(
    task: () => Promise<T>,
    signal: AbortSignal | undefined,
    queue: (() => void)[],
  ): Promise<T> {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = queue.indexOf(take);
        if (i >= 0) queue.splice(i, 1);
        reject(signal!.reason);
      };
      const take = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      queue.push(take);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    return await this.#runNow(task);
  }

  /** Gives the slot of a task settled to the next task waiting, else frees it. */
  readonly #release = (): void => {
    const next = this.#waiting.shift() ?? this.#low.shift();
    if (next) next();
    else this.#free++;
  };
}
