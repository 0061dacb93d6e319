// Events written behind the action. The Node's annotations are the synchronous record of what
// node-heal did; Events are the audit trail, queued and written by a few writers, so that a storm
// of them never slows the work they describe (as client-go's recorder: a broadcaster queue of
// 1,000 that drops when full, an EventCorrelator that combines and counts).
import type { EventBody, KubeClient } from "../act/kube/types.ts";
import type { EventIntent } from "../decide/decide.ts";
import type { Metrics } from "./metrics.ts";
import { log } from "../base/log.ts";
import { clip } from "../base/clip.ts";
import { fnv1a32 } from "../base/fnv.ts";
import { deadline } from "../base/timing.ts";
import { type Clock, systemClock } from "../base/clock.ts";
import { AGGREGATE_PREFIX, EventAggregator } from "./event_aggregator.ts";
import { type EventCount, EventWriter, REMEMBERED_EVENTS } from "./event_writer.ts";

export { REMEMBERED_EVENTS } from "./event_writer.ts";

/** Options of an {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** Namespace of Node Events; kubelet and `kubectl describe node` use `default`. */
  namespace?: string;
  /** `reportingInstance` and `source.host`: which replica wrote the Event. */
  instance?: string;
  /** Events remembered at most (default {@link REMEMBERED_EVENTS}). */
  rememberedEvents?: number;
  /** Distinct Events waiting for a writer at most; a new one past it is dropped (default {@link MAX_QUEUED_EVENTS}). */
  maxQueued?: number;
  /** Writes under way at most (default {@link EVENT_WRITERS}). */
  writers?: number;
  /** How long {@link EventRecorder.flush} waits for what is queued (default {@link FLUSH_BOUND_MS}). */
  flushMs?: number;
  /** The clock of the similar-Event interval and of the drop warnings (default the system clock). */
  now?: Clock;
}

/** The longest Event message node-heal writes, in characters. */
export const EVENT_MESSAGE_LIMIT = 1024;

/** Distinct Events waiting at most, as client-go's broadcaster queue (`maxQueuedEvents`). */
export const MAX_QUEUED_EVENTS = 1000;

/**
 * Writes under way at once: at most half the client's API calls in flight (16), and each waits for
 * a slot after every remediation call waiting (`Slots`, low priority). With 2, a sustained 700
 * cordons a second (the bench's acting path) dropped 40% of their Events; with 8, 2%.
 */
export const EVENT_WRITERS = 8;

/** How long a flush at shutdown waits for the Events queued. */
export const FLUSH_BOUND_MS = 5000;

/** Drops are logged at most this often, with the count since the last warning. */
export const DROP_LOG_INTERVAL_MS = 60_000;

/** A batch's records whose times are kept for the delay histogram; later ones take the last kept. */
const TIMED_RECORDS = 1000;

/**
 * FNV-1a, 32 bits, of `a`, a NUL and `b`, as 8 hex digits: a short stable name suffix (hashed
 * as one text, without joining them).
 */
function hash(a: string, b: string): string {
  return fnv1a32(b, fnv1a32("\u0000", fnv1a32(a))).toString(16).padStart(8, "0");
}

/** Records of one Event waiting for its next write, and when each was made (for the delay). */
interface Batch extends EventCount {
  /** `performance.now()` of each record, the first {@link TIMED_RECORDS}. */
  times: number[];
  /** The timestamps as ms since the epoch (compared without parsing them again). */
  firstMs: number;
  lastMs: number;
}

/** One Event: queued or being written (never both), and the records its next write counts. */
interface Line {
  body: EventBody;
  /** A combined Event: each write sets its latest message. */
  combined: boolean;
  next?: Batch;
}

/**
 * Records Events on Nodes, so `kubectl describe node` tells the story. {@link record} never
 * waits and never throws: it queues. Events with the same node, reason and message are one Event
 * whose `count` grows, as kubelet's are; records of an Event already queued or being written are
 * counted by its next write, so a burst costs a few calls. Similar Events (same node, reason and
 * type, ten distinct messages within ten minutes) are combined into one (event_aggregator.ts).
 * At most `maxQueued` distinct Events wait; a new one past that is dropped and counted. `writers`
 * writes are under way at most, taken in the order the Events were queued (event_writer.ts writes
 * each). A failure is logged and counted, never thrown: reporting never undoes or blocks an action.
 */
