// The metrics of Kubernetes Events (report/events.ts): what became of each record, the Events
// waiting to be written, and how long a record waited for its write.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { EventResult, LabelledCounter } from "./labels.ts";

/** The Event metrics, registered in `registry`. */
export class EventMetrics {
  /** Records of Events, by reason and what became of them. */
  readonly results: LabelledCounter<{ reason: string; result: EventResult }>;
  /** Distinct Events waiting for a writer. */
  readonly queued: Gauge;
  /** From a record to the write that counted it, done or failed. */
  readonly delay: Histogram;

  constructor(registry: Registry) {
    this.results = new Counter({
      name: "nodeheal_events_total",
      help:
        "Kubernetes Events recorded, by reason and result (created, counted, failure, dry_run, dropped: the queue was full, or shutdown came first).",
      labelNames: ["reason", "result"] as const,
      registers: [registry],
    });
    this.queued = new Gauge({
      name: "nodeheal_events_queued",
      help:
        "Distinct Kubernetes Events waiting to be written (bounded; a new one is dropped when full).",
      registers: [registry],
    });
    this.delay = new Histogram({
      name: "nodeheal_event_delay_seconds",
      help:
        "Time from recording an Event to the end of the write that counted it, written or failed.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
  }
}
