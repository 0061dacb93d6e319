// The backtest's history fixture (history.ts): its OpenMetrics as written, its ALERTS labels
// against what promtool computes from the rules, and ROLLOUT_HISTORY backfilled by the real
// promtool and read back through a real Prometheus's HTTP API.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { hasTool } from "../support/processes.ts";
import {
  alertRuleLabels,
  alertSeriesLabels,
  backfill,
  type Episode,
  labelText,
  openMetrics,
  ROLLOUT_EPISODES,
  ROLLOUT_HISTORY,
  type Scenario,
  startPrometheus,
} from "./history.ts";
import { need } from "./stack.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// Without promtool or prometheus the backfill test is skipped, except under CI, where it fails.
const CI = !["", "0", "false"].includes(Deno.env.get("CI") ?? "");
const HINT = "apt-get install prometheus";
const TOOLS = CI || ((await hasTool("promtool", HINT)) && (await hasTool("prometheus", HINT)));

/** A small scenario: one control-plane Node created a minute in, briefly cordoned and Unknown. */
function tiny(): Scenario {
  const start = new Date("2026-01-01T00:00:00Z");
  const at = (m: number) => new Date(start.getTime() + m * MINUTE);
  return {
    start,
    end: at(3),
    intervalMs: MINUTE,
    ksmTarget: { job: "kube-state-metrics", instance: "10.244.0.9:8080" },
    nodes: [{
      name: "n1",
      internalIP: "10.0.0.7",
      role: "control-plane",
      zone: "z",
      instanceType: "t",
      providerID: "p",
      kernelVersion: "k",
      osImage: 'Ubuntu "Jammy"',
      containerRuntimeVersion: "c",
      kubeletVersion: "v",
      created: at(1),
      notReady: [{ from: at(2), to: at(3), status: "unknown" }],
      cordoned: [{ from: at(1), to: at(2) }],
    }],
    firings: [{
      alertname: "NodeMemoryPressure",
      labels: { instance: "10.0.0.7:9100", job: "node-exporter" },
      start: at(1),
      end: at(3),
    }],
  };
}

const TINY_RULES = new Map([["NodeMemoryPressure", { severity: "warning", heal: "true" }]]);

Deno.test("openMetrics writes each family's series contiguously, in time order, in seconds, ending with # EOF", () => {
  const ksm = 'instance="10.244.0.9:8080",job="kube-state-metrics"';
  const alert = 'ALERTS{alertname="NodeMemoryPressure",alertstate="firing",heal="true",' +
    'instance="10.0.0.7:9100",job="node-exporter",severity="warning"}';
  const info = `kube_node_info{container_runtime_version="c",instance="10.244.0.9:8080",` +
    `internal_ip="10.0.0.7",job="kube-state-metrics",kernel_version="k",kubelet_version="v",` +
    `node="n1",os_image="Ubuntu \\"Jammy\\"",provider_id="p"}`;
  const labels = `kube_node_labels{${ksm},label_kubernetes_io_hostname="n1",` +
    `label_node_kubernetes_io_instance_type="t",label_topology_kubernetes_io_zone="z",node="n1"}`;
  const condition = (s: string) =>
    `kube_node_status_condition{condition="Ready",${ksm},node="n1",status="${s}"}`;
  const [s1, s2] = [1767225660, 1767225720];
  assert.equal(
    [...openMetrics(tiny(), TINY_RULES)].join(""),
    [
      "# TYPE ALERTS gauge",
      `${alert} 1 ${s1}`,
      `${alert} 1 ${s2}`,
      "# TYPE kube_node_info gauge",
      `${info} 1 ${s1}`,
      `${info} 1 ${s2}`,
      "# TYPE kube_node_role gauge",
      `kube_node_role{${ksm},node="n1",role="control-plane"} 1 ${s1}`,
      `kube_node_role{${ksm},node="n1",role="control-plane"} 1 ${s2}`,
      "# TYPE kube_node_labels gauge",
      `${labels} 1 ${s1}`,
      `${labels} 1 ${s2}`,
      "# TYPE kube_node_status_condition gauge",
      `${condition("true")} 1 ${s1}`,
      `${condition("true")} 0 ${s2}`,
      `${condition("false")} 0 ${s1}`,
      `${condition("false")} 0 ${s2}`,
      `${condition("unknown")} 0 ${s1}`,
      `${condition("unknown")} 1 ${s2}`,
      "# TYPE kube_node_spec_unschedulable gauge",
      `kube_node_spec_unschedulable{${ksm},node="n1"} 1 ${s1}`,
      `kube_node_spec_unschedulable{${ksm},node="n1"} 0 ${s2}`,
      "# TYPE kube_node_created gauge",
      `kube_node_created{${ksm},node="n1"} 1767225660 ${s1}`,
      `kube_node_created{${ksm},node="n1"} 1767225660 ${s2}`,
      "# EOF",
      "",
    ].join("\n"),
  );
});

