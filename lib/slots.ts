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

  /** Runs `task` once a slot is free, and frees it when the task settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}
