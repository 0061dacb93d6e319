/**
 * A Map that keeps the `limit` entries set most recently: setting one more drops the entry set
 * least recently. What node-heal remembers of what it read or wrote (Events' versions, seals made,
 * states parsed) stays bounded however much arrives.
 */
export class RecentMap<K, V> {
  #entries = new Map<K, V>();
  #limit: number;

  constructor(limit: number) {
    this.#limit = Math.max(0, limit);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key);
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** Sets `key` as the most recent entry, dropping the least recent ones past the limit. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    while (this.#entries.size > this.#limit) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }
}

/**
 * What `compute` gives for `key`, made once while it is among the `limit` made last. A key longer
 * than `maxKeyLength` is computed every time and not kept: what is kept stays small whatever the
 * keys (a hostile annotation can be a quarter megabyte).
 */
export class Memo<V> {
  #recent: RecentMap<string, V>;
  #maxKeyLength: number;

  constructor(limit: number, maxKeyLength: number) {
    this.#recent = new RecentMap(limit);
    this.#maxKeyLength = maxKeyLength;
  }

  get(key: string, compute: () => V): V {
    if (key.length > this.#maxKeyLength) return compute();
    let value = this.#recent.get(key);
    if (value === undefined) {
      value = compute();
      this.#recent.set(key, value);
    }
    return value;
  }
}
