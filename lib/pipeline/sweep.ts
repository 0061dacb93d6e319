// The Nodes node-heal holds, looked at outside any alert: one is reconciled when its drain or
// replacement is due, or when someone changed it (node-heal's claim dropped once someone
// uncordoned it, holds whose alerts were not seen for the hold TTL let go); and every held Node
// whose next step is due is looked at again once a gate may let it start.
import type { Clock } from "../base/clock.ts";
import { type DecideOptions, reconcile } from "../decide/decide.ts";
import { drainDue } from "../decide/drain_step.ts";
import { readState } from "../decide/node_state.ts";
import { replaceDue } from "../decide/replace_step.ts";
import type { Replacer } from "../act/replace/replacer.ts";
import type { Metrics } from "../report/metrics.ts";
import type { Reporter } from "../report/reporter.ts";
import type { NodeIndex } from "../resolve/node_index.ts";
import type { NodeActs } from "./node_acts.ts";

/** What the {@link Sweep} works with. */
export interface SweepDeps {
  index: NodeIndex;
  metrics: Metrics;
  now: Clock;
  reporter: Reporter;
  acts: NodeActs;
  replacer: Replacer;
  /** What reconcile() sees at `now`. */
  options: (now: Date) => DecideOptions;
  /** Whether this replica may act (it leads). */
  mayAct: () => boolean;
}

/** See the module comment. */
export class Sweep {
  #deps: SweepDeps;

  constructor(deps: SweepDeps) {
    this.#deps = deps;
  }

  /**
   * Reconciles one Node outside any alert: drops node-heal's claim when someone uncordoned it,
   * starts or resumes its drain when due, and lets go of holds whose alerts were not seen for the
   * hold TTL. A failure of the API is reported, not thrown; it rejects only on a bug (a value
   * nobody foresaw), so whoever starts it in the background starts it through a Background.
   */
  async reconcile(name: string): Promise<void> {
    const { acts, replacer, reporter, metrics } = this.#deps;
    if (!this.#deps.mayAct()) return;
    // Decided in the take-out turn, as a cordon is: a replacement started here is counted by
    // every replacement decided after it, while its record and write are under way.
    const applied = await acts.write(
      name,
      (node, now) => reconcile(node, this.#deps.options(now)),
      acts.inTakeOut((d) => d.action === "replace" ? replacer.reserve(name) : undefined),
    );
    const { outcome } = reporter.applied(name, applied);
    if (outcome !== "skipped") metrics.reconciles.inc({ outcome });
  }

  /**
   * Looks again at every Node whose drain or replacement is due: a gate may let it start now.
   * Each in the background, on its own: one that throws fails alone, logged and counted.
   */
  wakeWaiting(): void {
    const now = this.#deps.now();
    for (const node of this.#deps.index.nodes()) {
      this.#deps.metrics.background.run("reconcile", () => {
        const state = readState(node);
        if (state.owned && (drainDue(state, now) || replaceDue(state, now))) {
          return this.reconcile(node.metadata.name);
        }
      });
    }
  }
}
