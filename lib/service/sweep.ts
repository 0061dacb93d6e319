// The sweep: a few times per hold TTL, every Node that needs it is reconciled and the replacement
// ledger read again, so that holds expire when their alert has not been seen for the TTL.
import type { Background } from "../base/background.ts";
import { sweepIntervalMs } from "../decide/reconcile.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import type { NodeIndex } from "../resolve/node_index.ts";
import { reconcileAll, type WatchHealth } from "./service_watch.ts";

/** What {@link startSweep} needs. */
export interface SweepOptions {
  pipeline: Pipeline;
  index: NodeIndex;
  /** The Node watch's health: an index that may be stale is not swept. */
  health: WatchHealth;
  background: Background;
  holdTtlMs: number;
}

/** Starts the sweep; the function returned stops it. */
export function startSweep(options: SweepOptions): () => void {
  const { pipeline, index, health, background } = options;
  const sweep = setInterval(
    background.guard("sweep", () => {
      if (!health.healthy) return;
      // The ledger read again: hand edits seen, a follower that stopped started again.
      background.run("resume-replacements", () => pipeline.resumeReplacements());
      background.run("breakers", () => pipeline.breakers.update());
      reconcileAll(pipeline, background, index.nodes());
    }),
    sweepIntervalMs(options.holdTtlMs),
  );
  return () => clearInterval(sweep);
}
