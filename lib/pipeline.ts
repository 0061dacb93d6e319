import { type KubeClient, KubeError } from "./act/kube_types.ts";
import { drainNode, type DrainReport } from "./act/drainer.ts";
import type { DrainOptions } from "./decide/drain_plan.ts";
import type { EventIntent } from "./decide/decide.ts";
import { ANNOTATIONS, readState } from "./decide/node_state.ts";
import {
  decide,
  type DecideOptions,
  type Decision,
  DEFAULT_HOLD_TTL_MS,
  reconcile,
} from "./decide/decide.ts";
import type { Alert, Notification } from "./intake/alertmanager.ts";
import { DEFAULT_POLICY, type Policy } from "./decide/policy.ts";
import { literal, log } from "./log.ts";
import { clip } from "./clip.ts";
import type { Node } from "./node.ts";
import type { EventRecorder } from "./report/events.ts";
import type { Metrics } from "./report/metrics.ts";
import { type NodeIndex, resolveAlert } from "./resolve/node_index.ts";
import { retry } from "./retry.ts";

/** What happened to one alert. */
export interface AlertResult {
  fingerprint: string;
  alertname: string;
  status: Alert["status"];
  node?: string;
  /**
   * An action taken (`cordon`, `uncordon`, ...), `skipped`, `unresolved` (no Node matched),
   * `rejected` (the API server refused the write for good) or `failed` (retry).
   */
  outcome: string;
  gate?: string;
  message: string;
}

/** What happened to one notification; `retry` is true when an alert failed and Alertmanager should send it again. */
export interface NotificationResult {
  retry: boolean;
  dryRun: boolean;
  truncatedAlerts: number;
  alerts: AlertResult[];
}

/** What a {@link Pipeline} works with. */
export interface PipelineDeps {
  client: KubeClient;
  index: NodeIndex;
  metrics: Metrics;
  events: EventRecorder;
  now?: () => Date;
  /** How long a hold lives without a firing notification (ms). */
  holdTtlMs?: number;
  policy?: Policy;
  /** Whether a pause is in force now (flag, policy file, or the cluster's pause annotation). */
  paused?: () => boolean;
  /** This replica's name, written in drain claims. */
  instance?: string;
  /** First wait between drain rounds while budgets block (ms); for tests. */
  drainRetryMs?: number;
}

/** One decision, as `/status` lists the last ones. */
export interface DecisionRecord {
  at: string;
  /** True when node-heal runs dry: the outcome was decided, not done. */
  dryRun?: boolean;
  node: string;
  alertname: string;
  fingerprint: string;
  status: string;
  outcome: string;
  gate?: string;
  message: string;
}

/** How many decisions `/status` keeps. */
const RECENT_DECISIONS = 100;

type Outcome = Pick<AlertResult, "outcome" | "gate" | "message"> & {
  /** The Event to record once the node's turn is over (it never holds up the next decision). */
  event?: { name: string; intent: EventIntent; at: Date };
};

/** How often a write that met a newer Node (409) is decided again from a fresh read. */
const MAX_CONFLICT_RETRIES = 5;

/** Runs tasks with the same key one after another, and tasks with different keys at once. */
class KeyedQueue {
  #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => {});
    this.#tails.set(key, tail);
    tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}

/** Waits before each retry of a call that failed for a passing reason: 50 ms, then 200 ms. */
const RETRY_DELAYS_MS = [50, 200];

/**
 * Retries a call that failed for a reason that passes (5xx, 429, a timeout, the network) a
 * couple of times with backoff, so that a blip costs milliseconds; past that it throws, and the
 * webhook answers 503 for Alertmanager to retry later.
 */
function transient<T>(call: () => Promise<T>): Promise<T> {
  return retry(call, { delaysMs: RETRY_DELAYS_MS });
}

/** Whether an API error will not go away by retrying (a 4xx other than 404, 408, 409, 429). */
function permanent(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 &&
    ![404, 408, 409, 429].includes(status);
}

/**
 * The pipeline from a parsed notification to actions on Nodes: resolve each alert to its
 * Node through the index, decide, write through the client, report. Alerts about different
 * Nodes run at once; alerts about one Node, and reconciliations of it, run in order.
 */
