import { Background } from "../base/background.ts";
import type { LeaseRecord } from "./kube/types.ts";
import { systemClock } from "../base/clock.ts";
import {
  ELECTION_DEFAULTS,
  type ElectorOptions,
  keyOf,
  microTime,
  type StepDownReason,
} from "./election.ts";

import { clip } from "../base/clip.ts";
import { statusOf } from "../base/retry.ts";

export { ELECTION_DEFAULTS, STEP_DOWN_REASONS } from "./election.ts";
export type { ElectorOptions, StepDown, StepDownReason } from "./election.ts";

type Settings =
  & Required<Omit<ElectorOptions, "leading" | "watchUnhealthySince" | "malformed">>
  & Pick<ElectorOptions, "leading" | "watchUnhealthySince" | "malformed">;

/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics (the client
 * library has no elector) and stricter fences, so that two replicas never act at once:
 *
 * - {@link leading} is true only while the START of this replica's last successful renewal is
 *   less than the renew deadline ago by its monotonic clock: a process that wakes from a pause
 *   reads false before any renewal lands, and an answer that comes late extends nothing.
 * - A candidate takes a held Lease only once the record has not changed for a lease duration by
 *   its own clock (never by the `renewTime` written in it, so clock skew is harmless): its own
 *   lease duration whatever the Lease says when it names a holder (one that names this replica
 *   included, unless this replica wrote it), a released Lease's own duration capped at its own.
 *   The holder's renew deadline, shorter, has run out by then. Every write carries the
 *   resourceVersion read, so two candidates never both win.
 * - A leader steps down at once when a read shows the Lease held by another or gone, or a write
 *   answers 409 or 404. A Lease that is gone is made again only a lease duration after this
 *   replica first found it missing, by its own clock, so that the last holder's fence has run out
 *   first; a new install, too, waits a lease duration for its first leader.
 * - A replica whose Node watch is unhealthy never takes the Lease; a leader whose watch has been
 *   unhealthy for the watch failure timeout releases it for a healthy replica.
 * - On stop a leader stops leading, then releases the Lease (no holder, one second to live), so a
 *   successor takes over at its first try a second later. A holder blanked by hand keeps the
 *   duration it had, so the old leader's fence has run out before anyone takes it.
 */
export class LeaderElector {
  #o: Settings;
  /** The record last read, and when (monotonic) it was first seen as it is. */
  #observed?: { key: string; at: number; record: LeaseRecord };
  /** The key of the record this replica last wrote as its holder (a take or a renewal). */
  #wrote?: string;
  /** When (monotonic) this replica first found the Lease missing, since it last saw one. */
  #missingSince?: number;
  #leading = false;
  /** When (monotonic) the last successful take or renewal started. */
  #renewedAt = -Infinity;
  #timer?: ReturnType<typeof setTimeout>;
  #stopped = false;
  /** The try under way in the loop, if any (it never rejects). */
  #trying?: Promise<void>;
  #transitions = 0;

