// The timers of the embedded API server's controllers (pod grace periods, node replacements),
// kept so that closing the server clears them all: nothing fires, nothing leaks.

/** A set of pending timers that {@link Timers.clear} cancels at once. */
export class Timers {
  #pending = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  /** Runs `fn` after `ms`, unless {@link Timers.clear} comes first; a no-op once cleared. */
  schedule(fn: () => void, ms: number): void {
    if (this.#closed) return;
    const id = setTimeout(() => {
      this.#pending.delete(id);
      fn();
    }, Math.max(0, ms));
    this.#pending.add(id);
  }

  /** How many timers are pending. */
  get size(): number {
    return this.#pending.size;
  }

  /** Cancels every pending timer; later ones are refused. */
  clear(): void {
    this.#closed = true;
    for (const id of this.#pending) clearTimeout(id);
    this.#pending.clear();
  }
}
