// The backtest's timers: what is due when, earliest first, in the order set at equal times.

/** A min-heap of timers by time (ms), first in first out at equal times. */
export class TimerQueue<T> {
  #heap: { at: number; seq: number; value: T }[] = [];
  #seq = 0;

  /** How many timers are set. */
  get size(): number {
    return this.#heap.length;
  }

  /** Sets a timer at `at` (ms). */
  push(at: number, value: T): void {
    const h = this.#heap;
    h.push({ at, seq: this.#seq++, value });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(i, parent)) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  /** When the earliest timer is due, if any is set. */
  peekAt(): number | undefined {
    return this.#heap[0]?.at;
  }

  /** Takes the earliest timer. */
  pop(): T | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#before(l, m)) m = l;
        if (r < h.length && this.#before(r, m)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top.value;
  }

  #before(a: number, b: number): boolean {
    const h = this.#heap;
    return h[a].at < h[b].at || (h[a].at === h[b].at && h[a].seq < h[b].seq);
  }
}
