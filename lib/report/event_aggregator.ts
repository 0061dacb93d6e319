// Similar Events combined into one, as client-go's EventAggregator does
// (kubernetes/client-go tools/record/events_cache.go: EventAggregatorByReasonFunc,
// EventAggregatorByReasonMessageFunc, defaultAggregateMaxEvents, defaultAggregateIntervalInSeconds,
// maxLruCacheEntries). node-heal's messages carry counts and gate details (a NodeHealSkipped says
// how many nodes are unavailable), so one failing node could otherwise fill its `kubectl describe
// node` with an Event per message.
import { fnv1a32 } from "../base/fnv.ts";

/** Distinct messages of one object, reason and type within the interval before they are combined. */
export const AGGREGATE_MAX_EVENTS = 10;

/** A similar Event this long after the last one starts the count of distinct messages anew. */
export const AGGREGATE_INTERVAL_MS = 600_000;

/** The message of a combined Event: this, then the latest message. */
export const AGGREGATE_PREFIX = "(combined from similar events): ";

/** Objects, reasons and types whose messages are remembered at most, the least recently seen dropped. */
export const AGGREGATE_KEYS = 4096;

/** What is remembered of one object, reason and type. */
interface Similar {
  /** Hashes of the distinct messages seen (a hash, not the message: 10 of 1 KB each, 4,096 times, would be 40 MB). */
  messages: Set<number>;
  /** When the last of them was seen, ms since the epoch. */
  lastMs: number;
}

/**
 * Tells which Events to combine. As client-go's: the key is the involved object, the reason and
 * the type (the source is the same for every Event of one recorder); the messages seen under a key
 * are forgotten once none came for {@link AGGREGATE_INTERVAL_MS}; from the {@link AGGREGATE_MAX_EVENTS}th
 * distinct message within that interval on, an Event is combined, and one message seen is let go so
 * that the set stays below the bound (so a repeat of a message still remembered is written as
 * itself, as in client-go).
 */
export class EventAggregator {
  #keys: number;
  #similar = new Map<string, Similar>();

  constructor(keys: number = AGGREGATE_KEYS) {
    this.#keys = Math.max(1, keys);
  }

  /** Objects, reasons and types remembered now. */
  get size(): number {
    return this.#similar.size;
  }

  /** Whether an Event of `key` (object, reason, type) with `message`, seen at `nowMs`, is to be combined. */
  combine(key: string, message: string, nowMs: number): boolean {
    let similar = this.#similar.get(key);
    this.#similar.delete(key);
    if (!similar || nowMs - similar.lastMs > AGGREGATE_INTERVAL_MS) {
      similar = { messages: new Set(), lastMs: nowMs };
    }
    similar.messages.add(fnv1a32(message));
    similar.lastMs = nowMs;
    this.#similar.set(key, similar);
    if (this.#similar.size > this.#keys) this.#similar.delete(this.#similar.keys().next().value!);
    if (similar.messages.size < AGGREGATE_MAX_EVENTS) return false;
    // client-go's PopAny: the set never grows past the bound. The oldest goes.
    similar.messages.delete(similar.messages.values().next().value!);
    return true;
  }
}