Deno.test("openMetrics of a slice writes only the samples inside it, under every family's TYPE line", () => {
  const scenario = tiny();
  const from = new Date(scenario.start.getTime() + 2 * MINUTE);
  const text = [...openMetrics(scenario, TINY_RULES, { from, to: scenario.end })].join("");
  const samples = text.split("\n").filter((l) => l && !l.startsWith("#"));
  assert.equal(samples.length, 9, "one sample of each of the 9 series");
  assert.ok(samples.every((l) => l.endsWith(" 1767225720")), text);
  assert.equal(text.split("\n").filter((l) => l.startsWith("# TYPE")).length, 7);
});

Deno.test("openMetrics refuses a firing off the minute, outside the window, overlapping another, or of no rule", () => {
  const scenario = tiny();
  const at = (m: number, s = 0) => new Date(scenario.start.getTime() + m * MINUTE + s * 1000);
  const render = (firings: Scenario["firings"]) => [
    ...openMetrics({ ...scenario, firings }, TINY_RULES),
  ];
  const f = scenario.firings[0];
  assert.throws(() => render([{ ...f, start: at(1, 30) }]), /not a multiple of 60000 ms/);
  assert.throws(() => render([{ ...f, end: at(4) }]), /not a period inside the scenario's window/);
  assert.throws(
    () => render([{ ...f, start: at(0), end: at(1) }, { ...f, start: at(1), end: at(2) }]),
    /overlaps or touches another firing/,
  );
  assert.throws(() => render([{ ...f, alertname: "NoSuchAlert" }]), /no rule .* fires NoSuchAlert/);
});

Deno.test("ROLLOUT_HISTORY's ALERTS carry the manifest's rule labels and the labels promtool computes from each rule's expression", async () => {
  // tests/rules/alert-rule.test.yaml holds what `promtool test rules` found each rule to fire
  // (tests/repo/alert_rules_test.ts runs it): its expected labels for each alertname.
  const unitTests = parse(
    await Deno.readTextFile(new URL("../rules/alert-rule.test.yaml", import.meta.url)),
  ) as {
    tests: {
      alert_rule_test?: {
        alertname: string;
        exp_alerts?: { exp_labels: Record<string, string> }[];
      }[];
    }[];
  };
  const promtoolLabels = new Map<string, Record<string, string>>();
  for (const a of unitTests.tests.flatMap((t) => t.alert_rule_test ?? [])) {
    for (const e of a.exp_alerts ?? []) promtoolLabels.set(a.alertname, e.exp_labels);
  }
  const rules = await alertRuleLabels();
  const start = new Date("2026-01-01T00:00:00Z");
  const scenario = ROLLOUT_HISTORY(start);
  for (const f of scenario.firings) {
    const labels = alertSeriesLabels(f, rules);
    const expected = promtoolLabels.get(f.alertname)!;
    assert.ok(expected, `a promtool unit test of ${f.alertname}`);
    assert.deepEqual(
      Object.keys(labels).sort(),
      [...Object.keys(expected), "alertname", "alertstate"].sort(),
      `${f.alertname}: the label names promtool found`,
    );
    for (const name of ["severity", "heal", "heal_action", "namespace"]) {
      assert.equal(labels[name], expected[name], `${f.alertname}: ${name}`);
    }
  }
  assert.equal(
    labelText(alertSeriesLabels(scenario.firings[0], rules)),
    [
      '{alertname="NodeHighCPU",alertstate="firing",heal="true",heal_action="cordon",',
      'instance="10.0.1.1:9100",namespace="monitoring",severity="warning"}',
    ].join(""),
  );
  assert.equal(scenario.nodes.length, 11);
  assert.equal(ROLLOUT_EPISODES(start).length, 11, "a, b, the rollout's 6, d and e's 2");
});

/** One series of a range query's answer. */
interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

/** A GET of Prometheus's HTTP API; the answer's data, or a thrown error answer. */
async function api<T>(url: string, path: string, params: Record<string, string>): Promise<T> {
  const r = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
  const body = await r.json();
  if (body.status !== "success") {
    throw new Error(`${path} ${params.query}: ${body.errorType}: ${body.error}`);
  }
  return body.data.result as T;
}

/** An instant query at a time: its series' labels and values. */
function instant(url: string, query: string, time: Date) {
  return api<{ metric: Record<string, string>; value: [number, string] }[]>(url, "query", {
    query,
    time: String(time.getTime() / 1000),
  });
}

/**
 * The firing periods in an answer of `timestamp(ALERTS...)`: each series' distinct values are
 * its samples' times; a run of consecutive minutes is one episode.
 */
function episodesIn(series: RangeSeries[]): Episode[] {
  const episodes: Episode[] = [];
  for (const s of series) {
    const minutes = [...new Set(s.values.map(([, v]) => Number(v) * 1000))].sort((a, b) => a - b);
    let first = minutes[0];
    minutes.forEach((m, i) => {
      if (minutes[i + 1] === m + MINUTE) return;
      episodes.push({
        alertname: s.metric.alertname,
        instance: s.metric.instance,
        start: new Date(first),
        end: new Date(m + MINUTE),
      });
      first = minutes[i + 1];
    });
  }
  return episodes;
}

/** Episodes as sortable lines, for a readable diff. */
const lines = (episodes: Episode[]) =>
  episodes.map((e) =>
    `${e.start.toISOString()} ${e.end.toISOString()} ${e.alertname} ${e.instance}`
  ).sort();

Deno.test({
  name:
    "ROLLOUT_HISTORY backfilled by promtool is served by a real Prometheus: every firing minute, the 11 Nodes, cp-1's role",
  ignore: !TOOLS,
  fn: async () => {
    await need("promtool");
    await need("prometheus");
    // Whole UTC days, 4 before today's: the blocks end at least a day before Prometheus's head.
    const today = Math.floor(Date.now() / DAY) * DAY;
    const start = new Date(today - 4 * DAY);
    const at = (day: number, hh: number, mm: number) =>
      new Date(start.getTime() + day * DAY + hh * HOUR + mm * MINUTE);
    const scenario = ROLLOUT_HISTORY(start);
    const rules = await alertRuleLabels();
    const dir = await Deno.makeTempDir({ prefix: "node-heal-history-" });
    let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
    let failed = true;
    try {
      const t0 = performance.now();
      const dataDir = await backfill(scenario, dir);
      const t1 = performance.now();
      prometheus = await startPrometheus(dataDir);
      const t2 = performance.now();
      console.log(
        `history: backfill ${Math.round(t1 - t0)} ms, Prometheus ready ${Math.round(t2 - t1)} ms`,
      );
      const url = prometheus.url;

      // Every firing minute, read as the samples' own times.
      const expectedSeries = new Set(
        scenario.firings.map((f) => labelText(alertSeriesLabels(f, rules))),
      );
      const range = {
        query: 'timestamp(ALERTS{alertstate="firing",heal="true"})',
        start: String(scenario.start.getTime() / 1000),
        end: String(scenario.end.getTime() / 1000),
        step: "60",
      };
      // Prometheus answers /-/ready once its TSDB has opened the blocks: nothing left to wait for.
      const series = await api<RangeSeries[]>(url, "query_range", range);
      assert.deepEqual(
        series.map((s) => labelText(s.metric)).sort(),
        [...expectedSeries].sort(),
        "one series per distinct alert label set, with the rule's and the expression's labels",
      );
      assert.deepEqual(lines(episodesIn(series)), lines(ROLLOUT_EPISODES(start)));

      // The same, spelled out for the rollout and the filesystem alert's gap.
      const found = episodesIn(series);
      const rollout = found.filter((e) => e.alertname === "NodeMemoryPressure");
      assert.deepEqual(
        rollout.map((e) => e.instance).sort(),
        [3, 4, 5, 6, 7, 8].map((i) => `10.0.1.${i}:9100`).sort(),
      );
      for (const e of rollout) {
        assert.deepEqual([e.start, e.end], [at(1, 3, 0), at(1, 4, 0)], e.instance);
      }
      const fs = series.filter((s) => s.metric.alertname === "NodeFilesystemAlmostFull");
      assert.equal(fs.length, 1, "one series: the same label set fired twice");
      assert.deepEqual(
        episodesIn(fs).map((e) => [e.start, e.end]),
        [[at(2, 8, 0), at(2, 8, 40)], [at(2, 8, 50), at(2, 9, 30)]],
      );
      const fsMinutes = new Set(fs[0].values.map(([, v]) => Number(v) * 1000));
      assert.ok(fsMinutes.has(at(2, 8, 39).getTime()) && fsMinutes.has(at(2, 8, 50).getTime()));
      for (let m = 40; m < 50; m++) assert.ok(!fsMinutes.has(at(2, 8, m).getTime()), `08:${m}`);

      // No staleness marker after a backfilled series: its last sample stays visible for the
      // lookback delta (5m), as timestamp()'s repeated value shows.
      const cpu = series.find((s) => s.metric.instance === "10.0.1.1:9100")!;
      const [lastAt, lastValue] = cpu.values.at(-1)!;
      assert.equal(Number(lastValue) * 1000, at(0, 2, 39).getTime());
      const visibleAfter = lastAt * 1000 - at(0, 2, 39).getTime();
      assert.ok(4 * MINUTE <= visibleAfter && visibleAfter <= 5 * MINUTE, `${visibleAfter} ms`);

      // kube-state-metrics: 11 Nodes with their InternalIPs, every minute of the window.
      const end = scenario.end;
      const info = await instant(url, "last_over_time(kube_node_info[4d])", end);
      assert.deepEqual(
        Object.fromEntries(info.map((s) => [s.metric.node, s.metric.internal_ip])),
        Object.fromEntries([
          ["cp-1", "10.0.0.1"],
          ...Array.from({ length: 10 }, (_, k) => [
            `worker-${String(k + 1).padStart(2, "0")}`,
            `10.0.1.${k + 1}`,
          ]),
        ]),
      );
      assert.equal(info.length, 11);
      const lastMinute = new Date(end.getTime() - MINUTE);
      const counts = await instant(url, "count_over_time(kube_node_info[3d])", lastMinute);
      assert.deepEqual(counts.map((s) => s.value[1]), Array(11).fill(String(3 * 24 * 60)));
      const roles = await instant(url, "last_over_time(kube_node_role[4d])", end);
      assert.deepEqual(
        roles.map((s) => [s.metric.node, s.metric.role]),
        [["cp-1", "control-plane"]],
      );
      const ready = await instant(
        url,
        'sum by (status) (max_over_time(kube_node_status_condition{condition="Ready"}[3d]))',
        lastMinute,
      );
      assert.deepEqual(
        Object.fromEntries(ready.map((s) => [s.metric.status, s.value[1]])),
        { true: "11", false: "0", unknown: "0" },
        "every Node Ready throughout",
      );
      const zones = await instant(
        url,
        "count by (label_topology_kubernetes_io_zone) (last_over_time(kube_node_labels[4d]))",
        end,
      );
      assert.equal(zones.length, 2, "two zones");
      const created = await instant(url, "last_over_time(kube_node_created[4d])", end);
      assert.ok(
        created.every((s) => Number(s.value[1]) * 1000 === start.getTime() - 30 * DAY),
        "created a month before the window",
      );
      failed = false;
    } finally {
      const log = await prometheus?.stop();
      if (failed && log) console.error(`prometheus logged:\n${log}`);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
