import {
  type EventBody,
  type EventVersion,
  type KubeClient,
  KubeError,
} from "../act/kube/types.ts";
import type { EventIntent } from "../decide/decide.ts";
import type { Metrics } from "./metrics.ts";
import { errorText } from "../base/background.ts";
import { log } from "../base/log.ts";
import { clip } from "../base/clip.ts";
import { fnv1a32 } from "../base/fnv.ts";
import { passing, retry, statusOf } from "../base/retry.ts";
import { deadline } from "../base/timing.ts";

/** Options of an {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** Namespace of Node Events; kubelet and `kubectl describe node` use `default`. */
  namespace?: string;
  /** `reportingInstance` and `source.host`: which replica wrote the Event. */
  instance?: string;
  /** Events remembered at most (default {@link REMEMBERED_EVENTS}). */
  rememberedEvents?: number;
}

/** The longest Event message node-heal writes, in characters. */
export const EVENT_MESSAGE_LIMIT = 1024;

/**
 * Events whose count and resourceVersion node-heal remembers, the least recently written dropped
 * first: a repeat of a remembered Event is one PATCH. An entry is the name and a few short
 * strings: 4,096 of them took 0.7 MB of heap with 20-character node names, 1.6 MB with 253.
 */
export const REMEMBERED_EVENTS = 4096;

/** Tries to write one Event: once, then after 0.1 s and 0.4 s. */
const EVENT_RETRY_DELAYS_MS = [100, 400];

/** API calls in one try of a write before it waits and tries again (a create, read, patch, read, patch). */
const CALLS_PER_TRY = 5;

/** FNV-1a, 32 bits, as 8 hex digits: a short stable name suffix. */
function hash(text: string): string {
  return fnv1a32(text).toString(16).padStart(8, "0");
}

/** The later of two timestamps (ISO 8601), the first when either cannot be read. */
function later(a: string, b: string | undefined): string {
  return b !== undefined && Date.parse(b) > Date.parse(a) ? b : a;
}

/** Records of one Event that one write counts. */
interface Batch {
  records: number;
  firstTimestamp: string;
  lastTimestamp: string;
  done: PromiseWithResolvers<void>;
}

/** The writes of one Event name: one at a time, and the records waiting for the next. */
interface Line {
  body: EventBody;
  next?: Batch;
}

/**
 * Records Events on Nodes, so `kubectl describe node` tells the story. Events with the same
 * node, reason and message are one Event whose `count` grows, as kubelet's are. A failure is
 * logged and counted, never thrown: reporting never undoes or blocks an action.
 *
 * It remembers the count and resourceVersion of the Events it wrote (the last
 * {@link REMEMBERED_EVENTS}), so counting a repeat is one merge patch carrying that version. Only
 * when that fails does it fall back: on 409 (another writer counted it) it reads the Event and
 * patches again; on 404 (it expired) it creates it again. An Event it does not remember is
 * created, and read and patched if it exists. Writes of one Event are made one at a time; records
 * made while one is under way are counted together by the next, so a burst costs a few calls.
 */
export class EventRecorder {
  #client: KubeClient;
  #metrics: Metrics;
  #namespace: string;
  #instance: string;
  #limit: number;
  #pending = new Set<Promise<void>>();
  /** Writes under way, by Event name. */
  #lines = new Map<string, Line>();
  /** What each Event written last held, least recently written first. */
  #remembered = new Map<string, EventVersion>();

  constructor(client: KubeClient, metrics: Metrics, options: EventRecorderOptions = {}) {
    this.#client = client;
    this.#metrics = metrics;
    this.#namespace = options.namespace ?? "default";
    this.#instance = options.instance ?? "node-heal";
    this.#limit = Math.max(0, options.rememberedEvents ?? REMEMBERED_EVENTS);
  }

  /** How many Events are remembered now. */
  get remembered(): number {
    return this.#remembered.size;
  }

  /**
   * Records one Event on Node `node`, stamped `at`. Resolves when it is written or after
   * `waitMs` (default 2 s), whichever comes first; slower writes and their retries go on in the background.
   */
  async record(
    node: string,
    intent: EventIntent,
    options: { at: Date; waitMs?: number; kind?: "Node" | "Namespace" },
  ): Promise<void> {
    const written = this.#enqueue(node, intent, options.at, options.kind ?? "Node");
    // A write past the wait goes on in the background (its failures are its own to report).
    await deadline(written, options.waitMs ?? 2000, () => new Error("slow")).catch(() => {});
  }

