// node-heal's log records captured while a test runs, and the counters of background failures:
// what the tests of lib/base/background.ts and of each background path read back.
import { configure, type LogRecord, reset } from "@logtape/logtape";
import type { BackgroundTask } from "../../lib/base/background.ts";
import type { Metrics } from "../../lib/report/metrics.ts";

/** Runs `fn` with node-heal's records at `warning` and above captured in `records`. */
export async function withLogs<T>(fn: (records: LogRecord[]) => Promise<T>): Promise<T> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { capture: (r) => records.push(r) },
    loggers: [
      { category: ["node-heal"], lowestLevel: "warning", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    return await fn(records);
  } finally {
    await reset();
  }
}

/** The error lines "Background task {task} failed" among `records`, for `task`. */
export function failedLines(records: LogRecord[], task: BackgroundTask): LogRecord[] {
  return records.filter((r) =>
    r.level === "error" && String(r.rawMessage).startsWith("Background task") &&
    r.properties.task === task
  );
}

/** nodeheal_background_errors_total{task}. */
export async function backgroundErrors(metrics: Metrics, task: BackgroundTask): Promise<number> {
  const { values } = await metrics.backgroundErrors.get();
  return values.find((v) => v.labels.task === task)?.value ?? 0;
}
