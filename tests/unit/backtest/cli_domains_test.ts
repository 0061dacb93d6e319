// `node-heal backtest --config a.yaml --config b.yaml` on a zone storm, end to end against a fake
// Prometheus: the Nodes' zones read from kube_node_labels, both policies measured per zone, and
// only the one with a breaker reporting its opening.
import assert from "node:assert/strict";
import { runBacktest } from "../../../lib/backtest/cli.ts";
import type { BacktestReport } from "../../../lib/backtest/report_types.ts";
import {
  type PrometheusRequest,
  startFakePrometheus,
  steps,
  success,
} from "../../fakes/prometheus.ts";

const FROM = Date.parse("2026-11-01T00:00:00Z") / 1000;
const WINDOW = ["--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T03:00:00Z"];
const ZONE = "topology.kubernetes.io/zone";
/** Eight workers: w1-w4 in zone a (rack r1, r2), w5-w8 in zone b. */
const NODES = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => ({
  name: `w${i}`,
  ip: `10.0.1.${i}`,
  zone: i <= 4 ? "zone-a" : "zone-b",
  rack: `r${Math.ceil(i / 2)}`,
}));
/** w1-w4 alert from minute 10 (w3, w4 from 11) to 50; w5 from 20 to 60. */
const SICK: [number, number, number][] = [[1, 10, 50], [2, 10, 50], [3, 11, 50], [4, 11, 50], [
  5,
  20,
  60,
]];

function answer(r: PrometheusRequest): Response {
  if (r.path === "query_range") {
    return success(
      "matrix",
      SICK.map(([i, from, to]) => ({
        metric: { alertname: "NodeKernelDeadlock", heal: "true", instance: `10.0.1.${i}:9100` },
        values: steps(r.form).filter((t) => t >= FROM + from * 60 && t < FROM + to * 60)
          .map((t) => [t, String(t)]),
      })),
    );
  }
  const query = r.form.get("query")!;
  if (query.includes("kube_node_info")) {
    return success(
      "vector",
      NODES.map((n) => ({ metric: { node: n.name, internal_ip: n.ip }, value: [FROM, "1"] })),
    );
  }
  if (query.includes("kube_node_labels")) {
    return success(
      "vector",
      NODES.map((n) => ({
        metric: {
          node: n.name,
          label_topology_kubernetes_io_zone: n.zone,
          label_example_com_rack: n.rack,
        },
        value: [FROM, "1"],
      })),
    );
  }
  return success("vector", []);
}

const RULES = `rules:
  - name: heal
    match: ['heal="true"']
    actions: [drain]
    drainAfter: 2m
`;
const PLAIN = `${RULES}gates: { minHealthy: "50%", maxConcurrent: 4, cooldown: 0s }\n`;
const GUARDED = `${RULES}gates:
  minHealthy: "50%"
  maxConcurrent: 4
  cooldown: 0s
  domains:
    - { key: ${ZONE}, maxUnavailable: 1 }
    - { key: example.com/rack, maxConcurrent: 2 }
  breaker: { key: ${ZONE}, alerting: 3, within: 5m, quiet: 15m }
`;

async function backtest(args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const decoder = new TextDecoder();
  const sink = { write: (b: Uint8Array) => Promise.resolve(out.push(decoder.decode(b))) };
  const { error } = console;
  console.error = () => {};
  try {
    return { code: await runBacktest(args, sink), out: out.join("") };
  } finally {
    console.error = error;
  }
}

Deno.test("node-heal backtest compares two policies' blast radius per zone: the budget and the breaker keep the storm's zone to 1 out", async () => {
  await using prom = startFakePrometheus(answer);
  const dir = await Deno.makeTempDir({ prefix: "node-heal-backtest-domains-" });
  try {
    await Deno.writeTextFile(`${dir}/plain.yaml`, PLAIN);
    await Deno.writeTextFile(`${dir}/guarded.yaml`, GUARDED);
    const configs = ["--config", `${dir}/plain.yaml`, "--config", `${dir}/guarded.yaml`];
    const json = await backtest(["--prometheus", prom.url, ...WINDOW, ...configs, "--json"]);
    assert.equal(json.code, 0);
    const [plain, guarded] = (JSON.parse(json.out) as BacktestReport).runs;
    const peak = (run: typeof plain, key: string, value: string) =>
      run.peakOutByDomain.find((p) => p.key === key && p.value === value)?.peak;
    assert.ok(peak(plain, ZONE, "zone-a")! > 1, `plain: ${peak(plain, ZONE, "zone-a")}`);
    assert.ok(peak(guarded, ZONE, "zone-a")! <= 1, `guarded: ${peak(guarded, ZONE, "zone-a")}`);
    assert.equal(peak(guarded, ZONE, "zone-b"), 1);
    // The rack key, read back from kube_node_labels' label_example_com_rack, is measured too.
    assert.equal(peak(plain, "example.com/rack", "r1"), 2);
    assert.deepEqual(plain.breakers, []);
    assert.deepEqual(guarded.breakers.map((b) => [b.domain, b.count]), [["zone zone-a", 3]]);
    assert.equal(guarded.totals.drains, 1, "only zone b's node drained");

    const text = await backtest(["--prometheus", prom.url, ...WINDOW, ...configs]);
    assert.equal(text.code, 0);
    assert.match(text.out, /^breaker openings +0 +1, 1 node held$/m);
    assert.match(text.out, /^peak out, zone zone-a +4 of 4 at \S+ \S+ +1 of 4 at /m);
    assert.match(text.out, /^Breakers of .*guarded\.yaml:\n {2}zone zone-a +opened /m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
