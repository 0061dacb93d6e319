// The pipeline's drain stage: the drain supervisor (act/), wired to the rest. A drain goes on
// only while this replica leads and the policy in force allows it on its Node (decide/halts.ts),
// asked before every eviction; its end, or its halt, is written on the Node in its turn and
// reported, and the Nodes waiting for the drain gates are looked at again.
import { DrainSupervisor } from "../act/drain_supervisor.ts";
import type { DrainReport } from "../act/drainer.ts";
import { NOT_LEADING } from "../act/fence.ts";
import type { KubeClient } from "../act/kube/types.ts";
import type { Applied, NodeWriter } from "../act/node_writer.ts";
import type { Clock } from "../base/clock.ts";
import type { Decision } from "../decide/decision.ts";
import { type DrainEnd, endDrain, haltDrain } from "../decide/drain_step.ts";
import { type Halt, quietHalt, runningDrainHalt } from "../decide/halts.ts";
import { readState } from "../decide/node_state.ts";
import type { Policy } from "../decide/policy.ts";
import type { BreakerView } from "../decide/breaker.ts";
import type { Node } from "../base/node.ts";
import type { Metrics } from "../report/metrics.ts";
import type { Reporter } from "../report/reporter.ts";
import type { NodeIndex } from "../resolve/node_index.ts";

/** What the {@link DrainStage} works with. */
export interface DrainStageDeps {
  client: KubeClient;
  index: NodeIndex;
  metrics: Metrics;
  now: Clock;
  writer: NodeWriter;
  /** This replica's name: the drainer its claims name. */
  instance: string;
  /** First wait between drain rounds while budgets block (ms); for tests. */
  retryMs?: number;
  /** The policy in force (it may be reloaded while a drain runs). */
  policy: () => Policy;
  paused: () => boolean;
  /** Whether this replica may act (it leads). */
  mayAct: () => boolean;
  reporter: Reporter;
  /** Writes what `choose` decides on Node `name`, in its turn. */
  write: (
    name: string,
    choose: (node: Node, now: Date) => Decision | undefined,
  ) => Promise<Applied>;
  /** Looks at Node `name` again (its drain is due). */
  due: (name: string) => Promise<void>;
  /** Looks again at the Nodes waiting for a gate to let their next step start. */
  wakeWaiting: () => void;
  /** The correlated-failure breakers in force. */
  breakers: () => BreakerView;
}

/** See the module comment. */
export class DrainStage {
  readonly supervisor: DrainSupervisor;
  #deps: DrainStageDeps;

  constructor(deps: DrainStageDeps) {
    this.#deps = deps;
    this.supervisor = new DrainSupervisor({
      client: deps.client,
      index: deps.index,
      metrics: deps.metrics,
      now: deps.now,
      writer: deps.writer,
      instance: deps.instance,
      retryMs: deps.retryMs,
      halt: (name) => this.#halt(name),
      ended: (name, report) => this.#ended(name, report),
      due: deps.due,
    });
  }

  /**
   * Why the drain of Node `name`, running here, may not go on now: this replica no longer leads,
   * the Node is no longer its to drain, or the policy in force says no.
   */
  #halt(name: string): Halt | undefined {
    if (!this.#deps.mayAct()) return { gate: "notLeading", message: NOT_LEADING };
    return runningDrainHalt(this.#deps.index.get(name), {
      policy: this.#deps.policy(),
      paused: this.#deps.paused(),
      breakers: this.#deps.breakers(),
      now: this.#deps.now(),
      instance: this.#deps.instance,
    });
  }

  /** Writes the end (or the halt) of a drain not stopped, in the Node's turn, then reports it. */
  async #ended(name: string, report: DrainReport): Promise<void> {
    const { halt } = report;
    if (report.outcome === "halted" && halt && !quietHalt(halt)) {
      const applied = await this.#deps.write(
        name,
        (node, now) =>
          readState(node).step === "draining" ? haltDrain(node, halt, { now }) : undefined,
      );
      this.#deps.reporter.applied(name, applied);
    } else {
      const end = {
        outcome: report.outcome as DrainEnd["outcome"],
        blocking: report.blocking.length,
        evicted: report.evictedBefore + report.evicted.length,
        message: report.message,
      };
      const applied = await this.#deps.write(
        name,
        (node, now) => endDrain(node, end, { now, policy: this.#deps.policy() }),
      );
      this.#deps.reporter.drainEnded(name, report, applied);
    }
    // A drain or a replacement may have waited for this one (maxConcurrent).
    this.#deps.wakeWaiting();
  }
}
