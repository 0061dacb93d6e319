// The election's vocabulary: the elector's options and defaults, why a leader steps down, and how
// a Lease record is compared and dated. The state machine is in elector.ts.
import type { Background } from "../base/background.ts";
import type { KubeClient, LeaseRecord } from "./kube/types.ts";
import type { Clock } from "../base/clock.ts";

/** Why a leader stopped leading, in the order the docs list them. */
export const STEP_DOWN_REASONS = [
  "held_by_other",
  "lease_gone",
  "update_conflict",
  "create_raced",
  "renew_deadline",
  "watch_unhealthy",
] as const;

/** Why a leader stopped leading: the label of `nodeheal_leader_stepdowns_total`. */
export type StepDownReason = (typeof STEP_DOWN_REASONS)[number];

/** A leader's step-down: its reason, and a sentence that says it with the facts. */
export interface StepDown {
  reason: StepDownReason;
  message: string;
}

/** Options of a `LeaderElector` (elector.ts); the durations are client-go's defaults. */
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
  /** How long a leader keeps the Lease while its Node watch is unhealthy (ms): at least the retry period. */
  watchFailureTimeoutMs?: number;
  /**
   * Since when (by the monotonic clock) this replica's Node watch has been unhealthy or not yet
   * synced, undefined while it is healthy. Such a replica never takes the Lease; a leader releases
   * it once this has lasted `watchFailureTimeoutMs`. Unset: always healthy.
   */
  watchUnhealthySince?: () => number | undefined;
  /** The wall clock, only for the times written in the Lease. */
  now?: Clock;
  /**
   * The monotonic clock (ms) that every duration is measured on: `performance.now()`, or the
   * wall clock `now` when a test gives only that.
   */
  monotonic?: () => number;
  /** Told of the fields of a Lease read that failed their schema (read as harmless values). */
  malformed?: (fields: string[]) => void;
  /** Told when this replica starts and stops leading, and why it stepped down (none on stop()). */
  leading?: (leading: boolean, stepDown?: StepDown) => void;
  /**
   * Runs each try: one that throws is logged and counted (the service's), and the next try comes
   * a retry period later all the same. One that only logs by default.
   */
  background?: Background;
}

/** client-go's lease duration, renew deadline and retry period; node-heal's watch failure timeout. */
export const ELECTION_DEFAULTS = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  watchFailureTimeoutMs: 20_000,
};

/** What makes two reads of a Lease the same record (a change of any part is a renewal). */
export function keyOf(record: LeaseRecord): string {
  return JSON.stringify([
    record.holder,
    record.renewTime,
    record.leaseTransitions,
    record.resourceVersion,
  ]);
}

/** An API MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
