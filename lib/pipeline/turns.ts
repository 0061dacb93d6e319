/** Runs tasks with the same key one after another, and tasks with different keys at once. */
class KeyedQueue {
  #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => {});
    this.#tails.set(key, tail);
    // Never rejects: `tail` has caught, and the cleanup cannot throw.
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}

/**
 * Whose turn it is to write. Each Node has its turn: its alerts, reconciliations and drain end
 * are written one after another, in the order they arrived. Decisions that may take a Node out
 * also share one cluster-wide take-out turn, so that every gate counts the previous take-out.
 */
export class Turns {
  #nodes = new KeyedQueue();
  #takeOut = new KeyedQueue();

  /** Runs `task` in Node `name`'s turn. */
  node<T>(name: string, task: () => Promise<T>): Promise<T> {
    return this.#nodes.run(name, task);
  }

  /** Runs `task` in the one cluster-wide turn of take-outs. */
  takeOut<T>(task: () => Promise<T>): Promise<T> {
    return this.#takeOut.run("", task);
  }
}
