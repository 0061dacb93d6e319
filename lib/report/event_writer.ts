// One write of one Event: a create, or a count of a repeat, with the count and resourceVersion of
// the Events written last remembered, so that a repeat is one PATCH. The queue that decides what
// to write, and when, is report/events.ts.
import {
  type EventBody,
  type EventVersion,
  type KubeClient,
  KubeError,
} from "../act/kube/types.ts";
import type { EventMetrics } from "./event_metrics.ts";
import { errorText } from "../base/background.ts";
import { log } from "../base/log.ts";
import { passing, retry, type RetryOptions, statusOf } from "../base/retry.ts";

/**
 * Events whose count and resourceVersion node-heal remembers, the least recently written dropped
 * first: a repeat of a remembered Event is one PATCH. An entry is the name and a few short
 * strings: 4,096 of them took 0.7 MB of heap with 20-character node names, 1.6 MB with 253.
 */
export const REMEMBERED_EVENTS = 4096;

/**
 * Tries to write one Event: once, then after 0.1 s and 0.4 s; a conflict is other writers
 * counting the same Event, tried again after a pause. (One options object for every write.)
 */
const EVENT_RETRY: RetryOptions = {
  delaysMs: [100, 400],
  retryable: (err) => passing(statusOf(err)) || statusOf(err) === 409,
};

/** API calls in one try of a write before it waits and tries again (a create, read, patch, read, patch). */
const CALLS_PER_TRY = 5;

/** What one write counts on one Event: the records made since the last write of it. */
export interface EventCount {
  records: number;
  firstTimestamp: string;
  lastTimestamp: string;
  /** Set on the Event when it is counted (a combined Event's latest message); else kept. */
  message?: string;
}

/** What a write knows of the stored Event: its count and version, or only whether it exists. */
interface Stored {
  known?: EventVersion;
  exists: boolean;
}

/** The later of two timestamps (ISO 8601), the first when either cannot be read. */
export function later(a: string, b: string | undefined): string {
  return b !== undefined && Date.parse(b) > Date.parse(a) ? b : a;
}

/**
 * Writes Events. It remembers the count and resourceVersion of the Events it wrote (the last
 * `remembered`), so counting a repeat is one merge patch carrying that version. Only when that
 * fails does it fall back: on 409 (another writer counted it) it reads the Event and patches
 * again; on 404 (it expired) it creates it again. An Event it does not remember is created, and
 * read and patched if it exists. A failure is logged and counted, never thrown.
 */
export class EventWriter {
  #client: KubeClient;
  #metrics: EventMetrics;
  #namespace: string;
  #limit: number;
  /** What each Event written last held, least recently written first. */
  #remembered = new Map<string, EventVersion>();

  constructor(
    client: KubeClient,
    metrics: EventMetrics,
    options: { namespace: string; remembered: number },
  ) {
    this.#client = client;
    this.#metrics = metrics;
    this.#namespace = options.namespace;
    this.#limit = Math.max(0, options.remembered);
  }

  /** How many Events are remembered now. */
  get remembered(): number {
    return this.#remembered.size;
  }

  /** Remembers what an Event holds now, dropping the least recently written beyond the limit. */
  #remember(name: string, version: EventVersion): void {
    this.#remembered.delete(name);
    this.#remembered.set(name, version);
    while (this.#remembered.size > this.#limit) {
      this.#remembered.delete(this.#remembered.keys().next().value!);
    }
  }

  /** Writes one count: counts it on the Event, creating the Event if need be. Never throws. */
  async write(body: EventBody, batch: EventCount): Promise<void> {
    const { name } = body.metadata;
    const n = batch.records;
    const dry = this.#client.dryRun;
    const reason = body.reason;
    // What is stored, as far as this replica knows, kept from one try to the next. A dry run
    // stores nothing, so knows nothing.
    const known = dry ? undefined : this.#remembered.get(name);
    const stored: Stored = { known, exists: known !== undefined };
    // A few quick tries, then give up: the action is done, and the Event must not hold it up.
    try {
      const written = await retry(() => this.#try(body, batch, stored), EVENT_RETRY);
      if (dry) {
        this.#metrics.results.inc({ reason, result: "dry_run" }, n);
        return;
      }
      this.#remember(name, written.version);
      if (written.created) this.#metrics.results.inc({ reason, result: "created" });
      const counted = written.created ? n - 1 : n;
      if (counted > 0) this.#metrics.results.inc({ reason, result: "counted" }, counted);
    } catch (err) {
      // What is stored is not known now: the next write finds out.
      this.#remembered.delete(name);
      this.#metrics.results.inc({ reason, result: "failure" }, n);
      log("report").warn("Cannot record Event {reason} on node {node}: {error}", {
        reason,
        node: body.involvedObject.name,
        error: errorText(err),
      });
    }
  }

  /** One try of a write: a few calls, from what is known of the stored Event. */
  async #try(
    body: EventBody,
    batch: EventCount,
    stored: Stored,
  ): Promise<{ created: boolean; version: EventVersion }> {
    const { name } = body.metadata;
    const namespace = this.#namespace;
    const n = batch.records;
    for (let call = 0; call < CALLS_PER_TRY; call++) {
      if (stored.known) {
        try {
          const version = await this.#client.patchEventCount(namespace, name, {
            count: stored.known.count + n,
            lastTimestamp: later(batch.lastTimestamp, stored.known.lastTimestamp),
            resourceVersion: stored.known.resourceVersion,
            ...(batch.message === undefined ? {} : { message: batch.message }),
          });
          return { created: false, version };
        } catch (err) {
          const status = statusOf(err);
          if (status !== 409 && status !== 404) throw err;
          // 409: another writer counted it meanwhile, read it again; 404: it expired, create it.
          stored.known = undefined;
          stored.exists = status === 409;
        }
      } else if (stored.exists) {
        stored.known = await this.#client.readEvent(namespace, name);
        stored.exists = stored.known !== undefined;
      } else {
        const event: EventBody = {
          ...body,
          firstTimestamp: batch.firstTimestamp,
          lastTimestamp: batch.lastTimestamp,
          count: n,
        };
        if (batch.message !== undefined) event.message = batch.message;
        const version = await this.#client.createEvent(event);
        if (version) return { created: true, version };
        stored.exists = true;
      }
    }
    throw new KubeError(`Cannot record event "${name}": it keeps changing`, 409);
  }
}
