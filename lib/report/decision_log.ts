import { clip } from "../base/clip.ts";
import type { Clock } from "../base/clock.ts";

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
export const RECENT_DECISIONS = 100;

/** The last decisions node-heal made, for `/status`: a ring of {@link RECENT_DECISIONS}. */
export class DecisionLog {
  #recent: DecisionRecord[] = [];
  #now: Clock;
  #dryRun: boolean;

  constructor(options: { now: Clock; dryRun: boolean }) {
    this.#now = options.now;
    this.#dryRun = options.dryRun;
  }

  /**
   * Records one decision, stamped now; the oldest goes when the ring is full. With `once`, a
   * decision that repeats the last one on its Node (same outcome, gate and message) is not
   * recorded again: a wait looked at again is one wait.
   */
  add(record: Omit<DecisionRecord, "at" | "dryRun">, options: { once?: boolean } = {}): void {
    if (options.once && this.#repeats(record)) return;
    this.#recent.push({
      at: this.#now().toISOString(),
      ...(this.#dryRun ? { dryRun: true } : {}),
      ...record,
      // `/status` stays small whatever the alerts carried.
      alertname: clip(record.alertname, 253),
      message: clip(record.message, 1024),
    });
    if (this.#recent.length > RECENT_DECISIONS) this.#recent.shift();
  }

  #repeats(record: Omit<DecisionRecord, "at" | "dryRun">): boolean {
    const last = this.#recent.findLast((r) => r.node === record.node);
    return last !== undefined && last.outcome === record.outcome && last.gate === record.gate &&
      last.message === clip(record.message, 1024);
  }

  /** The last decisions, newest last. */
  list(): DecisionRecord[] {
    return [...this.#recent];
  }
}
