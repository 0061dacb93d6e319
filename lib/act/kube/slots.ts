/**
 * At most `size` tasks at once; the rest wait their turn in order. Bounds, say, the calls in
 * flight to the API server, and so the connections a burst opens.
 */
export class Slots {
  #free: number;
  #waiting: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`Slots: size ${size}`);
    this.#free = size;
  }

  /**
   * Runs `task` once a slot is free, and frees it when the task settles. When `signal` aborts
   * while it waits for a slot, it leaves the queue and `task` never runs.
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    if (this.#free > 0) this.#free--;
    else {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const i = this.#waiting.indexOf(take);
          if (i >= 0) this.#waiting.splice(i, 1);
          reject(signal!.reason);
        };
        const take = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        this.#waiting.push(take);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}