  /** Waits for every Event still being written (at shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  /** Adds one record to the next write of its Event; resolves when that write is done. */
  #enqueue(
    node: string,
    intent: EventIntent,
    now: Date,
    kind: "Node" | "Namespace",
  ): Promise<void> {
    // events.k8s.io holds a note to 1 KB; core Events should not be larger either.
    intent = { ...intent, message: clip(intent.message, EVENT_MESSAGE_LIMIT) };
    const name = `${node}.nodeheal.${hash(`${intent.reason}\u0000${intent.message}`)}`;
    const at = now.toISOString();
    const running = this.#lines.get(name);
    if (running) {
      // A write of this Event is under way: the next one counts this record too.
      const next = running.next ??= {
        records: 0,
        firstTimestamp: at,
        lastTimestamp: at,
        done: Promise.withResolvers(),
      };
      next.records++;
      if (Date.parse(at) < Date.parse(next.firstTimestamp)) next.firstTimestamp = at;
      next.lastTimestamp = later(next.lastTimestamp, at);
      return next.done.promise;
    }
    const batch: Batch = {
      records: 1,
      firstTimestamp: at,
      lastTimestamp: at,
      done: Promise.withResolvers(),
    };
    const line: Line = {
      body: {
        metadata: { name, namespace: this.#namespace },
        // Node Events carry the node name as uid, as kubelet's do; `kubectl describe node` selects on it.
        // (Or, for node-heal's own news, its Namespace, cluster-scoped as Nodes are.)
        involvedObject: { apiVersion: "v1", kind, name: node, uid: node },
        reason: intent.reason,
        message: intent.message,
        type: intent.type,
        source: { component: "node-heal", host: this.#instance },
        reportingComponent: "node-heal",
        reportingInstance: this.#instance,
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      },
      next: batch,
    };
    this.#lines.set(name, line);
    const run = this.#metrics.background.settled("events", () => this.#run(name, line));
    this.#pending.add(run);
    // Settled: it never rejects.
    void run.then(() => this.#pending.delete(run));
    return batch.done.promise;
  }

  /**
   * Writes the batches of one Event one after another until none is waiting. Should a write
   * throw (it never should), its records and those waiting are let go, and so is the Event's
   * line, so that the next record of it is written afresh rather than queued forever.
   */
  async #run(name: string, line: Line): Promise<void> {
    try {
      while (line.next) {
        const batch = line.next;
        line.next = undefined;
        try {
          await this.#write(line.body, batch);
        } finally {
          batch.done.resolve();
        }
      }
    } finally {
      line.next?.done.resolve();
      this.#lines.delete(name);
    }
  }

  /** Remembers what an Event holds now, dropping the least recently written beyond the limit. */
  #remember(name: string, version: EventVersion): void {
    this.#remembered.delete(name);
    this.#remembered.set(name, version);
    while (this.#remembered.size > this.#limit) {
      this.#remembered.delete(this.#remembered.keys().next().value!);
    }
  }

  /** Writes one batch: counts it on the Event, creating the Event if need be. Never throws. */
  async #write(body: EventBody, batch: Batch): Promise<void> {
    const { name } = body.metadata;
    const namespace = this.#namespace;
    const n = batch.records;
    const dry = this.#client.dryRun;
    // What is stored, as far as this replica knows. A dry run stores nothing, so knows nothing.
    let known = dry ? undefined : this.#remembered.get(name);
    let exists = known !== undefined;
    // A few quick tries, then give up: the action is done, and the Event must not hold it up.
    try {
      const written = await retry(async () => {
        for (let call = 0; call < CALLS_PER_TRY; call++) {
          if (known) {
            try {
              const version = await this.#client.patchEventCount(namespace, name, {
                count: known.count + n,
                lastTimestamp: later(batch.lastTimestamp, known.lastTimestamp),
                resourceVersion: known.resourceVersion,
              });
              return { created: false, version };
            } catch (err) {
              const status = statusOf(err);
              if (status !== 409 && status !== 404) throw err;
              // 409: another writer counted it meanwhile, read it again; 404: it expired, create it.
              known = undefined;
              exists = status === 409;
            }
          } else if (exists) {
            known = await this.#client.readEvent(namespace, name);
            exists = known !== undefined;
          } else {
            const version = await this.#client.createEvent({
              ...body,
              firstTimestamp: batch.firstTimestamp,
              lastTimestamp: batch.lastTimestamp,
              count: n,
            });
            if (version) return { created: true, version };
            exists = true;
          }
        }
        throw new KubeError(`Cannot record event "${name}": it keeps changing`, 409);
      }, {
        delaysMs: EVENT_RETRY_DELAYS_MS,
        // A conflict is other writers counting the same Event: try again after a pause.
        retryable: (err) => passing(statusOf(err)) || statusOf(err) === 409,
      });
      const reason = body.reason;
      if (dry) {
        this.#metrics.events.inc({ reason, result: "dry_run" }, n);
        return;
      }
      this.#remember(name, written.version);
      if (written.created) this.#metrics.events.inc({ reason, result: "created" });
      const counted = written.created ? n - 1 : n;
      if (counted > 0) this.#metrics.events.inc({ reason, result: "counted" }, counted);
    } catch (err) {
      // What is stored is not known now: the next write finds out.
      this.#remembered.delete(name);
      this.#metrics.events.inc({ reason: body.reason, result: "failure" }, n);
      log("report").warn("Cannot record Event {reason} on node {node}: {error}", {
        reason: body.reason,
        node: body.involvedObject.name,
        error: errorText(err),
      });
    }
  }
}
