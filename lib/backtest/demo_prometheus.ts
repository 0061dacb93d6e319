// The Prometheus `node-heal backtest --demo` reads: a small server on loopback that answers the
// part of Prometheus's HTTP API the backtest asks (`/api/v1/query_range` and `/api/v1/query`, GET
// or POST, with the queries history.ts and cluster_source.ts send), from the demo's generated
// week (demo_history.ts): ALERTS as the rule evaluations wrote them (one sample a minute while an
// alert fires, a staleness marker when it stops) and kube-state-metrics' `kube_node_*` series
// scraped every minute. The backtest reads it through its own Prometheus client, as any other.
import { DEMO_EVAL_MS, DEMO_NODES, demoEpisodes, type DemoNode } from "./demo_history.ts";
import { ksmLabel } from "./cluster_source.ts";

/** A series: its labels, and the spans in which it has a sample every {@link DEMO_EVAL_MS}. */
export interface DemoSeries {
  labels: Record<string, string>;
  /** `end` excluded: a staleness marker at `end` ends the span. */
  spans: { start: number; end: number; value: number }[];
}

/** One label matcher of a selector. */
interface Matcher {
  name: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
}

/** Prometheus refuses a range query of more points than this per series. */
const MAX_POINTS = 11_000;
/** When the demo's Nodes joined: long before its week. */
const CREATED = Date.parse("2026-09-01T00:00:00Z");

/** The series of the demo's week: ALERTS and kube-state-metrics' Nodes. */
export function demoSeries(): DemoSeries[] {
  const alerts = new Map<string, DemoSeries>();
  for (const e of demoEpisodes()) {
    const labels = { __name__: "ALERTS", alertstate: "firing", ...e.labels };
    const key = JSON.stringify(Object.entries(labels).sort());
    const series: DemoSeries = alerts.get(key) ?? { labels, spans: [] };
    series.spans.push({ start: e.start.getTime(), end: e.end.getTime(), value: 1 });
    alerts.set(key, series);
  }
  return [...alerts.values(), ...DEMO_NODES.flatMap(nodeSeries)];
}

/** kube-state-metrics' series of one Node, from its creation on. */
function nodeSeries(node: DemoNode): DemoSeries[] {
  const always = (value: number) => [{ start: CREATED, end: Infinity, value }];
  const ksm = (name: string, labels: Record<string, string>, value = 1): DemoSeries => ({
    labels: { __name__: name, job: "kube-state-metrics", node: node.name, ...labels },
    spans: always(value),
  });
  return [
    ksm("kube_node_info", {
      internal_ip: node.internalIP,
      provider_id: `demo://${node.name}`,
      kubelet_version: "v1.34.2",
    }),
    ...(node.role ? [ksm("kube_node_role", { role: node.role })] : []),
    ksm("kube_node_labels", {
      [ksmLabel("kubernetes.io/hostname")]: node.name,
      [ksmLabel("topology.kubernetes.io/zone")]: node.zone,
    }),
    ksm("kube_node_created", {}, CREATED / 1000),
    ...["true", "false", "unknown"].map((status) =>
      ksm("kube_node_status_condition", { condition: "Ready", status }, status === "true" ? 1 : 0)
    ),
    ksm("kube_node_spec_unschedulable", {}, node.cordoned ? 1 : 0),
  ];
}

/**
 * The last sample of `series` in (from, to]; with `stale`, none when a staleness marker (a span's
 * end) came after it, as an instant selector sees it (a range selector sees the sample).
 */
function lastSample(series: DemoSeries, range: { from: number; to: number; stale: boolean }) {
  const { from, to } = range;
  for (const span of series.spans) {
    if (span.start > to || span.end <= from || (range.stale && span.end <= to)) continue;
    const at = span.start +
      Math.floor((Math.min(to, span.end - 1) - span.start) / DEMO_EVAL_MS) * DEMO_EVAL_MS;
    if (at > from) return { at, value: span.value };
  }
  return undefined;
}

/** A query the demo answers: a selector, alone or inside `timestamp()` or `last_over_time([Ns])`. */
export interface DemoQuery {
  matchers: Matcher[];
  fn?: "timestamp" | "last_over_time";
  rangeMs?: number;
}

const SELECTOR = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(?:\{(.*)\})?$/s;
const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/;

/** Parses the queries the backtest sends; throws on any other. */
export function parseQuery(query: string): DemoQuery {
  const text = query.trim();
  const fn = /^(timestamp|last_over_time)\s*\((.*)\)$/s.exec(text);
  if (!fn) return { matchers: parseSelector(text) };
  if (fn[1] === "timestamp") return { fn: "timestamp", matchers: parseSelector(fn[2].trim()) };
  const range = /^(.*)\[(\d+)s\]$/s.exec(fn[2].trim());
  if (!range) throw new Error(`expected last_over_time(<selector>[<seconds>s]), got "${query}"`);
  return {
    fn: "last_over_time",
    matchers: parseSelector(range[1].trim()),
    rangeMs: Number(range[2]) * 1000,
  };
}