export class EventRecorder {
  #metrics: Metrics;
  #writer: EventWriter;
  #aggregator = new EventAggregator();
  #namespace: string;
  #instance: string;
  #maxQueued: number;
  #writers: number;
  #flushMs: number;
  #now: Clock;
  /** Every Event queued or being written, by name. */
  #lines = new Map<string, Line>();
  /** Events waiting for a writer, first queued first. */
  #queue: Line[] = [];
  /** Events with records waiting (queued, or being written with records made since). */
  #waiting = 0;
  /** Writers under way. */
  #running = new Set<Promise<void>>();
  /** Drops not yet told in a warning, and when the last warning was. */
  #unlogged = 0;
  #loggedAt?: number;

  constructor(client: KubeClient, metrics: Metrics, options: EventRecorderOptions = {}) {
    this.#metrics = metrics;
    this.#namespace = options.namespace ?? "default";
    this.#instance = options.instance ?? "node-heal";
    this.#writer = new EventWriter(client, metrics.events, {
      namespace: this.#namespace,
      remembered: options.rememberedEvents ?? REMEMBERED_EVENTS,
    });
    this.#maxQueued = Math.max(0, options.maxQueued ?? MAX_QUEUED_EVENTS);
    this.#writers = Math.max(1, options.writers ?? EVENT_WRITERS);
    this.#flushMs = Math.max(0, options.flushMs ?? FLUSH_BOUND_MS);
    this.#now = options.now ?? systemClock;
  }

  /** How many Events are remembered now. */
  get remembered(): number {
    return this.#writer.remembered;
  }

  /** Distinct Events waiting for a write now. */
  get queued(): number {
    return this.#waiting;
  }

  /**
   * Queues one Event on Node `node` (or, with `kind` `Namespace`, on that Namespace), stamped
   * `at`, and returns at once; it is written behind. Never throws.
   */
  record(
    node: string,
    intent: EventIntent,
    options: { at: Date; kind?: "Node" | "Namespace" },
  ): void {
    // A throw here would be a bug: logged and counted as the background task's, never the caller's
    // (as Background.run would, without a closure and a promise per Event).
    try {
      this.#enqueue(node, intent, options);
    } catch (err) {
      this.#metrics.background.failed("events", err);
    }
  }

  /**
   * Waits for what is queued and being written (at shutdown), for `flushMs` at most; what still
   * waits then is dropped, counted and logged. Writes under way go on. Never rejects.
   */
  async flush(): Promise<void> {
    const end = performance.now() + this.#flushMs;
    while (this.#lines.size > 0 && performance.now() < end) {
      const next = Promise.race(this.#running);
      await deadline(next, end - performance.now(), () => new Error("late")).catch(() => {});
    }
    if (this.#waiting > 0) this.#abandon();
    this.#logDrops(this.#now().getTime());
  }

  #enqueue(
    node: string,
    intent: EventIntent,
    options: { at: Date; kind?: "Node" | "Namespace" },
  ): void {
    const started = performance.now();
    const kind = options.kind ?? "Node";
    // events.k8s.io holds a note to 1 KB; core Events should not be larger either.
    let message = clip(intent.message, EVENT_MESSAGE_LIMIT);
    const similar = `${kind}\u0000${node}\u0000${intent.reason}\u0000${intent.type}`;
    const combined = this.#aggregator.combine(similar, message, this.#now().getTime());
    if (combined) message = clip(AGGREGATE_PREFIX + message, EVENT_MESSAGE_LIMIT);
    const name = `${node}.nodeheal.${
      combined ? hash(intent.reason, `${intent.type}\u0000combined`) : hash(intent.reason, message)
    }`;
    const at = options.at.toISOString();
    let line = this.#lines.get(name);
    if (!line) {
      if (this.#waiting >= this.#maxQueued) return this.#drop(intent.reason, 1);
      line = { body: this.#body(name, node, kind, intent, message, at), combined };
      this.#lines.set(name, line);
      this.#queue.push(line);
    }
    this.#add(line, at, options.at.getTime(), started, message);
    this.#pump();
  }

  /** The Event as first written, with `message` (the intent's, clipped or combined). */
  #body(
    name: string,
    node: string,
    kind: string,
    intent: EventIntent,
    message: string,
    at: string,
  ): EventBody {
    return {
      metadata: { name, namespace: this.#namespace },
      // Node Events carry the node name as uid, as kubelet's do; `kubectl describe node` selects on it.
      // (Or, for node-heal's own news, its Namespace, cluster-scoped as Nodes are.)
      involvedObject: { apiVersion: "v1", kind, name: node, uid: node },
      reason: intent.reason,
      message,
      type: intent.type,
      source: { component: "node-heal", host: this.#instance },
      reportingComponent: "node-heal",
      reportingInstance: this.#instance,
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    };
  }

  /** Adds one record, stamped `at` (`atMs`), made at `started`, to the next write of `line`. */
  #add(line: Line, at: string, atMs: number, started: number, message: string): void {
    let next = line.next;
    if (!next) {
      next = {
        records: 1,
        firstTimestamp: at,
        lastTimestamp: at,
        firstMs: atMs,
        lastMs: atMs,
        times: [started],
      };
      if (line.combined) next.message = message;
      line.next = next;
      this.#waiting++;
      this.#metrics.events.queued.set(this.#waiting);
      return;
    }
    next.records++;
    if (next.times.length < TIMED_RECORDS) next.times.push(started);
    if (atMs < next.firstMs) {
      next.firstTimestamp = at;
      next.firstMs = atMs;
    }
    if (atMs > next.lastMs) {
      next.lastTimestamp = at;
      next.lastMs = atMs;
    }
    if (line.combined) next.message = message;
  }

  /** Starts writers while fewer than `writers` are under way and Events wait. */
  #pump(): void {
    while (this.#running.size < this.#writers && this.#queue.length > 0) {
      const run = this.#work();
      this.#running.add(run);
      // #work never rejects.
      void run.then(() => {
        this.#running.delete(run);
        this.#pump();
      });
    }
  }

  /**
   * One writer: writes the Events queued first, one after the other, until none waits (a writer
   * per Event would cost a few closures and promises each). A throw is logged and counted as a
   * background task's, and the writer goes on. Never rejects.
   */
  async #work(): Promise<void> {
    while (this.#queue.length > 0) {
      const line = this.#queue.shift()!;
      try {
        await this.#writeNext(line);
      } catch (err) {
        this.#metrics.background.failed("events", err);
      }
    }
  }

  /**
   * Writes the records waiting on `line`; then queues it again (at the back) if more came
   * meanwhile, or lets it go. Should the write throw (it never should), the line goes on the same
   * way, so that no record waits forever.
   */
  async #writeNext(line: Line): Promise<void> {
    const batch = line.next;
    line.next = undefined;
    if (batch) {
      this.#waiting--;
      this.#metrics.events.queued.set(this.#waiting);
    }
    try {
      if (batch) await this.#writer.write(line.body, batch);
    } finally {
      if (batch) this.#observe(batch);
      if (line.next) this.#queue.push(line);
      else this.#lines.delete(line.body.metadata.name);
    }
  }

  /** Observes the delay of each record of a batch written (done or failed). */
  #observe(batch: Batch): void {
    const now = performance.now();
    const { delay } = this.#metrics.events;
    for (const t of batch.times) delay.observe((now - t) / 1000);
    const last = batch.times.at(-1) ?? now;
    for (let i = batch.times.length; i < batch.records; i++) delay.observe((now - last) / 1000);
  }

  /** Counts `n` records of `reason` dropped, and warns at most once a {@link DROP_LOG_INTERVAL_MS}. */
  #drop(reason: string, n: number): void {
    this.#metrics.events.results.inc({ reason, result: "dropped" }, n);
    this.#unlogged += n;
    const now = this.#now().getTime();
    if (this.#loggedAt === undefined || now - this.#loggedAt >= DROP_LOG_INTERVAL_MS) {
      this.#logDrops(now);
    }
  }

  /** Warns of the drops not told yet, if any. */
  #logDrops(now: number): void {
    if (this.#unlogged === 0) return;
    log("report").warn(
      "Dropped {dropped} Events: {maxQueued} Events were waiting to be written, or shutdown came first",
      { dropped: this.#unlogged, maxQueued: this.#maxQueued },
    );
    this.#unlogged = 0;
    this.#loggedAt = now;
  }

  /** Drops every record still waiting (shutdown came first), counted and told once; writes under way go on. */
  #abandon(): void {
    let left = 0;
    for (const line of this.#lines.values()) {
      if (!line.next) continue;
      const reason = line.body.reason;
      this.#metrics.events.results.inc({ reason, result: "dropped" }, line.next.records);
      left += line.next.records;
      line.next = undefined;
    }
    log("report").warn("Shutdown came before {left} Events were written: dropped", { left });
    for (const line of this.#queue) this.#lines.delete(line.body.metadata.name);
    this.#queue.length = 0;
    this.#waiting = 0;
    this.#metrics.events.queued.set(0);
  }
}