export class Pipeline {
  #deps: PipelineDeps;
  #now: () => Date;
  #queue = new KeyedQueue();
  #recent: DecisionRecord[] = [];
  /** Drains running in this process, by node: how to stop each and when it has stopped. */
  #drains = new Map<string, { stop: AbortController; done: Promise<void> }>();

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
  }

  /** The policy in force. */
  get policy(): Policy {
    return this.#deps.policy ?? DEFAULT_POLICY;
  }

  /** The last decisions, newest last. */
  recentDecisions(): DecisionRecord[] {
    return [...this.#recent];
  }

  /** What decide() and reconcile() see: the policy, the cluster as watched, the pause. */
  #options(): DecideOptions {
    return {
      holdTtlMs: this.#deps.holdTtlMs ?? DEFAULT_HOLD_TTL_MS,
      policy: this.policy,
      nodes: this.#deps.index.nodes(),
      paused: this.#deps.paused?.() ?? false,
      instance: this.#deps.instance ?? "node-heal",
      drainingHere: new Set(this.#drains.keys()),
    };
  }

  /** Handles every alert of a notification. Never throws: failures are in the result. */
  async handle(notification: Notification): Promise<NotificationResult> {
    const { metrics } = this.#deps;
    if (notification.truncatedAlerts > 0) {
      metrics.truncated.inc(notification.truncatedAlerts);
      log("intake").warn(
        "Alertmanager left out {truncated} alerts of group {groupKey} (max_alerts); acting on the {count} that arrived",
        {
          truncated: notification.truncatedAlerts,
          groupKey: notification.groupKey,
          count: notification.alerts.length,
        },
      );
    }
    // One fresh read per Node and notification at most, however many alerts it carries.
    const freshlyRead = new Set<string>();
    const alerts = await Promise.all(
      notification.alerts.map((a) => this.#handleAlert(a, freshlyRead)),
    );
    return {
      retry: alerts.some((a) => a.outcome === "failed"),
      dryRun: this.#deps.client.dryRun,
      truncatedAlerts: notification.truncatedAlerts,
      alerts,
    };
  }

  /**
   * Reconciles one Node outside any alert: drops node-heal's claim when someone uncordoned it,
   * and lets go of holds whose alerts were not seen for the hold TTL. Never throws.
   */
  async reconcile(name: string): Promise<void> {
    const result = await this.#queue.run(
      name,
      () =>
        this.#decideAndAct(name, (node, now) => reconcile(node, now, this.#options()), undefined),
    );
    if (result.outcome !== "skipped") {
      this.#deps.metrics.reconciles.inc({ outcome: result.outcome });
    }
    if (result.event) {
      await this.#deps.events.record(result.event.name, result.event.intent, result.event.at);
    }
  }

  async #handleAlert(alert: Alert, freshlyRead: Set<string>): Promise<AlertResult> {
    const { index, metrics } = this.#deps;
    const base = {
      fingerprint: alert.fingerprint,
      alertname: alert.labels.alertname ?? "",
      status: alert.status,
    };
    const resolution = resolveAlert(alert, index);
    if (!resolution.node) {
      const message = resolution.reason === "no-label"
        ? "The alert has no node, nodename, kubernetes_node or instance label"
        : `No single node matches ${resolution.label}="${resolution.key}" (${resolution.reason})`;
      metrics.alerts.inc({ outcome: "unresolved" });
      log("resolve").warn("Alert {alertname} ({fingerprint}) matches no node: {message}", {
        ...base,
        message,
      });
      this.#remember({ ...base, node: "", outcome: "unresolved", message });
      return { ...base, outcome: "unresolved", message };
    }
    const name = resolution.node.metadata.name;
    const work = () =>
      this.#decideAndAct(
        name,
        (node, now) => decide(alert, node, now, this.#options()),
        alert,
        freshlyRead,
      );
    // Each alert takes its place in its node's turn as it arrives (a resolution never overtakes
    // its firing); a firing alert, which may take a node out, then also waits for the one global
    // turn of take-outs, so that every gate counts the previous decision's cordon.
    const result = await this.#queue.run(
      name,
      () => alert.status === "firing" ? this.#queue.run("\u0000take-out", work) : work(),
    );
    metrics.alerts.inc({ outcome: result.outcome });
    const { event, ...outcome } = result;
    if (event) await this.#deps.events.record(event.name, event.intent, event.at);
    this.#remember({ ...base, node: name, ...outcome });
    return { ...base, node: name, ...outcome };
  }

  async #decideAndAct(
    name: string,
    choose: (node: Node, now: Date) => Decision | undefined,
    alert: Alert | undefined,
    freshlyRead?: Set<string>,
  ): Promise<Outcome> {
    const { client, index, metrics } = this.#deps;
    let node: Node | undefined = index.get(name);
    // Read afresh earlier in this notification: the index holds that read and our own writes.
    let fresh = freshlyRead?.has(name) ?? false;
    for (let attempt = 0; node && attempt <= MAX_CONFLICT_RETRIES; attempt++) {
      const now = this.#now();
      const decision = choose(node, now);
      if (!decision) return { outcome: "skipped", message: `Nothing to do on ${name}` };
      if (decision.kind === "skip") {
        // A resolved alert that changes nothing may be looking at a stale cache (another
        // replica's write not yet watched): confirm on a fresh read before letting it go.
        if (alert?.status === "resolved" && !fresh) {
          try {
            node = await this.#read(name);
          } catch (err) {
            return this.#failed("read", name, alert, err);
          }
          fresh = true;
          freshlyRead?.add(name);
          continue;
        }
        metrics.decisions.inc({ outcome: "skip", gate: decision.gate });
        this.#log(decision, alert);
        return {
          outcome: "skipped",
          gate: decision.gate,
          message: decision.message,
          event: decision.event ? { name, intent: decision.event, at: now } : undefined,
        };
      }
      try {
        if (decision.action === "uncordon") await this.#stopDrain(name);
        const updated = await transient(() => client.patchNode(name, decision.patch));
        // In a dry run the API server answers with the Node as it would be: later decisions
        // count it, so a dry run skips what a real run would skip.
        index.upsert(updated);
      } catch (err) {
        const status = err instanceof KubeError ? err.status : undefined;
        if (status === 409) {
          metrics.actions.inc({ action: decision.action, result: "conflict" });
          // Someone (another replica, a person) changed the Node: decide again on a fresh read.
          try {
            node = await this.#read(name);
          } catch (readErr) {
            return this.#failed(decision.action, name, alert, readErr);
          }
          fresh = true;
          continue;
        }
        if (status === 404) {
          node = undefined;
          break;
        }
        if (permanent(status)) {
          this.#failed(decision.action, name, alert, err);
          return { outcome: "rejected", message: (err as Error).message };
        }
        return this.#failed(decision.action, name, alert, err);
      }
      metrics.decisions.inc({ outcome: "act", gate: "" });
      metrics.actions.inc({
        action: decision.action,
        result: client.dryRun ? "dry_run" : "success",
      });
      this.#log(decision, alert);
      const event = decision.event && client.dryRun
        ? { ...decision.event, message: `Dry run, not done: ${decision.event.message}` }
        : decision.event;
      if (decision.action === "drain" && decision.drain && !client.dryRun) {
        this.#startDrain(name, decision.drain);
      } else if (
        (decision.action === "cordon" || decision.action === "hold") && !client.dryRun &&
        decision.patch.metadata.annotations?.[ANNOTATIONS.target] === "drain"
      ) {
        // The drain starts at drain-at (right after the cordon when drainAfter is 0), outside
        // this alert's turn; the reconcile then checks the alert still holds the node.
        const at = Date.parse(decision.patch.metadata.annotations?.[ANNOTATIONS.drainAt] ?? "");
        this.#later(name, Number.isNaN(at) ? 0 : at - Date.now());
      }
      return {
        outcome: decision.action,
        message: decision.message,
        event: event ? { name, intent: event, at: now } : undefined,
      };
    }
    if (!node) {
      return { outcome: "unresolved", message: `Node ${name} no longer exists` };
    }
    return {
      outcome: "failed",
      message: `Node ${name} kept changing under node-heal: ${MAX_CONFLICT_RETRIES + 1} conflicts`,
    };
  }

  #timers = new Set<ReturnType<typeof setTimeout>>();

  /** Reconciles a node after `ms`. */
  #later(name: string, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.reconcile(name);
    }, Math.max(0, ms));
    this.#timers.add(t);
  }

  /** Stops every drain running here and waits for them (at shutdown); their claims stay for a restart to resume. */
  async stopDrains(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all([...this.#drains.keys()].map((n) => this.#stopDrain(n)));
  }

  async #stopDrain(name: string): Promise<void> {
    const running = this.#drains.get(name);
    if (!running) return;
    running.stop.abort();
    await running.done;
  }

  /** Runs a drain in the background; its end is written to the Node in the node's turn. */
  #startDrain(name: string, options: DrainOptions): void {
    if (this.#drains.has(name)) return;
    const { client, metrics } = this.#deps;
    const stop = new AbortController();
    const annotations = this.#deps.index.get(name)?.metadata.annotations ?? {};
    // A resumed drain counts what earlier runs evicted, and its time from the first start.
    const evictedBefore = Number(annotations[ANNOTATIONS.drainEvicted] ?? 0) || 0;
    const startedAt = Date.parse(annotations[ANNOTATIONS.drainStartedAt] ?? "");
    const started = Number.isNaN(startedAt) ? this.#now().getTime() : startedAt;
    let lastBeat = 0;
    let recorded = evictedBefore;
    const drained = (async (): Promise<DrainReport> => {
      let report: DrainReport;
      try {
        report = await drainNode(client, name, {
          options,
          signal: stop.signal,
          retryMs: this.#deps.drainRetryMs,
          evictedBefore,
          evicted: (result) => metrics.evictions.inc({ result }),
          progress: async (left, evicted) => {
            // Progress and a heartbeat on the Node, a few times a minute at most, and whenever
            // more pods were evicted, so that a resumed drain counts them.
            const now = this.#now().getTime();
            if (now - lastBeat < 5000 && left > 0 && evicted === recorded) return;
            lastBeat = now;
            recorded = evicted;
            await client.patchNode(name, {
              metadata: {
                annotations: {
                  [ANNOTATIONS.podsLeft]: String(left),
                  [ANNOTATIONS.drainEvicted]: String(evicted),
                  [ANNOTATIONS.drainHeartbeat]: new Date(now).toISOString(),
                },
              },
            }).catch(() => {});
          },
        });
      } catch (err) {
        report = {
          outcome: "failed",
          evicted: [],
          evictedBefore,
          skipped: [],
          blocking: [],
          message: `Cannot drain ${name}: ${(err as Error).message}; it stays cordoned`,
        };
      }
      metrics.drainSeconds.observe(
        { outcome: report.outcome },
        Math.max(0, this.#now().getTime() - started) / 1000,
      );
      if (report.outcome !== "stopped") {
        metrics.drainEvictedPods.observe(
          { outcome: report.outcome },
          report.evictedBefore + report.evicted.length,
        );
      }
      return report;
    })();
    const done = drained.then(() => {}).finally(() => this.#drains.delete(name));
    // The end is written in the node's turn, not awaited by `done`: an uncordon that stops the
    // drain waits for `done` inside that turn.
    drained.then((report) => {
      if (report.outcome !== "stopped") {
        this.#queue.run(name, () => this.#finishDrain(name, report));
      }
    });
    this.#drains.set(name, { stop, done });
  }

  async #finishDrain(name: string, report: DrainReport): Promise<void> {
    const drained = report.outcome === "drained";
    const at = new Date();
    const current = this.#deps.index.get(name);
    if (!current || readState(current).step !== "draining") return;
    try {
      const updated = await this.#deps.client.patchNode(name, {
        metadata: {
          annotations: {
            [ANNOTATIONS.step]: drained ? "drained" : "drain-failed",
            [ANNOTATIONS.drainer]: null,
            [ANNOTATIONS.drainHeartbeat]: null,
            [ANNOTATIONS.podsLeft]: String(report.blocking.length),
            [ANNOTATIONS.drainEvicted]: String(report.evictedBefore + report.evicted.length),
          },
        },
      });
      this.#deps.index.upsert(updated);
    } catch (err) {
      log("act").error("Cannot record the end of the drain of {node}: {error}", {
        node: name,
        error: (err as Error).message,
      });
    }
    const reason = drained ? "NodeHealDrained" : "NodeHealDrainFailed";
    const props = { node: name, outcome: report.outcome, blocking: report.blocking };
    if (drained) log("act").info(literal(report.message), props);
    else log("act").warn(literal(report.message), props);
    this.#remember({
      node: name,
      alertname: "",
      fingerprint: "",
      status: "drain",
      outcome: drained ? "drained" : `drain-${report.outcome}`,
      message: report.message,
    });
    await this.#deps.events.record(name, {
      reason,
      type: drained ? "Normal" : "Warning",
      message: report.message,
    }, at);
  }

  #remember(record: Omit<DecisionRecord, "at">): void {
    this.#recent.push({
      at: this.#now().toISOString(),
      ...(this.#deps.client.dryRun ? { dryRun: true } : {}),
      ...record,
      // `/status` stays small whatever the alerts carried.
      alertname: clip(record.alertname, 253),
      message: clip(record.message, 1024),
    });
    if (this.#recent.length > RECENT_DECISIONS) this.#recent.shift();
  }

  #failed(action: string, name: string, alert: Alert | undefined, err: unknown): {
    outcome: "failed";
    message: string;
  } {
    this.#deps.metrics.actions.inc({ action, result: "failure" });
    log("act").error("Cannot {action} node {node} for alert {alertname}: {error}", {
      action,
      node: name,
      alertname: alert?.labels.alertname ?? "(reconcile)",
      error: (err as Error).message,
    });
    return { outcome: "failed", message: (err as Error).message };
  }

  async #read(name: string): Promise<Node | undefined> {
    const node = await transient(() => this.#deps.client.getNode(name));
    if (node) this.#deps.index.upsert(node);
    else this.#deps.index.remove(name);
    return node;
  }

  #log(decision: Decision, alert: Alert | undefined): void {
    const dryRun = this.#deps.client.dryRun;
    const props = {
      node: decision.node,
      alertname: alert?.labels.alertname,
      fingerprint: alert?.fingerprint,
      status: alert?.status,
      dryRun,
    };
    if (decision.kind === "skip") {
      log("decide").info(literal(decision.message), { ...props, gate: decision.gate });
    } else {
      const message = dryRun ? `Dry run, not done: ${decision.message}` : decision.message;
      log("act").info(literal(message), { ...props, action: decision.action });
    }
  }
}
