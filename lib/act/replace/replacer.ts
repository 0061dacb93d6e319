// The replacements this replica runs: each recorded in the ledger before its provider is asked,
// its operation recorded as soon as the provider answers, then followed until the old Node is
// gone and a successor is Ready, or until its deadline. A restart (or a new leader) resumes every
// replacement in flight from the ledger: it follows a recorded operation, and asks again only a
// provider that had not answered, each provider's start being idempotent.
import { Background } from "../../base/background.ts";
import type { Node } from "../../base/node.ts";
import type { Rule } from "../../decide/policy.ts";
import { checkReplace } from "../../decide/gates.ts";
import {
  domainLabels,
  goneHolding,
  goneTakeOutTimes,
  holdsPlace,
  inFlight,
  inFlightIn,
  pruned,
  type ReplaceBudgets,
  replaceBudgets,
  type Replacement,
  type ReplaceView,
} from "../../decide/replacements.ts";
import { Ledger } from "./ledger.ts";
import { identityOf, newReplacement } from "./record.ts";
import { clip } from "../../base/clip.ts";
import { follow } from "./follower.ts";
import { log } from "../../base/log.ts";
import { ReplaceBlocked, type ReplacerDeps } from "./replacer_deps.ts";

/** See the module comment. */
export class Replacer implements ReplaceView {
  #deps: ReplacerDeps;
  #ledger: Ledger;
  /** Replacements decided and not yet recorded: counted by the gates meanwhile. */
  #reserved = new Set<string>();
  /**
   * Every replacement this replica started or follows, as it last wrote or read it: counted with
   * the stored ledger, so that a ledger emptied or edited by hand never frees a place in
   * maxReplacing, nor a start in replaceRate, that is still taken.
   */
  #known = new Map<string, Replacement>();
  #running = new Map<string, { stop: AbortController; done: Promise<void> }>();

