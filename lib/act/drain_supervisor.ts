import { errorText } from "../base/background.ts";
import type { KubeClient } from "./kube/types.ts";
import { drainNode, type DrainReport } from "./drainer.ts";
import type { NodeWriter } from "./node_writer.ts";
import type { Clock } from "../base/clock.ts";
import type { DrainOptions } from "../decide/drain_plan.ts";
import { drainProgress } from "../decide/drain_step.ts";
import { ANNOTATIONS } from "../decide/node_state.ts";
import type { Halt } from "../decide/halts.ts";
import type { ActMetrics } from "./act_metrics.ts";
import type { NodeIndex } from "../resolve/node_index.ts";

/** What a {@link DrainSupervisor} works with. */
export interface DrainSupervisorDeps {
  client: KubeClient;
  writer: NodeWriter;
  index: NodeIndex;
  metrics: ActMetrics;
  now: Clock;
  /** This replica's name: the drainer its claims name. */
  instance: string;
  /** First wait between drain rounds while budgets block (ms); for tests. */
  retryMs?: number;
  /**
   * Why the drain of Node `name` may not go on now (asked before each round and each eviction:
   * see decide/halts.ts), or undefined when it may.
   */
  halt: (name: string) => Halt | undefined;
  /**
   * Told when a drain ends other than by being stopped (drained, refused, failed, or halted by
   * the policy in force), to record its end in the Node's turn.
   */
  ended: (name: string, report: DrainReport) => Promise<void>;
  /** Told when a Node is due for another look (its drain is due). */
  due: (name: string) => Promise<void>;
}

/**
 * The drains this process runs, in the background: one per Node at most, each recording its
 * progress and heartbeat on its Node through the node writer, each stoppable (an uncordon, the
 * process stopping). A stopped drain's claim stays on the Node for a restart to resume.
 */
export class DrainSupervisor {
  #deps: DrainSupervisorDeps;
  #drains = new Map<string, { stop: AbortController; done: Promise<void> }>();
  #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(deps: DrainSupervisorDeps) {
    this.#deps = deps;
  }

  /** Nodes this process is draining now. */
  running(): ReadonlySet<string> {
    return new Set(this.#drains.keys());
  }

  /** Looks at Node `name` again at `at` (when its drain is due). */
  wakeAt(name: string, at: Date): void {
    const t = setTimeout(
      this.#deps.metrics.background.guard("reconcile", () => {
        this.#timers.delete(t);
        return this.#deps.due(name);
      }),
      Math.max(0, at.getTime() - this.#deps.now().getTime()),
    );
    this.#timers.add(t);
  }

  /** Stops the drain of Node `name`, if one runs here, and waits until it has stopped. */
  async stop(name: string): Promise<void> {
    const running = this.#drains.get(name);
    if (!running) return;
    running.stop.abort();
    await running.done;
  }

  /** Stops every drain running here and waits for them (at shutdown). */
  async stopAll(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all([...this.#drains.keys()].map((n) => this.stop(n)));
  }

  /** Starts draining Node `name` in the background, unless it already drains here. */
  start(name: string, options: DrainOptions): void {
    if (this.#drains.has(name)) return;
    const stop = new AbortController();
    const { background } = this.#deps.metrics;
    const drained = this.#run(name, options, stop.signal);
    // A drain that throws (it never should) is logged and counted here, once; it ends, and its
    // claim stays on the Node for a later look to resume.
    const done = background.settled("drain", async () => {
      try {
        await drained;
      } finally {
        this.#drains.delete(name);
      }
    });
    // The end is handed on, not awaited by `done`: an uncordon that stops the drain waits for
    // `done` inside the Node's turn, in which the end is written.
    background.run("drain-end", async () => {
      const report = await drained.catch(() => undefined);
      if (report && report.outcome !== "stopped") await this.#deps.ended(name, report);
    });
    this.#drains.set(name, { stop, done });
  }

  async #run(name: string, options: DrainOptions, signal: AbortSignal): Promise<DrainReport> {
    const { client, writer, metrics, now, instance } = this.#deps;
    const annotations = this.#deps.index.get(name)?.metadata.annotations ?? {};
    // A resumed drain counts what earlier runs evicted, and its time from the first start.
    const evictedBefore = Number(annotations[ANNOTATIONS.drainEvicted] ?? 0) || 0;
    const startedAt = Date.parse(annotations[ANNOTATIONS.drainStartedAt] ?? "");
    const started = Number.isNaN(startedAt) ? now().getTime() : startedAt;
    let report: DrainReport;
    try {
      report = await drainNode(client, name, {
        options,
        signal,
        halt: () => this.#deps.halt(name),
        now,
        retryMs: this.#deps.retryMs,
        evictedBefore,
        evicted: (result) => metrics.evictions.inc({ result }),
        progress: async (left, evicted) => {
          await writer.apply(
            name,
            (node, at) => drainProgress(node, { left, evicted }, { now: at, instance }),
          );
        },
      });
    } catch (err) {
      report = {
        outcome: "failed",
        evicted: [],
        evictedBefore,
        skipped: [],
        blocking: [],
        message: `Cannot drain ${name}: ${errorText(err)}; it stays cordoned`,
      };
    }
    metrics.drainSeconds.observe(
      { outcome: report.outcome },
      Math.max(0, now().getTime() - started) / 1000,
    );
    if (report.outcome !== "stopped" && report.outcome !== "halted") {
      metrics.drainEvictedPods.observe(
        { outcome: report.outcome },
        report.evictedBefore + report.evicted.length,
      );
    }
    return report;
  }
}
