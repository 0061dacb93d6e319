// The Grafana dashboard of manifests/monitoring/dashboard.json as the tests see it: every panel's
// queries, with Grafana's macros and variables substituted so that Prometheus (or a PromQL
// parser) can take them, and the metric names each one reads.
import { parser } from "@prometheus-io/lezer-promql";

export interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}

export interface Panel {
  id: number;
  title: string;
  type: string;
  datasource?: { type?: string; uid?: string };
  targets: Target[];
}

export interface Dashboard {
  title: string;
  templating: { list: { name: string; type: string; query: unknown }[] };
  panels: Panel[];
}

export async function loadDashboard(): Promise<Dashboard> {
  const url = new URL("../../manifests/monitoring/dashboard.json", import.meta.url);
  return JSON.parse(await Deno.readTextFile(url));
}

/**
 * The metrics another change adds (process and runtime metrics, build info). The dashboard may
 * use them before they exist here; the tests then report them as pending instead of failing, and
 * check them strictly once they are registered.
 */
export const RUNTIME_METRICS = [
  "nodeheal_build_info",
  "process_resident_memory_bytes",
  "process_cpu_seconds_total",
  "process_open_fds",
  "process_start_time_seconds",
  "nodeheal_event_loop_lag_seconds",
  "nodeheal_heap_used_bytes",
];

/**
 * A query as Prometheus would receive it from Grafana: `$__rate_interval` and `$__interval` as a
 * range, `$__range` as the dashboard's span, `$job` (a regex matcher) as any job.
 */
export function substitute(expr: string, job = ".+"): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("${__rate_interval}", "1m")
    .replaceAll("$__interval", "1m")
    .replaceAll("${__interval}", "1m")
    .replaceAll("$__range", "1h")
    .replaceAll("${__range}", "1h")
    .replaceAll("${job}", job)
    .replaceAll("$job", job);
}

/** The parse errors of a PromQL expression (positions and the text around them). */
export function parseErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) {
        errors.push(`at ${node.from}: "${expr.slice(Math.max(0, node.from - 10), node.to + 10)}"`);
      }
    },
  });
  return errors;
}

/** The metric names a PromQL expression selects. */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.name !== "VectorSelector") return;
      const id = node.node.getChild("Identifier");
      if (id) names.add(expr.slice(id.from, id.to));
    },
  });
  return [...names];
}

/** Every panel's every query, substituted. */
export function queries(dashboard: Dashboard, job?: string) {
  return dashboard.panels.flatMap((panel) =>
    panel.targets.map((target) => ({
      panel: panel.title,
      refId: target.refId,
      raw: target.expr,
      expr: substitute(target.expr, job),
    }))
  );
}