function parseSelector(text: string): Matcher[] {
  const m = SELECTOR.exec(text);
  if (!m || (!m[1] && m[2] === undefined)) {
    throw new Error(
      `the demo's Prometheus answers a selector, timestamp() or last_over_time() of one, got "${text}"`,
    );
  }
  const matchers: Matcher[] = m[1] ? [{ name: "__name__", op: "=", value: m[1] }] : [];
  let rest = m[2] ?? "";
  while (rest.trim()) {
    const one = MATCHER.exec(rest);
    if (!one) throw new Error(`cannot parse the matchers "${m[2]}"`);
    const value = JSON.parse(`"${one[3]}"`) as string;
    matchers.push({ name: one[1], op: one[2] as Matcher["op"], value });
    rest = rest.slice(one[0].length);
  }
  return matchers;
}

function matches(labels: Record<string, string>, matchers: Matcher[]): boolean {
  return matchers.every(({ name, op, value }) => {
    const v = labels[name] ?? "";
    if (op === "=") return v === value;
    if (op === "!=") return v !== value;
    const hit = new RegExp(`^(?:${value})$`).test(v);
    return op === "=~" ? hit : !hit;
  });
}

/** The Prometheus lookback: a plain selector sees a sample at most this old. */
const LOOKBACK_MS = 5 * 60_000;

/** The value of one series for `query` at `t` (ms), if it has one then. */
function valueOf(s: DemoSeries, query: DemoQuery, t: number): number | undefined {
  const sample = lastSample(s, {
    from: t - (query.rangeMs ?? LOOKBACK_MS),
    to: t,
    stale: query.rangeMs === undefined,
  });
  if (!sample) return undefined;
  return query.fn === "timestamp" ? sample.at / 1000 : sample.value;
}

/** The labels a query's answer gives a series: a function drops the metric's name. */
function labelsOf(s: DemoSeries, query: DemoQuery): Record<string, string> {
  const labels = { ...s.labels };
  if (query.fn) delete labels.__name__;
  return labels;
}

/** Evaluates `query` at `t` (ms) over `series`: each matching series' value, if it has one. */
export function evaluate(series: DemoSeries[], query: DemoQuery, t: number) {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const s of series.filter((s) => matches(s.labels, query.matchers))) {
    const value = valueOf(s, query, t);
    if (value !== undefined) out.push({ labels: labelsOf(s, query), value });
  }
  return out;
}

/** A running demo Prometheus. */
export interface DemoPrometheus {
  url: string;
  close(): Promise<void>;
}

/** Starts the demo's Prometheus on a free loopback port. */
export function startDemoPrometheus(): DemoPrometheus {
  const series = demoSeries();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => answer(series, request),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

function error(status: number, errorType: string, message: string): Response {
  return Response.json({ status: "error", errorType, error: message }, { status });
}

/** One request to the query API: `query` (a vector) or `query_range` (a matrix). */
async function answer(series: DemoSeries[], request: Request): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname.replace(/^\/api\/v1\//, "");
  if (path !== "query" && path !== "query_range") return error(404, "not_found", url.pathname);
  const form = new URLSearchParams(url.search);
  if (request.method === "POST") {
    for (const [k, v] of new URLSearchParams(await request.text())) form.set(k, v);
  }
  let query: DemoQuery;
  try {
    query = parseQuery(form.get("query") ?? "");
  } catch (err) {
    return error(400, "bad_data", (err as Error).message);
  }
  const seconds = (name: string) => Number(form.get(name) ?? NaN) * 1000;
  if (path === "query") {
    const t = form.has("time") ? seconds("time") : Date.now();
    const result = evaluate(series, query, t).map((r) => ({
      metric: r.labels,
      value: [t / 1000, String(r.value)],
    }));
    return Response.json({ status: "success", data: { resultType: "vector", result } });
  }
  const start = seconds("start"), end = seconds("end"), step = seconds("step");
  if (!(step > 0) || !(end >= start)) return error(400, "bad_data", "invalid start, end or step");
  if ((end - start) / step + 1 > MAX_POINTS) {
    return error(
      400,
      "bad_data",
      "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
    );
  }
  return Response.json({
    status: "success",
    data: { resultType: "matrix", result: rangeOf(series, query, { start, end, step }) },
  });
}

/** A range query's matrix: each series with at least one point, its points in time order. */
function rangeOf(
  series: DemoSeries[],
  query: DemoQuery,
  range: { start: number; end: number; step: number },
) {
  const out: { metric: Record<string, string>; values: [number, string][] }[] = [];
  for (const s of series.filter((s) => matches(s.labels, query.matchers))) {
    const values: [number, string][] = [];
    for (let t = range.start; t <= range.end; t += range.step) {
      const value = valueOf(s, query, t);
      if (value !== undefined) values.push([t / 1000, String(value)]);
    }
    if (values.length > 0) out.push({ metric: labelsOf(s, query), values });
  }
  return out;
}
