// The pipeline's replacement stage: the replacer (act/replace/), wired to the rest. A replacement
// decided on a Node is recorded in the ledger here, its news reported, a failed one written on
// its Node, and once one ends the Nodes waiting for the replacement gates are looked at again.
import type { Applied } from "../act/node_writer.ts";
import { Replacer } from "../act/replace/replacer.ts";
import type { ReplaceNews, ReplacerDeps } from "../act/replace/replacer_deps.ts";
import type { Decision } from "../decide/decision.ts";
import { readState } from "../decide/node_state.ts";
import type { Replacement } from "../decide/replacements.ts";
import type { BreakerView } from "../decide/breaker.ts";
import { endReplace, replacedInPlace, replaceRule } from "../decide/replace_step.ts";
import { log } from "../base/log.ts";
import type { Node } from "../base/node.ts";
import type { Metrics } from "../report/metrics.ts";
import type { Reporter } from "../report/reporter.ts";

/**
 * What the {@link ReplaceStage} works with: the replacer's own, but for what the stage tells it
 * (`told`) and runs its followers on (`background`), and the pipeline's.
 */
export interface ReplaceStageDeps extends Omit<ReplacerDeps, "told" | "background" | "paused"> {
  metrics: Metrics;
  paused: () => boolean;
  reporter: Reporter;
  /** Writes what `choose` decides on Node `name`, in its turn. */
  write: (
    name: string,
    choose: (node: Node, now: Date) => Decision | undefined,
  ) => Promise<Applied>;
  /** Looks again at the Nodes waiting for a gate to let their next step start. */
  wakeWaiting: () => void;
  /** The correlated-failure breakers in force. */
  breakers: () => BreakerView;
}

/** See the module comment. */
export class ReplaceStage {
  readonly replacer: Replacer;
  #deps: ReplaceStageDeps;

  constructor(deps: ReplaceStageDeps) {
    this.#deps = deps;
    this.replacer = new Replacer({
      ...deps,
      told: (news) => this.#news(news),
      background: deps.metrics.background,
    });
  }

  /**
   * Reads the ledger and follows every replacement in flight (on start, and on leading). A
   * policy that replaces nothing never reads it (nor needs the right to).
   */
  async resume(): Promise<void> {
    if (this.#deps.providers().size === 0) return;
    try {
      await this.replacer.resume();
    } catch (err) {
      log("act").error("Cannot read the replacement ledger: {error}", {
        error: (err as Error).message,
      });
      return;
    }
    this.#deps.metrics.replacementsInFlight.set(this.replacer.inFlight());
    await this.#orphans();
  }

  /**
   * Nodes marked `replacing` whose replacement the ledger does not hold in flight (someone
   * deleted the ledger, say): nothing follows them, so they are marked failed for a person to
   * look at, rather than left waiting forever.
   */
  async #orphans(): Promise<void> {
    for (const node of this.#deps.index.nodes()) {
      const name = node.metadata.name;
      if (readState(node).step !== "replacing" || this.replacer.replacing(name)) continue;
      await this.#deps.write(name, (n) =>
        this.replacer.replacing(name) ? undefined : endReplace(
          n,
          `The replacement of ${name} is not in the ledger (it was lost); it stays cordoned`,
        ));
    }
  }

  /** Records the start of Node `name`'s replacement in the ledger (its gates counted again there). */
  begin(name: string): Promise<Replacement> {
    const node = this.#deps.index.get(name);
    const rule = node && replaceRule(this.#deps.policy(), readState(node).rule);
    if (!node || !rule) throw new Error(`Cannot replace ${name}: its rule no longer replaces`);
    const now = this.#deps.now();
    // Asked again at the moment of the ledger write: a breaker may have opened since the decision.
    const breaker = this.#deps.breakers().holding(node, now);
    return this.replacer.begin(node, rule, { now, paused: this.#deps.paused(), breaker });
  }

  async #news(news: ReplaceNews): Promise<void> {
    const { index, metrics, reporter } = this.#deps;
    const r = news.replacement;
    metrics.replacementsInFlight.set(this.replacer.inFlight());
    let applied: Applied | undefined;
    if (news.kind === "failed" && index.get(r.node)) {
      applied = await this.#deps.write(
        r.node,
        (node) => endReplace(node, r.message ?? "replacement failed"),
      );
    } else if (news.kind === "replaced" && r.successor === r.node && index.get(r.node)) {
      // Rebuilt under the same Node object: it is Ready again, and released.
      await this.#deps.write(r.node, (node, now) =>
        replacedInPlace(
          node,
          now,
          `Uncordoned ${r.node}: its machine was replaced under it and it is Ready`,
        ));
    }
    reporter.replaceNews(news, applied);
    if (news.kind !== "requested") this.#deps.wakeWaiting();
  }
}
