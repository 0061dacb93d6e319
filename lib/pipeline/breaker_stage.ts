// The pipeline's breaker stage: what the correlated-failure breakers (decide/breaker.ts) learn
// and what they tell. Every firing alert a rule acts on is noted on the Node it names before any
// alert of its notification is decided, so that a storm delivered at once opens its breaker
// before a drain of it starts; the sweep brings them up to date; the decisions written tell them
// what they held back and what they let go. An opening or a closing is reported (Events,
// notification, metric, log), and a closing looks again at the Nodes that waited.
import type { Applied, Write } from "../act/node_writer.ts";
import type { Clock } from "../base/clock.ts";
import type { BreakerChange, Breakers, BreakerState, BreakerView } from "../decide/breaker.ts";
import { otherCluster } from "../decide/cluster_guard.ts";
import { chooseAction, type Policy } from "../decide/policy.ts";
import type { Alert } from "../intake/alertmanager.ts";
import type { Reporter } from "../report/reporter.ts";
import { type NodeIndex, resolveAlert } from "../resolve/node_index.ts";

/** What the {@link BreakerStage} works with. */
export interface BreakerStageDeps {
  index: NodeIndex;
  reporter: Reporter;
  now: Clock;
  policy: () => Policy;
  breakers: () => Breakers;
  /** Looks again at the Nodes waiting for a gate to let their next step start. */
  wakeWaiting: () => void;
}

/** See the module comment. */
export class BreakerStage {
  #deps: BreakerStageDeps;

  constructor(deps: BreakerStageDeps) {
    this.#deps = deps;
  }

  /** Notes each alert of a notification on the Node it names, then brings the breakers up to now. */
  sighted(alerts: readonly Alert[]): void {
    const breakers = this.#deps.breakers();
    if (!breakers.policy) return;
    const policy = this.#deps.policy();
    const now = this.#deps.now();
    for (const alert of alerts) {
      if (otherCluster(alert, policy.cluster)) continue;
      const node = resolveAlert(alert, this.#deps.index).node;
      if (!node) continue;
      if (alert.status === "resolved") {
        breakers.resolved(node.metadata.name, alert.fingerprint);
        continue;
      }
      const choice = chooseAction(policy, alert);
      if (choice.action && choice.action !== "none") breakers.seen(node, alert.fingerprint, now);
    }
    this.update();
  }

  /** Brings the breakers up to now (unless `changes` says what changed) and reports it. */
  update(changes?: BreakerChange[]): void {
    const now = this.#deps.now();
    changes ??= this.#deps.breakers().update(now);
    for (const change of changes) this.#deps.reporter.breaker(change, now);
    this.#deps.reporter.breakerGauges(this.#deps.breakers().states(now));
    if (changes.some((c) => c.change === "closed")) this.#deps.wakeWaiting();
  }

  /** The breakers open, or closed and still releasing what they held (for /status). */
  states(): BreakerState[] {
    return this.#deps.breakers().states(this.#deps.now());
  }

  /** What the decisions ask of the breakers in force (for the waits /status shows). */
  view(): BreakerView {
    return this.#deps.breakers();
  }

  /** Learns, from a decision applied, an escalation the breakers held back. */
  noted(applied: Applied): void {
    if (applied.kind !== "written" && applied.kind !== "skip") return;
    const node = this.#deps.index.get(applied.decision.node);
    if (node && applied.decision.gate === "breaker") this.#deps.breakers().heldBack(node);
  }

  /**
   * Learns a drain or a replacement as it is decided (in the take-out turn, before its write):
   * the next one in its domain waits its turn from now, however long this one's write takes.
   */
  decided(decision: Write, at: Date): void {
    if (decision.action !== "drain" && decision.action !== "replace") return;
    const node = this.#deps.index.get(decision.node);
    if (node) this.#deps.breakers().escalated(node, at);
  }
}
