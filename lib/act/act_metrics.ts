// What act counts as it writes Nodes and drains them. act owns this interface so that it imports
// nothing above it: report's Metrics has these members, and service/ hands one in.
import type { Background } from "../base/background.ts";

/** Label values as a metric takes them. */
type Labels<L extends string> = Partial<Record<L, string | number>>;

/** A counter by labels. */
export interface ActCounter<L extends string> {
  inc(labels: Labels<L>, value?: number): void;
}

/** A histogram by labels. */
export interface ActHistogram<L extends string> {
  observe(labels: Labels<L>, value: number): void;
}

/** The metrics act records: writes, evictions, drains, and its background tasks. */
export interface ActMetrics {
  /** Writes to Nodes, by action and result. */
  actions: ActCounter<"action" | "result">;
  /** Eviction attempts, by result. */
  evictions: ActCounter<"result">;
  /** How long drains took, by outcome. */
  drainSeconds: ActHistogram<"outcome">;
  /** Pods each finished drain evicted, by outcome. */
  drainEvictedPods: ActHistogram<"outcome">;
  /** Runs act's timers as background tasks: what one throws is logged and counted. */
  background: Background;
}
