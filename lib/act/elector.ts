import type { KubeClient, LeaseRecord } from "./kube_types.ts";
import { type Clock, systemClock } from "../clock.ts";

/** Options of a {@link LeaderElector}; the durations are client-go's defaults. */
export interface ElectorOptions {
  client: KubeClient;
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This replica's name, written as the holder. */
  identity: string;
  /** How long a Lease not renewed stays its holder's, by each candidate's own clock (ms). */
  leaseDurationMs?: number;
  /** How long a leader keeps leading without a successful renewal (ms): less than the lease. */
  renewDeadlineMs?: number;
  /** How often a candidate tries, and a leader renews (ms). */
  retryPeriodMs?: number;
  now?: Clock;
  /** Told when this replica starts and stops leading. */
  leading?: (leading: boolean) => void;
}

/** client-go's lease duration, renew deadline and retry period. */
export const ELECTION_DEFAULTS = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics (the client
 * library has no elector). A candidate takes the Lease only when its holder has released it, or
 * when the record has not changed for a lease duration by the candidate's own clock (never by the
 * `renewTime` written in it, so clock skew between replicas is harmless). Every write carries the
 * resourceVersion read, so two candidates never both win. A leader renews every retry period and
 * stops leading as soon as it has not renewed for the renew deadline, before any other replica may
 * take over; on stop it releases the Lease, so a successor takes over at its next try.
 */
export class LeaderElector {
  #o: Required<Omit<ElectorOptions, "leading">> & Pick<ElectorOptions, "leading">;
  /** The record last read, and when (by this replica's clock) it was first seen as it is. */
  #observed?: { key: string; at: number; record: LeaseRecord };
  #leading = false;
  #renewedAt = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #stopped = false;
  /** The try under way in the loop, if any. */
  #trying?: Promise<boolean>;
  #transitions = 0;

  constructor(options: ElectorOptions) {
    this.#o = { ...ELECTION_DEFAULTS, now: systemClock, ...options };
    if (this.#o.renewDeadlineMs >= this.#o.leaseDurationMs) {
      throw new RangeError("the renew deadline must be shorter than the lease duration");
    }
  }

  /**
   * Whether this replica leads now: not once its renew deadline has passed, even while a renewal
   * is still waiting for the API server.
   */
  get leading(): boolean {
    this.#checkDeadline();
    return this.#leading;
  }

  /** The holder of the Lease as last read (undefined before the first read or when released). */
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
    const now = this.#now();
    let current: LeaseRecord | undefined;
    try {
      current = await client.getLease(namespace, name);
      if (!current) {
        const created = await client.createLease(namespace, name, this.#record(now, undefined));
        return this.#won(created, now);
      }
    } catch {
      return this.#missed();
    }
    const key = keyOf(current);
    if (this.#observed?.key !== key) this.#observed = { key, at: now, record: current };
    const held = current.holder !== "" && current.holder !== identity;
    if (held && now - this.#observed.at < current.leaseDurationSeconds * 1000) {
      return this.#missed();
    }
    try {
      const updated = await client.updateLease(namespace, name, this.#record(now, current));
      return this.#won(updated, now);
    } catch {
      return this.#missed();
    }
  }

  /** Tries every retry period until stopped; a leader that misses its deadline stops leading. */
  start(): void {
    const loop = async () => {
      if (this.#stopped) return;
      this.#trying = this.tick();
      await this.#trying;
      if (this.#stopped) return;
      this.#timer = setTimeout(loop, this.#o.retryPeriodMs);
    };
    loop();
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
    if (!current || current.holder !== this.#o.identity) return;
    const now = this.#now();
    try {
      await this.#o.client.updateLease(this.#o.namespace, this.#o.name, {
        ...current,
        holder: "",
        leaseDurationSeconds: 1,
        renewTime: microTime(now),
      });
    } catch {
      // Not released: a successor takes over once the lease duration has passed.
    }
  }

  /** The record this replica writes to take or renew the Lease, from `current`. */
  #record(now: number, current: LeaseRecord | undefined): LeaseRecord {
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

  #won(record: LeaseRecord, now: number): boolean {
    this.#observed = { key: keyOf(record), at: now, record };
    this.#renewedAt = now;
    // A try that ends after stop() holds the Lease only for stop() to release it.
    if (!this.#leading && !this.#stopped) this.#setLeading(true);
    return true;
  }

  /** A try that did not take or renew: a leader past its renew deadline stops leading. */
  #missed(): boolean {
    this.#checkDeadline();
    return this.#leading;
  }

  #checkDeadline(): void {
    if (this.#leading && this.#now() - this.#renewedAt >= this.#o.renewDeadlineMs) {
      this.#setLeading(false);
    }
  }

  #setLeading(leading: boolean): void {
    this.#leading = leading;
    if (leading) this.#transitions++;
    this.#o.leading?.(leading);
  }

  #now(): number {
    return this.#o.now().getTime();
  }
}

/** What makes two reads of a Lease the same record (a change of any part is a renewal). */
function keyOf(record: LeaseRecord): string {
  return JSON.stringify([
    record.holder,
    record.renewTime,
    record.leaseTransitions,
    record.resourceVersion,
  ]);
}

/** An API MicroTime: RFC 3339 with microseconds. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
