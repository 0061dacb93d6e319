import type { KubeObject } from "./objects.ts";
import { systemClock } from "../../base/clock.ts";

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
  /** Watch-event bytes already encoded for this change, by format, shared by every watcher. */
  encoded?: Map<string, Uint8Array>;
}

/** Something told of every write to one storage key. */
export type ChangeListener = (change: Change) => void;

/** Options of a {@link Store}. */
export interface StoreOptions {
  /** Changes kept per storage key for watches to resume from; older resourceVersions get 410 Gone. */
  historySize?: number;
  /**
   * The first resourceVersion. It defaults to the clock (ms), so that a restarted server never
   * hands out a resourceVersion it handed out before: clients resuming from one get 410 and re-list.
   */
  initialResourceVersion?: number;
  /** Called when a listener throws; the other listeners still run. */
  onListenerError?: (err: unknown) => void;
}

/** Key of an object inside its storage: `namespace/name`, or `name` when cluster-scoped. */
/** The fields of ObjectMeta before `labels`, in the order the real API server writes them. */
const META_FIRST = [
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
] as const;

/**
 * `object` at resourceVersion `rv`, its keys in the order the real API server writes them (Go's
 * encoder follows the structs): kind, apiVersion, metadata (name, uid and resourceVersion before
 * labels and annotations), then the rest as they were. Clients may read a few fields at the head
 * of an answer or an event without parsing the whole object (node-heal's watch does).
 */
function stamped(object: KubeObject, rv: number): KubeObject {
  const { kind, apiVersion, metadata, ...rest } = object;
  const meta: Record<string, unknown> = {};
  const source = metadata as unknown as Record<string, unknown>;
  for (const k of META_FIRST) if (source[k] !== undefined) meta[k] = source[k];
  Object.assign(meta, source, { resourceVersion: String(rv) });
  return { kind, apiVersion, metadata: meta, ...rest } as unknown as KubeObject;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** The change history of one storage key, a window that slides as writes come. */
interface History {
  changes: Change[];
  start: number;
  /** The highest resourceVersion no longer in this history. */
  compactedRv: number;
}

/**
 * The in-memory object store: every object by storage key and namespace/name, one
 * resourceVersion counter rising with every write, and a bounded history of changes per
 * storage key (like the API server's watch cache per resource).
 */
export class Store {
  #rv: number;
  #objects = new Map<string, Map<string, KubeObject>>();
  #histories = new Map<string, History>();
  /** Below this, every history is gone (start-up and {@link Store.compact}). */
  #floorRv: number;
  #historySize: number;
  #listeners = new Map<string, Set<ChangeListener>>();
  #onListenerError: (err: unknown) => void;

  constructor(options: StoreOptions = {}) {
    this.#historySize = options.historySize ?? 10_000;
    this.#rv = options.initialResourceVersion ?? systemClock().getTime();
    this.#floorRv = this.#rv;
    this.#onListenerError = options.onListenerError ??
      ((err) => console.error("Embedded API server: a change listener failed:", err));
  }

  /** The current resourceVersion: that of the latest write. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** The highest resourceVersion of `storage` no longer in its history; watches from before it get 410. */
  compactedResourceVersion(storage: string): number {
    return Math.max(this.#floorRv, this.#histories.get(storage)?.compactedRv ?? 0);
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
    const stored = stamped(object, rv);
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
    const object = stamped(previous, rv);
    this.#record({ rv, storage, type: "DELETED", object, previous });
    return object;
  }

  #record(change: Change): void {
    let h = this.#histories.get(change.storage);
    if (!h) {
      h = { changes: [], start: 0, compactedRv: 0 };
      this.#histories.set(change.storage, h);
    }
    h.changes.push(change);
    if (h.changes.length - h.start > this.#historySize) {
      h.compactedRv = h.changes[h.start].rv;
      h.start++;
      // Drop the dead prefix now and then rather than shifting on every write.
      if (h.start > this.#historySize) {
        h.changes = h.changes.slice(h.start);
        h.start = 0;
      }
    }
    for (const listener of this.#listeners.get(change.storage) ?? []) {
      try {
        listener(change);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
  }

  /** The changes of one storage key after `rv`, or undefined when some were compacted away. */
  changesSince(storage: string, rv: number): Change[] | undefined {
    if (rv < this.compactedResourceVersion(storage)) return undefined;
    const h = this.#histories.get(storage);
    if (!h) return [];
    const out: Change[] = [];
    for (let i = h.start; i < h.changes.length; i++) {
      if (h.changes[i].rv > rv) out.push(h.changes[i]);
    }
    return out;
  }

  /**
   * Forgets every history, so that resuming a watch from any resourceVersion issued so far
   * gets 410 Gone. Like an etcd compaction, it takes a revision of its own.
   */
  compact(): void {
    this.#floorRv = ++this.#rv;
    this.#histories.clear();
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
