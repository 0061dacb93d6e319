// The Grafana dashboard: every panel query parses as PromQL (Grafana's macros substituted) and
// reads only metrics node-heal registers; every rate uses $__rate_interval; the data source is a
// variable. tests/e2e/dashboard_test.ts runs the same queries against a real Prometheus.
import assert from "node:assert/strict";
import { Metrics } from "../../lib/report/metrics.ts";
import {
  loadDashboard,
  metricNames,
  parseErrors,
  queries,
  RUNTIME_METRICS,
  substitute,
} from "./dashboard_queries.ts";

const dashboard = await loadDashboard();

/** Every series name node-heal's registry exposes: a histogram's as its three suffixes. */
async function registered(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await new Metrics().registry.getMetricsAsJSON()) {
    if (String(m.type) === "histogram") {
      for (const s of ["_bucket", "_sum", "_count"]) names.add(`${m.name}${s}`);
    } else names.add(m.name);
  }
  return names;
}

Deno.test("the dashboard has a Prometheus data source variable, used by every panel and query", () => {
  const ds = dashboard.templating.list.find((v) => v.name === "datasource");
  assert.equal(ds?.type, "datasource");
  assert.equal(ds?.query, "prometheus");
  assert.ok(dashboard.panels.length >= 15);
  for (const panel of dashboard.panels) {
    assert.equal(panel.datasource?.uid, "${datasource}", `${panel.title} uses the variable`);
    assert.ok(panel.targets.length > 0, `${panel.title} has a query`);
    for (const t of panel.targets) {
      assert.equal(t.datasource?.uid, "${datasource}", `${panel.title} ${t.refId}`);
    }
  }
  assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length);
});

Deno.test("every panel query parses as PromQL once Grafana's macros are substituted", () => {
  const all = queries(dashboard);
  assert.ok(all.length >= 20);
  for (const q of all) {
    assert.doesNotMatch(q.expr, /\$/, `${q.panel} ${q.refId}: a macro left in ${q.expr}`);
    assert.deepEqual(parseErrors(q.expr), [], `${q.panel} ${q.refId}: ${q.expr}`);
  }
});

Deno.test("the parse check fails on broken PromQL, so the check above can fail", () => {
  assert.notDeepEqual(parseErrors("sum(rate(x[1m])"), []);
  assert.notDeepEqual(parseErrors('rate(x{job=~"a"}[$__rate_interval])'), []);
  assert.deepEqual(parseErrors(substitute('rate(x{job=~"$job"}[$__rate_interval])')), []);
});

Deno.test("every range in a panel query is $__rate_interval", () => {
  for (const q of queries(dashboard)) {
    for (const [range] of q.raw.matchAll(/\[[^\]]*\]/g)) {
      assert.equal(range, "[$__rate_interval]", `${q.panel} ${q.refId}: ${q.raw}`);
    }
  }
});

Deno.test("every metric a panel reads is registered by node-heal, or is a runtime metric", async () => {
  const names = await registered();
  assert.ok(names.has("nodeheal_drain_duration_seconds_bucket"));
  const pending = new Set<string>();
  const used = new Set<string>();
  for (const q of queries(dashboard)) {
    const selected = metricNames(q.expr);
    assert.ok(selected.length > 0, `${q.panel} ${q.refId} reads a metric`);
    for (const name of selected) {
      used.add(name);
      if (names.has(name) || name === "up") continue;
      assert.ok(RUNTIME_METRICS.includes(name), `${q.panel} ${q.refId}: ${name} does not exist`);
      pending.add(name);
    }
  }
  if (pending.size) {
    console.log(
      `TODO pending runtime metrics, not yet registered here: ${[...pending].join(", ")}`,
    );
  }
  // The dashboard covers what the issue asks for.
  for (
    const name of [
      "nodeheal_alertmanager_notifications_total",
      "nodeheal_alerts_total",
      "nodeheal_decisions_total",
      "nodeheal_indexed_nodes",
      "nodeheal_actions_total",
      "nodeheal_drain_duration_seconds_bucket",
      "nodeheal_replace_duration_seconds_bucket",
      "nodeheal_evictions_total",
      "nodeheal_webhook_duration_seconds_bucket",
      "nodeheal_notifications_total",
      "nodeheal_leader",
      "process_resident_memory_bytes",
      "nodeheal_event_loop_lag_seconds",
    ]
  ) assert.ok(used.has(name), `a panel shows ${name}`);
});

Deno.test("the metric check sees names in selectors, not in labels or functions", () => {
  assert.deepEqual(
    metricNames('histogram_quantile(0.9, sum by (le) (rate(a_bucket{job="up"}[1m]))) / b'),
    ["a_bucket", "b"],
  );
});
