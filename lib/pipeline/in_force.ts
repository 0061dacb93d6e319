// What the pipeline decides under: the policy in force, the replacement provider of each of its
// rules, and the gates' counts over the index under that policy. A reloaded policy replaces all
// three at once, and the gates count afresh from the index.
import type { ReplaceProvider } from "../act/replace/provider.ts";
import type { Policy } from "../decide/policy.ts";
import { Tally } from "../decide/tally.ts";
import type { NodeIndex } from "../resolve/node_index.ts";

/** What {@link InForce} works with. */
export interface InForceDeps {
  index: NodeIndex;
  policy: Policy;
  providers: ReadonlyMap<string, ReplaceProvider>;
  /** How many replacements in flight took their Node away (the replacer's count). */
  replacingGone: () => number;
}

/** See the module comment. */
export class InForce {
  #index: NodeIndex;
  #replacingGone: () => number;
  #policy: Policy;
  #providers: ReadonlyMap<string, ReplaceProvider>;
  /** The gates' counts over the index, kept current as Nodes change. */
  #tally: Tally;

  constructor(deps: InForceDeps) {
    this.#index = deps.index;
    this.#replacingGone = deps.replacingGone;
    this.#policy = deps.policy;
    this.#providers = deps.providers;
    this.#tally = this.#newTally();
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
  swap(next: { policy: Policy; providers: ReadonlyMap<string, ReplaceProvider> }): void {
    this.#policy = next.policy;
    this.#providers = next.providers;
    this.#index.unfollow(this.#tally);
    this.#tally = this.#newTally();
  }

  /** The gates' counts over the index under the policy in force, kept current as Nodes change. */
  #newTally(): Tally {
    const tally = new Tally(this.#policy.gates);
    tally.replacingGone = this.#replacingGone;
    this.#index.follow(tally);
    return tally;
  }
}