  constructor(options: ElectorOptions) {
    const now = options.now ?? systemClock;
    const monotonic = options.monotonic ??
      (options.now ? () => now().getTime() : () => performance.now());
    const d = ELECTION_DEFAULTS;
    // A duration given as undefined (a spread config) takes its default too.
    this.#o = {
      ...options,
      leaseDurationMs: options.leaseDurationMs ?? d.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs ?? d.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs ?? d.retryPeriodMs,
      watchFailureTimeoutMs: options.watchFailureTimeoutMs ?? d.watchFailureTimeoutMs,
      now,
      monotonic,
      background: options.background ?? new Background(),
    };
    if (this.#o.renewDeadlineMs >= this.#o.leaseDurationMs) {
      throw new RangeError("the renew deadline must be shorter than the lease duration");
    }
    if (this.#o.watchFailureTimeoutMs < this.#o.retryPeriodMs) {
      throw new RangeError("the watch failure timeout must be at least the retry period");
    }
  }

  /**
   * Whether this replica may act now: the fence to read immediately before every write that takes
   * something away. Synchronous and cheap: it reads the monotonic clock, never the API.
   */
  get leading(): boolean {
    if (this.#leading) this.#checkFences(this.#mono());
    return this.#leading;
  }

  /** The holder of the Lease as last read (undefined before the first read, when released or gone). */
  get leader(): string | undefined {
    const holder = this.#observed?.record.holder;
    return holder || undefined;
  }

  /** How many times this replica started leading. */
  get transitions(): number {
    return this.#transitions;
  }

  /** One try to take or renew the Lease; resolves with whether this replica leads after it. */
  async tick(): Promise<boolean> {
    const { client, namespace, name, identity } = this.#o;
    const started = this.#mono();
    if (this.#leading) this.#checkFences(started);
    let current: LeaseRecord | undefined;
    try {
      current = await client.getLease(namespace, name);
    } catch {
      return this.leading;
    }
    // Observations are dated when the answer came (after the read), takes and renewals when the
    // try started (before the write): both err on the side of never overlapping.
    const seen = this.#mono();
    if (!current) return await this.#absent(started, seen);
    if (current.malformed) this.#o.malformed?.(current.malformed);
    this.#missingSince = undefined;
    const key = keyOf(current);
    if (this.#observed?.key !== key) this.#observed = { key, at: seen, record: current };
    if (current.holder !== identity && this.#leading) {
      this.#stepDown(
        "held_by_other",
        current.holder
          ? `the Lease is held by "${clip(current.holder, 100)}"`
          : "the Lease was released by someone else",
      );
    }
    if (!this.#leading && !this.#healthy()) {
      if (current.holder === identity && this.#unhealthyTooLong(seen)) await this.#release(current);
      return false;
    }
    // A released Lease (no holder) is waited for too, for its own duration capped at ours: a
    // release by its leader says a second (the leader stopped acting before writing it), one by
    // hand keeps the duration it had, which outlasts the old leader's fence. A record naming this
    // replica is its own only as it wrote it: one a person wrote (a hand-over by hand) is waited
    // for like any other, since the leader it replaced may act until its next read.
    const ours = current.holder === identity && (this.#leading || this.#wrote === key);
    if (!ours && seen - this.#observed.at < this.#leaseMsOf(current)) return false;
    try {
      return this.#won(await client.updateLease(namespace, name, this.#record(current)), started);
    } catch (err) {
      return this.#refused(statusOf(err));
    }
  }

  /** Tries every retry period until stopped; a leader that misses its deadline stops leading. */
  start(): void {
    const { background } = this.#o;
    // A try that throws is logged and counted, and the next one comes all the same: a loop that
    // stopped would leave a leader to its fence and a candidate waiting forever.
    const loop = async () => {
      if (this.#stopped) return;
      this.#trying = background.settled("election", () => this.tick());
      await this.#trying;
      if (this.#stopped) return;
      this.#timer = setTimeout(background.guard("election", loop), this.#o.retryPeriodMs);
    };
    background.run("election", loop);
  }

  /** Stops trying; a leader stops leading and releases the Lease for a successor. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    // A try under way ends first: a renewal landing after the release was read would make the
    // release's resourceVersion stale (409), leaving the Lease to expire instead.
    await this.#trying;
    if (this.#leading) this.#setLeading(false);
    const current = this.#observed?.record;
    if (current?.holder === this.#o.identity) await this.#release(current);
  }

  /** No Lease: a leader steps down; the Lease is made only a lease duration after it was missed. */
  async #absent(started: number, seen: number): Promise<boolean> {
    this.#observed = undefined;
    if (this.#leading) this.#stepDown("lease_gone", "the Lease was deleted (404 on read)");
    this.#missingSince ??= seen;
    // The last holder may lead until its renew deadline: its fence runs out before this one.
    if (seen - this.#missingSince < this.#o.leaseDurationMs || !this.#healthy()) return false;
    const { client, namespace, name } = this.#o;
    try {
      const created = await client.createLease(namespace, name, this.#record(undefined));
      this.#missingSince = undefined;
      return this.#won(created, started);
    } catch (err) {
      if (statusOf(err) !== 409) return this.leading;
      // Another replica made it first: never lead on a lost race.
      this.#missingSince = undefined;
      if (this.#leading) {
        this.#stepDown("create_raced", "another replica made the Lease first (409 on create)");
      }
      return false;
    }
  }

  /** A take or renewal refused with `status`: 404 and 409 mean the Lease is not this replica's. */
  #refused(status: number | undefined): boolean {
    if (status === 404) {
      this.#missingSince ??= this.#mono();
      this.#observed = undefined;
      if (this.#leading) this.#stepDown("lease_gone", "the Lease was deleted (404 on update)");
      return false;
    }
    if (status === 409) {
      if (this.#leading) {
        this.#stepDown("update_conflict", "the Lease was written by someone else (409 on update)");
      }
      return false;
    }
    return this.leading;
  }

  /** Gives the Lease up (no holder, a second to live), so a successor takes it at its next try. */
  async #release(current: LeaseRecord): Promise<void> {
    try {
      const released = await this.#o.client.updateLease(this.#o.namespace, this.#o.name, {
        ...current,
        holder: "",
        leaseDurationSeconds: 1,
        renewTime: microTime(this.#o.now().getTime()),
      });
      this.#observed = { key: keyOf(released), at: this.#mono(), record: released };
    } catch {
      // Not released: a successor takes over once the lease duration has passed.
    }
  }

  /** The record this replica writes to take or renew the Lease, from `current`. */
  #record(current: LeaseRecord | undefined): LeaseRecord {
    const now = this.#o.now().getTime();
    const ours = current?.holder === this.#o.identity;
    return {
      holder: this.#o.identity,
      leaseDurationSeconds: Math.ceil(this.#o.leaseDurationMs / 1000),
      acquireTime: ours && current?.acquireTime ? current.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: current ? current.leaseTransitions + (ours ? 0 : 1) : 0,
      resourceVersion: current?.resourceVersion,
    };
  }

  /** A take or renewal that started at `started` was written: this replica leads, within its deadline. */
  #won(record: LeaseRecord, started: number): boolean {
    const now = this.#mono();
    this.#wrote = keyOf(record);
    this.#observed = { key: this.#wrote, at: now, record };
    this.#renewedAt = Math.max(this.#renewedAt, started);
    // A try that ends after stop() holds the Lease only for stop() to release it.
    if (this.#stopped) return false;
    if (!this.#leading) {
      // An answer that came after the try's own deadline (a pause, a slow API server) makes no
      // leader, nor one for a replica that stepped down for its watch while the try was under way.
      if (now - this.#renewedAt >= this.#o.renewDeadlineMs || !this.#healthy()) return false;
      this.#setLeading(true);
    }
    return this.leading;
  }

  /** A leader past its renew deadline, or unhealthy for too long, steps down. */
  #checkFences(now: number): void {
    const since = now - this.#renewedAt;
    if (since >= this.#o.renewDeadlineMs) {
      this.#stepDown("renew_deadline", `the Lease was not renewed for ${seconds(since)}`);
    } else if (this.#unhealthyTooLong(now)) {
      const unhealthy = now - (this.#o.watchUnhealthySince?.() ?? now);
      this.#stepDown(
        "watch_unhealthy",
        `the Node watch has been unhealthy for ${seconds(unhealthy)}`,
      );
    }
  }

  #healthy(): boolean {
    return this.#o.watchUnhealthySince?.() === undefined;
  }

  #unhealthyTooLong(now: number): boolean {
    const since = this.#o.watchUnhealthySince?.();
    return since !== undefined && now - since >= this.#o.watchFailureTimeoutMs;
  }

  /**
   * How long a record held by another stays its holder's: our own lease duration when it names
   * a holder (every replica runs with the same flags, so a shorter word is a hand edit, and its
   * holder may act for a renew deadline after its last renewal); a released one's own word (one
   * second from its leader), capped at ours.
   */
  #leaseMsOf(record: LeaseRecord): number {
    const own = this.#o.leaseDurationMs;
    if (record.holder) return own;
    const theirs = record.leaseDurationSeconds * 1000;
    return Number.isFinite(theirs) && theirs > 0 ? Math.min(theirs, own) : own;
  }

  #stepDown(reason: StepDownReason, message: string): void {
    this.#leading = false;
    this.#o.leading?.(false, { reason, message });
  }

  #setLeading(leading: boolean): void {
    this.#leading = leading;
    if (leading) this.#transitions++;
    this.#o.leading?.(leading);
  }

  #mono(): number {
    return this.#o.monotonic();
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
