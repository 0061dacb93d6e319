import type { KubeObject } from "./status.ts";

/** The kinds of change a watch reports. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/** One write, as kept in the history that watches resume from. */
export interface Change {
  rv: number;
  storage: string;
  type: WatchEventType;
  /** The object after the write (for DELETED, the object as deleted, carrying the delete's rv). */
  object: KubeObject;
  /** The object before the write, absent for ADDED. */
  previous?: KubeObject;
}

/** Something told of every write to one storage key. */
export type ChangeListener = (change: Change) => void;

/** Options of a {@link Store}. */
export interface StoreOptions {
  /** How many changes are kept for watches to resume from; older resourceVersions get 410 Gone. */
  historySize?: number;
}

/** Key of an object inside its storage: `namespace/name`, or `name` when cluster-scoped. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * The in-memory object store: every object by storage key and namespace/name, one
 * resourceVersion counter rising with every write, and a bounded history of changes.
 */
export class Store {
  #rv = 1;
  #objects = new Map<string, Map<string, KubeObject>>();
  #history: Change[] = [];
  #historyStart = 0;
  #compactedRv = 0;
  #historySize: number;
  #listeners = new Map<string, Set<ChangeListener>>();

  constructor(options: StoreOptions = {}) {
    this.#historySize = options.historySize ?? 10_000;
  }

  /** The current resourceVersion: that of the latest write. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** The highest resourceVersion no longer in the history; watches from before it get 410. */
  get compactedResourceVersion(): number {
    return this.#compactedRv;
  }

  #bucket(storage: string): Map<string, KubeObject> {
    let bucket = this.#objects.get(storage);
    if (!bucket) {
      bucket = new Map();
      this.#objects.set(storage, bucket);
    }
    return bucket;
  }

  /** The stored object, or undefined. Callers must not mutate it. */
  get(storage: string, key: string): KubeObject | undefined {
    return this.#objects.get(storage)?.get(key);
  }

  /** Every stored object of a storage key, in key order (namespace, then name), optionally in one namespace. */
  list(storage: string, namespace?: string): KubeObject[] {
    const bucket = this.#objects.get(storage);
    if (!bucket) return [];
    const prefix = namespace ? `${namespace}/` : undefined;
    const keys = [...bucket.keys()].filter((k) => prefix === undefined || k.startsWith(prefix));
    keys.sort();
    return keys.map((k) => bucket.get(k)!);
  }

  /** How many objects a storage key holds. */
  count(storage: string): number {
    return this.#objects.get(storage)?.size ?? 0;
  }

  /** Writes an object (create or update), stamping the next resourceVersion; returns what was stored. */
  put(storage: string, key: string, object: KubeObject): KubeObject {
    const bucket = this.#bucket(storage);
    const previous = bucket.get(key);
    const rv = ++this.#rv;
    const stored: KubeObject = {
      ...object,
      metadata: { ...object.metadata, resourceVersion: String(rv) },
    };
    bucket.set(key, stored);
    this.#record({ rv, storage, type: previous ? "MODIFIED" : "ADDED", object: stored, previous });
    return stored;
  }

  /** Removes an object; returns it as deleted (with the delete's resourceVersion), or undefined. */
  remove(storage: string, key: string): KubeObject | undefined {
    const bucket = this.#objects.get(storage);
    const previous = bucket?.get(key);
    if (!bucket || !previous) return undefined;
    bucket.delete(key);
    const rv = ++this.#rv;
    const object: KubeObject = {
      ...previous,
      metadata: { ...previous.metadata, resourceVersion: String(rv) },
    };
    this.#record({ rv, storage, type: "DELETED", object, previous });
    return object;
  }

  #record(change: Change): void {
    this.#history.push(change);
    if (this.#history.length - this.#historyStart > this.#historySize) {
      this.#compactedRv = this.#history[this.#historyStart].rv;
      this.#historyStart++;
      // Drop the dead prefix now and then rather than shifting on every write.
      if (this.#historyStart > this.#historySize) {
        this.#history = this.#history.slice(this.#historyStart);
        this.#historyStart = 0;
      }
    }
    for (const listener of this.#listeners.get(change.storage) ?? []) listener(change);
  }

  /** The changes of one storage key after `rv`, or undefined when some were compacted away. */
  changesSince(storage: string, rv: number): Change[] | undefined {
    if (rv < this.#compactedRv) return undefined;
    const out: Change[] = [];
    for (let i = this.#historyStart; i < this.#history.length; i++) {
      const c = this.#history[i];
      if (c.rv > rv && c.storage === storage) out.push(c);
    }
    return out;
  }

  /**
   * Forgets the whole history, so that resuming a watch from any resourceVersion issued so
   * far gets 410 Gone. Like an etcd compaction, it takes a revision of its own.
   */
  compact(): void {
    this.#compactedRv = ++this.#rv;
    this.#history = [];
    this.#historyStart = 0;
  }

  /** Calls `listener` after every write to `storage`; returns a function that stops it. */
  listen(storage: string, listener: ChangeListener): () => void {
    let set = this.#listeners.get(storage);
    if (!set) {
      set = new Set();
      this.#listeners.set(storage, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }
}
