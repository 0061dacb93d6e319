// The fence: immediately before every write that takes something away is sent (an eviction, a
// Node patch, a delete, a ledger write, a cloud terminate or recreate), this replica checks that
// it still leads, by its own monotonic clock. A decision made a moment ago is no licence to act
// now: a process that wakes from a pause, or a leader whose Lease another replica took, sends
// nothing it queued before. The API's own preconditions (resourceVersion, uid) back it where they
// exist; the checks of the policy in force are the callers' (decide/halts.ts).
import { KubeError } from "./kube/types.ts";

/** The kinds of write the fence guards. */
export const FENCED_WRITES = ["evict", "patch", "create", "replace", "delete", "cloud"] as const;

/** A kind of write the fence guards: the metric label of a refused one. */
export type FencedWrite = (typeof FENCED_WRITES)[number];

/** Why this replica may not write now. */
export const NOT_LEADING =
  "this replica no longer leads (its Lease was not renewed within the renew deadline, or another replica holds it)";

/**
 * A write the fence refused. Never tried again by `retry()` (`final`), and answered 503 to
 * Alertmanager, which sends the notification again, to the leader.
 */
export class Fenced extends KubeError {
  readonly write: FencedWrite;
  readonly final = true;

  constructor(write: FencedWrite, target: string) {
    super(`Refused to send ${write} of ${target}: ${NOT_LEADING}`, 503);
    this.write = write;
  }
}

/** Whether `err` is a write the fence refused. */
export function isFenced(err: unknown): err is Fenced {
  return err instanceof Fenced;
}

/**
 * Checks this replica's authority immediately before a write is sent. Without leader election
 * it always lets writes pass; with it, only while the elector says this replica leads.
 */
export class Fence {
  #leading: () => boolean = () => true;
  #refused: (write: FencedWrite, target: string) => void = () => {};

  /** Binds the fence to the elector's verdict, and to what is told of a refused write. */
  bind(options: {
    leading: () => boolean;
    refused?: (write: FencedWrite, target: string) => void;
  }): void {
    this.#leading = options.leading;
    if (options.refused) this.#refused = options.refused;
  }

  /** Whether this replica may write now. */
  get open(): boolean {
    return this.#leading();
  }

  /** Throws {@link Fenced} unless this replica may send `write` of `target` now. */
  check(write: FencedWrite, target: string): void {
    if (this.#leading()) return;
    this.#refused(write, target);
    throw new Fenced(write, target);
  }
}