  constructor(deps: ReplacerDeps) {
    this.#deps = deps;
    this.#ledger = new Ledger(deps.client, deps.namespace, {
      now: deps.now,
      untrusted: deps.untrusted,
    });
  }

  /** Every replacement in the ledger as last read or written, oldest first. */
  get entries(): readonly Replacement[] {
    return this.#ledger.entries;
  }

  /**
   * What the gates count: the ledger's `entries` as stored, and the replacements this replica
   * started or follows that they lack, or hold as ended while this replica follows them in
   * flight (a hand edit).
   */
  #counted(entries: readonly Replacement[]): Replacement[] {
    if (this.#known.size === 0) return [...entries];
    const stored = new Set(entries.map((e) => e.id));
    const counted = entries.map((e) => {
      const mine = this.#known.get(e.id);
      return mine && inFlight(mine) && !inFlight(e) && this.#running.has(e.id) ? mine : e;
    });
    for (const mine of this.#known.values()) if (!stored.has(mine.id)) counted.push(mine);
    return counted;
  }

  /** Keeps `r` as this replica knows it, and forgets what no gate counts any more. */
  #remember(r: Replacement): Replacement {
    this.#known.set(r.id, r);
    const since = this.#deps.now().getTime() - this.#deps.policy().gates.replaceRate.windowMs;
    for (const [id, k] of this.#known) {
      if (!holdsPlace(k, this.#nodeGone) && Date.parse(k.startedAt) <= since) {
        this.#known.delete(id);
      }
    }
    return r;
  }

  budgets(now: Date, paused: boolean): ReplaceBudgets {
    return replaceBudgets(this.#counted(this.#ledger.entries), {
      gates: this.#deps.policy().gates,
      now,
      paused,
      reserved: this.#reserved,
      nodeGone: this.#nodeGone,
      damaged: this.#ledger.damaged,
      unreadable: this.#ledger.unreadable.length,
    });
  }

  inDomains(node: Node): ReturnType<typeof inFlightIn> {
    const gates = this.#deps.policy().gates;
    const entries = this.#counted(this.#ledger.entries);
    // Those decided and not yet recorded count too, in the domains their Nodes are in now.
    const recorded = new Set(entries.filter(inFlight).map((r) => r.node));
    const decided = [...this.#reserved].filter((name) => !recorded.has(name)).map((name) => {
      const reserved = this.#deps.index.get(name);
      const labels = reserved && domainLabels(reserved, gates);
      return { node: name, phase: "starting", ...(labels ? { labels } : {}) } as Replacement;
    });
    return inFlightIn([...entries, ...decided], node, {
      gates,
      nodeGone: this.#nodeGone,
      unreadable: this.#ledger.unreadable.length,
    });
  }

  /**
   * The domain labels of each replacement {@link goneInFlight} counts (undefined where unknown:
   * an unreadable entry, or one recorded without them).
   */
  goneLabels(): (Record<string, string> | undefined)[] {
    const gone = goneHolding(this.#counted(this.#ledger.entries), this.#nodeGone);
    return [...gone.map((r) => r.labels), ...this.#ledger.unreadable.map(() => undefined)];
  }

  /** When each replaced Node that is gone was taken out: the rate gate counts them. */
  goneTakeOuts(): number[] {
    return goneTakeOutTimes(this.#counted(this.#ledger.entries), this.#nodeGone);
  }

  replacing(name: string): boolean {
    return this.#counted(this.#ledger.entries).some((r) => r.node === name && inFlight(r));
  }

  /**
   * Replacements holding a place in maxReplacing: in flight, or unsettled with their Node gone;
   * and the stored entries that cannot be read (each may be one).
   */
  inFlight(): number {
    return this.#counted(this.#ledger.entries).filter((r) => holdsPlace(r, this.#nodeGone))
      .length + this.#ledger.unreadable.length;
  }

  /**
   * Nodes being replaced (or unsettled) whose Node object is gone: minHealthy counts them until
   * their successor is Ready. An unreadable stored entry counts as one (it may be).
   */
  goneInFlight(): number {
    return this.goneLabels().length;
  }

  /** Whether a replacement's old Node object is gone (or another object took its name). */
  #nodeGone = (r: Replacement): boolean => {
    const node = this.#deps.index.get(r.node);
    return !node || (r.uid !== undefined && node.metadata.uid !== r.uid);
  };

  /** Counts a replacement of `name` as started until the returned release (its record written, or not). */
  reserve(name: string): () => void {
    this.#reserved.add(name);
    return () => this.#reserved.delete(name);
  }

  /**
   * Records the start of the replacement of `node` under `rule` in the ledger, its gates counted
   * again on the ledger as stored (another replica may have written since this one read it).
   * Throws {@link ReplaceBlocked} when one says no; resolves with the record (the one already
   * in flight for this Node, if there is one).
   */
  begin(
    node: Node,
    rule: Rule,
    options: { now: Date; paused: boolean; breaker?: string },
  ): Promise<Replacement> {
    const { now } = options;
    const name = node.metadata.name;
    const gates = this.#deps.policy().gates;
    const begun = this.#ledger.update((stored) => {
      const entries = this.#counted(stored);
      const current = entries.find((r) => r.node === name && inFlight(r));
      if (current) return { result: current };
      const budgets = replaceBudgets(entries, {
        gates,
        now,
        paused: options.paused,
        nodeGone: this.#nodeGone,
        unreadable: this.#ledger.unreadable.length,
      });
      const domains = inFlightIn(entries, node, {
        gates,
        nodeGone: this.#nodeGone,
        unreadable: this.#ledger.unreadable.length,
      });
      const blocked = checkReplace(name, budgets, gates, { domains, breaker: options.breaker });
      if (blocked) throw new ReplaceBlocked(blocked.gate, blocked.message);
      const replacement = newReplacement(node, rule, now, { by: this.#deps.instance, gates });
      // What this replica knows and the stored ledger lacks is written back with it.
      return {
        entries: [...pruned(entries, gates, now, this.#nodeGone), replacement],
        result: replacement,
      };
    });
    return begun.then((r) => this.#remember(r));
  }

  /**
   * Reads the ledger again, writes back the replacements in flight this replica follows that it
   * lacks, and follows every replacement holding a place not followed here.
   */
  async resume(): Promise<void> {
    await this.#ledger.refresh();
    await this.repair();
    const stored = new Set(this.#ledger.entries.map((r) => r.id));
    for (const [id, mine] of this.#known) {
      if (stored.has(id) || !mine.unsettled) continue;
      // An unsettled record deleted by hand gives its place in maxReplacing back
      // (docs/replacement.md); its start still counts in replaceRate.
      this.#known.set(id, { ...mine, unsettled: false });
      this.#running.get(id)?.stop.abort();
    }
    for (const r of this.#ledger.entries) if (inFlight(r) || r.unsettled) this.follow(r);
  }

  /**
   * Writes back to the stored ledger the replacements in flight this replica follows that it
   * lacks or holds as ended (emptied or edited by hand), so that the next leader counts them too. A ledger that
   * cannot be written now (damaged, or this replica no longer leads) is left as it is.
   */
  async repair(): Promise<void> {
    // Lost: missing, or held as ended while this replica follows it in flight.
    const lost = (stored: readonly Replacement[]) =>
      [...this.#known.values()].filter((k) =>
        inFlight(k) && this.#running.has(k.id) &&
        !stored.some((e) => e.id === k.id && inFlight(e))
      );
    if (lost(this.#ledger.entries).length === 0) return;
    try {
      await this.#ledger.update((stored) => {
        const missing = new Map(lost(stored).map((k) => [k.id, k]));
        if (missing.size === 0) return { entries: undefined, result: undefined };
        const entries = stored.map((e) => missing.get(e.id) ?? e);
        for (const k of missing.values()) if (!stored.some((e) => e.id === k.id)) entries.push(k);
        return { entries, result: undefined };
      });
    } catch (err) {
      log("act").warn("Cannot write back the replacements the ledger lost: {error}", {
        error: (err as Error).message,
      });
    }
  }

  /** Follows replacement `r` in the background, unless it is followed here already. */
  follow(r: Replacement): void {
    if (this.#running.has(r.id)) return;
    if (!this.#known.has(r.id)) this.#remember(r);
    const stop = new AbortController();
    const { client, index, policy, providers, now } = this.#deps;
    const background = this.#deps.background ?? new Background();
    // A follower that throws (it never should) is logged and counted; it stops, and the next
    // resume (the sweep's) follows the replacement again from the ledger.
    const followed = () =>
      follow(r, {
        client,
        index,
        policy,
        provider: () => providers().get(r.rule),
        paused: () => this.#deps.paused?.() ?? false,
        now,
        pollMs: this.#deps.pollMs ?? 2000,
        taken: (self) =>
          new Set(
            this.#ledger.entries.filter((e) => e.id !== self.id && e.successor).map((e) =>
              e.successor!
            ),
          ),
        record: (rec, change) => this.#record(rec, change),
        told: (kind, rec) => this.#deps.told({ kind, replacement: rec }),
        untrusted: this.#deps.untrusted,
      }, stop.signal);
    const done = background.settled("replacement", async () => {
      try {
        await followed();
      } finally {
        this.#running.delete(r.id);
      }
    });
    this.#running.set(r.id, { stop, done });
  }

  /**
   * Stops following every replacement (at shutdown, or when this replica stops leading); the
   * ledger keeps them: written back first if it lost them, while this replica may still write.
   */
  async stopAll(): Promise<void> {
    if ([...this.#known.values()].some((k) => inFlight(k) && this.#running.has(k.id))) {
      await this.#ledger.refresh().then(() => this.repair(), () => {});
    }
    const stopped = [...this.#running.keys()];
    for (const { stop } of this.#running.values()) stop.abort();
    await Promise.all([...this.#running.values()].map((r) => r.done));
    // No longer followed here, what this replica knew of those still in flight goes stale: the
    // next leader follows them from the ledger, and this one, leading again, reads them there.
    for (const id of stopped) {
      const k = this.#known.get(id);
      if (k && inFlight(k)) this.#known.delete(id);
    }
  }

  async #record(r: Replacement, change: Partial<Replacement>): Promise<Replacement> {
    if (change.message !== undefined) change = { ...change, message: clip(change.message, 1024) };
    return await this.#ledger.update((entries) => {
      const i = entries.findIndex((e) => e.id === r.id);
      // Gone from the ledger (pruned, or the ConfigMap deleted): written back, so it is counted.
      // Who and what it is stay as this replica follows them, whatever a hand edit says since.
      const next = { ...(i >= 0 ? entries[i] : r), ...identityOf(r), ...change };
      if (next.unsettled === false) delete next.unsettled;
      const list = i >= 0 ? entries.with(i, next) : [...entries, next];
      return { entries: list, result: next };
    }).then((stored) => this.#remember(stored));
  }
}
