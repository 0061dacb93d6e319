import type { EventBody, KubeClient } from "../act/kube_types.ts";
import type { EventIntent } from "../decide/decide.ts";
import type { Metrics } from "./metrics.ts";
import { log } from "../log.ts";
import { clip } from "../clip.ts";
import { fnv1a32 } from "../fnv.ts";
import { passing, retry, statusOf } from "../retry.ts";
import { deadline } from "../timing.ts";

/** Options of an {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** Namespace of Node Events; kubelet and `kubectl describe node` use `default`. */
  namespace?: string;
  /** `reportingInstance` and `source.host`: which replica wrote the Event. */
  instance?: string;
}

/** The longest Event message node-heal writes, in characters. */
export const EVENT_MESSAGE_LIMIT = 1024;

/** Tries to write one Event: once, then after 0.1 s and 0.4 s. */
const EVENT_RETRY_DELAYS_MS = [100, 400];

/** FNV-1a, 32 bits, as 8 hex digits: a short stable name suffix. */
function hash(text: string): string {
  return fnv1a32(text).toString(16).padStart(8, "0");
}

/**
 * Records Events on Nodes, so `kubectl describe node` tells the story. Events with the same
 * node, reason and message are one Event whose `count` grows, as kubelet's are. A failure is
 * logged and counted, never thrown: reporting never undoes or blocks an action.
 */
export class EventRecorder {
  #client: KubeClient;
  #metrics: Metrics;
  #namespace: string;
  #instance: string;
  #pending = new Set<Promise<void>>();

  constructor(client: KubeClient, metrics: Metrics, options: EventRecorderOptions = {}) {
    this.#client = client;
    this.#metrics = metrics;
    this.#namespace = options.namespace ?? "default";
    this.#instance = options.instance ?? "node-heal";
  }

  /**
   * Records one Event on Node `node`, stamped `at`. Resolves when it is written or after
   * `waitMs` (default 2 s), whichever comes first; slower writes and their retries go on in the background.
   */
  async record(
    node: string,
    intent: EventIntent,
    options: { at: Date; waitMs?: number },
  ): Promise<void> {
    const write = this.#write(node, intent, options.at);
    this.#pending.add(write);
    write.finally(() => this.#pending.delete(write));
    // A write past the wait goes on in the background (its failures are its own to report).
    await deadline(write, options.waitMs ?? 2000, () => new Error("slow")).catch(() => {});
  }

  /** Waits for every Event still being written (at shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  async #write(node: string, intent: EventIntent, now: Date): Promise<void> {
    // events.k8s.io holds a note to 1 KB; core Events should not be larger either.
    intent = { ...intent, message: clip(intent.message, EVENT_MESSAGE_LIMIT) };
    const name = `${node}.nodeheal.${hash(`${intent.reason}\u0000${intent.message}`)}`;
    const at = now.toISOString();
    const body: EventBody = {
      metadata: { name, namespace: this.#namespace },
      // Node Events carry the node name as uid, as kubelet's do; `kubectl describe node` selects on it.
      involvedObject: { apiVersion: "v1", kind: "Node", name: node, uid: node },
      reason: intent.reason,
      message: intent.message,
      type: intent.type,
      source: { component: "node-heal", host: this.#instance },
      reportingComponent: "node-heal",
      reportingInstance: this.#instance,
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    };
    const dry = this.#client.dryRun;
    // A few quick tries, then give up: the action is done, and the Event must not hold it up.
    try {
      await retry(async () => {
        if (await this.#client.createEvent(body)) {
          this.#metrics.events.inc({ reason: intent.reason, result: dry ? "dry_run" : "created" });
        } else {
          await this.#client.bumpEvent(this.#namespace, name, at);
          this.#metrics.events.inc({ reason: intent.reason, result: dry ? "dry_run" : "counted" });
        }
      }, {
        delaysMs: EVENT_RETRY_DELAYS_MS,
        // A conflict is another writer counting the same Event: read it again and count.
        retryable: (err) => passing(statusOf(err)) || statusOf(err) === 409,
      });
    } catch (err) {
      this.#metrics.events.inc({ reason: intent.reason, result: "failure" });
      log("report").warn("Cannot record Event {reason} on node {node}: {error}", {
        reason: intent.reason,
        node,
        error: (err as Error).message,
      });
    }
  }
}
