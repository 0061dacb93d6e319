// What the pipeline decides under: the policy in force, the replacement provider of each of its
// rules, the gates' counts over the index under that policy, and its breakers. A reloaded policy
// replaces them at once: the gates count afresh from the index, and the breakers keep what they
// know when their domains are the same.
import type { ReplaceProvider } from "../act/replace/provider.ts";
import type { Policy } from "../decide/policy.ts";
import { Tally } from "../decide/tally.ts";
import { Breakers } from "../decide/breaker.ts";
import type { NodeIndex } from "../resolve/node_index.ts";

/** What {@link InForce} works with. */
export interface InForceDeps {
  index: NodeIndex;
  policy: Policy;
  providers: ReadonlyMap<string, ReplaceProvider>;
  /** How many replacements in flight took their Node away (the replacer's count). */
  replacingGone: () => number;
  /** When each replaced Node that is gone was taken out (the ledger's `cordonedAt`). */
  goneTakeOuts: () => readonly number[];
  /** The domain labels of each of those (undefined where unknown). */
  goneLabels: () => readonly (Readonly<Record<string, string>> | undefined)[];
  /** The hold TTL: an alert not seen for this long no longer counts for a breaker (ms). */
  holdTtlMs: number;
}

/** See the module comment. */
export class InForce {
  #index: NodeIndex;
  #deps: InForceDeps;
  #policy: Policy;
  #providers: ReadonlyMap<string, ReplaceProvider>;
  /** The gates' counts over the index, kept current as Nodes change. */
  #tally: Tally;

  constructor(deps: InForceDeps) {
    this.#index = deps.index;
    this.#deps = deps;
    this.#policy = deps.policy;
    this.#providers = deps.providers;
    this.#tally = this.#newTally();
    this.#breakers = new Breakers(deps.policy.gates.breaker, deps);
  }

  /** The correlated-failure breakers under the policy in force. */
  #breakers: Breakers;

  get breakers(): Breakers {
    return this.#breakers;
  }

  get policy(): Policy {
    return this.#policy;
  }

  get providers(): ReadonlyMap<string, ReplaceProvider> {
    return this.#providers;
  }

  get tally(): Tally {
    return this.#tally;
  }

  /** Puts `next` in force; the gates count afresh from the index under its gates. */
  swap(next: { policy: Policy; providers: ReadonlyMap<string, ReplaceProvider> }, now: Date): void {
    this.#policy = next.policy;
    this.#providers = next.providers;
    this.#index.unfollow(this.#tally);
    this.#tally = this.#newTally();
    this.#breakers = this.#breakers.under(next.policy.gates.breaker, this.#index.nodes(), now);
  }

  /** The gates' counts over the index under the policy in force, kept current as Nodes change. */
  #newTally(): Tally {
    const tally = new Tally(this.#policy.gates);
    tally.replacingGone = this.#deps.replacingGone;
    tally.goneLabels = this.#deps.goneLabels;
    tally.goneTakeOuts = this.#deps.goneTakeOuts;
    this.#index.follow(tally);
    return tally;
  }
}
