import assert from "node:assert/strict";
import { startDemoPrometheus } from "../../../lib/backtest/demo_prometheus.ts";
import { DEMO_WINDOW } from "../../../lib/backtest/demo_history.ts";
import { PrometheusApi } from "../../../lib/backtest/prometheus.ts";
import { parseBacktestArgs } from "../../../lib/backtest/cli_args.ts";

const NOW = new Date("2026-12-07T00:00:00Z");

Deno.test("the demo's Prometheus answers the backtest's client: ALERTS firing minute by minute, stale at once after", async () => {
  const demo = startDemoPrometheus();
  try {
    const api = new PrometheusApi(demo.url);
    // Monday's NodeHighCPU on worker-2: 09:12 to 09:47.
    const from = new Date("2026-11-02T09:10:00Z"), to = new Date("2026-11-02T09:50:00Z");
    const [series, ...rest] = await api.queryRange(
      'timestamp(ALERTS{alertstate="firing",heal="true",instance=~"10.0.1.12:.*"})',
      { from, to, stepMs: 60_000 },
    );
    assert.deepEqual(rest, []);
    assert.equal(series.labels.alertname, "NodeHighCPU");
    assert.equal(series.labels.__name__, undefined);
    const times = series.points.map(([t]) => new Date(t).toISOString().slice(11, 16));
    assert.equal(times[0], "09:12");
    assert.equal(times.at(-1), "09:46");
    assert.equal(times.length, 35);
    assert.ok(series.points.every(([t, v]) => t === v * 1000), "the value is the sample's time");
  } finally {
    await demo.close();
  }
});

Deno.test("the demo's Prometheus answers kube_node_* instant queries and refuses what it does not know", async () => {
  const demo = startDemoPrometheus();
  try {
    const api = new PrometheusApi(demo.url);
    const info = await api.query("last_over_time(kube_node_info[604800s])", DEMO_WINDOW.to);
    assert.equal(info.length, 9);
    const cordoned = await api.query("kube_node_spec_unschedulable", DEMO_WINDOW.from);
    assert.deepEqual(
      cordoned.filter((s) => s.points[0][1] === 1).map((s) => s.labels.node),
      ["worker-8"],
    );
    await assert.rejects(
      api.query("sum(up)", DEMO_WINDOW.to),
      /refused query "sum\(up\)": bad_data: "the demo's Prometheus answers a selector/,
    );
  } finally {
    await demo.close();
  }
});

Deno.test("parseBacktestArgs() --demo: the demo's week and page, and no other history", () => {
  const c = parseBacktestArgs(["--demo"], NOW);
  assert.ok(c !== "help");
  assert.equal(c.demo, true);
  assert.equal(c.from.toISOString(), "2026-11-02T00:00:00.000Z");
  assert.equal(c.to.toISOString(), "2026-11-09T00:00:00.000Z");
  assert.equal(c.html, "backtest-demo.html");
  const own = parseBacktestArgs(["--demo", "--html", "-"], NOW);
  assert.ok(own !== "help");
  assert.equal(own.html, "-");
  for (const flag of ["--prometheus=http://p:9090", "--from=7d", "--to=1d", "--nodes=cluster"]) {
    assert.throws(
      () => parseBacktestArgs(["--demo", flag], NOW),
      new RegExp(`Cannot use ${flag.split("=")[0]} with --demo`),
    );
  }
});
