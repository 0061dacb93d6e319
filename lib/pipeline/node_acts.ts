// Acting on one Node: what a decision chooses is written through the node writer in the Node's
// turn, and the write sets going what it asks for (a drain, a replacement, or a look at the Node
// when its next step is due). Only the leader writes; an uncordon stops the drain first.
import type { DrainSupervisor } from "../act/drain_supervisor.ts";
import { KubeError } from "../act/kube/types.ts";
import type { Applied, ApplyOptions, NodeWriter, Write } from "../act/node_writer.ts";
import type { Release } from "../decide/tally.ts";
import type { Decision } from "../decide/decide.ts";
import { lookAgainAt } from "../decide/drain_step.ts";
import type { Replacement } from "../decide/replacements.ts";
import type { Node } from "../base/node.ts";
import { NOT_LEADER } from "./results.ts";
import type { ReplaceStage } from "./replace_stage.ts";
import type { Turns } from "./turns.ts";

/** What a decision on one Node is: the Node as read, and when. */
export type Choose = (node: Node, now: Date) => Decision | undefined;

/** What {@link NodeActs} works with. */
export interface NodeActsDeps {
  writer: NodeWriter;
  turns: Turns;
  drains: DrainSupervisor;
  replace: ReplaceStage;
  /** Whether this replica may act (it leads). */
  mayAct: () => boolean;
  /** Told of every decision applied (the breakers learn from them). */
  applied?: (applied: Applied) => void;
  /** Told of every write decided in the take-out turn, as it is decided (the breakers pace by it). */
  decided?: (decision: Write, at: Date) => void;
}

/** See the module comment. */
export class NodeActs {
  #deps: NodeActsDeps;

  constructor(deps: NodeActsDeps) {
    this.#deps = deps;
  }

  /** Writes what `choose` decides on Node `name`, in its turn. */
  write(name: string, choose: Choose, options: ApplyOptions = {}): Promise<Applied> {
    return this.#deps.turns.node(name, () => this.#act(name, choose, options));
  }

  /**
   * Options that decide in the one take-out turn, and count what `reserve` holds from the
   * decision until its write has ended: every gate counts every take-out decided before it,
   * while the writes go on at once.
   */
  inTakeOut(reserve: (decision: Write, at: Date) => Release | undefined): ApplyOptions {
    return {
      decideIn: (decide) => this.#deps.turns.takeOut(() => Promise.resolve(decide())),
      reserve: (decision, at) => {
        this.#deps.decided?.(decision, at);
        return reserve(decision, at);
      },
    };
  }

  /**
   * Writes what `choose` decides through the node writer, and sets going what the write asks
   * for: a drain, or a look at the Node when its drain is due. An uncordon stops the drain first.
   */
  async #act(name: string, choose: Choose, options: ApplyOptions): Promise<Applied> {
    const { writer, replace } = this.#deps;
    let replacement: Replacement | undefined;
    const applied = await writer.apply(name, choose, {
      ...options,
      before: async (d) => {
        const begun = await this.#before(name, d);
        if (begun) replacement = begun;
      },
    });
    if (replacement) replace.replacer.follow(replacement);
    this.#deps.applied?.(applied);
    if (applied.kind !== "written" || writer.dryRun) return applied;
    this.#setGoing(name, applied.decision, applied.at);
    return applied;
  }

  /** What runs before a decision on Node `name` is written; a replacement begun is returned. */
  async #before(name: string, d: Write): Promise<Replacement | undefined> {
    // Fencing within the process: a replica that stopped leading writes nothing more (its
    // writes carry the resourceVersion decided on, so the API server fences the rest).
    if (!this.#deps.mayAct()) throw new KubeError(NOT_LEADER, 503);
    if (d.action === "uncordon") await this.#deps.drains.stop(name);
    // A replacement is recorded in the ledger before its Node says so: the ledger, not the
    // Node (which is deleted), is what resumes it and what the gates count.
    if (d.action === "replace" && !this.#deps.writer.dryRun) {
      return await this.#deps.replace.begin(name);
    }
    return undefined;
  }

  /** Starts the drain a written decision asks for, or wakes the Node when its next step is due. */
  #setGoing(name: string, decision: Write, at: Date): void {
    const { action, drain } = decision;
    if (action === "drain" && drain) {
      this.#deps.drains.start(name, drain);
    } else {
      // A drain starts at drain-at (right after the cordon when drainAfter is 0), a replacement
      // replaceAfter the drain's end, outside this alert's turn; the reconcile then checks the
      // alert still holds the Node.
      const wakeAt = lookAgainAt(decision, at);
      if (wakeAt) this.#deps.drains.wakeAt(name, wakeAt);
    }
  }
}
