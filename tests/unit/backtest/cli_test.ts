// `node-heal backtest` end to end against a fake Prometheus: its exit code (0 a report, 1 the
// backtest failed, 2 bad flags), and a failure told in one line on stderr, never a stack trace.
import assert from "node:assert/strict";
import { checkHeap, runBacktest } from "../../../lib/backtest/cli.ts";
import type { BacktestReport } from "../../../lib/backtest/report_types.ts";
import {
  type PrometheusRequest,
  startFakePrometheus,
  steps,
  success,
} from "../../fakes/prometheus.ts";

const WINDOW = ["--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T02:00:00Z"];
const NODE = { node: "worker-1", internal_ip: "10.0.1.1" };
const ALERT = { alertname: "NodeHighCPU", heal: "true", instance: "10.0.1.1:9100" };

/** Runs the backtest with these flags; its exit code, stdout and stderr. */
async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(`${a.join(" ")}\n`);
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  const decoder = new TextDecoder();
  const sink = { write: (bytes: Uint8Array) => Promise.resolve(out.push(decoder.decode(bytes))) };
  try {
    const code = await runBacktest(args, sink);
    return { code, out: out.join("").replace(/\n$/, ""), err: err.join("\n") };
  } finally {
    Object.assign(console, { log, error });
  }
}

/** A fake Prometheus with one Node; `range` answers the ALERTS range queries. */
function prometheus(range: (r: PrometheusRequest) => Response | Promise<Response>) {
  return startFakePrometheus((r) => {
    if (r.path === "query_range") return range(r);
    const info = r.form.get("query")!.includes("kube_node_info");
    return success("vector", info ? [{ metric: NODE, value: [0, "1"] }] : []);
  });
}

/** The alert firing at every step from `fromMinute` of the window on. */
function firing(fromMinute: number, labels: Record<string, string> = ALERT) {
  const start = Date.parse(WINDOW[1]) / 1000 + fromMinute * 60;
  return (r: PrometheusRequest) => {
    const values = steps(r.form).filter((t) => t >= start).map((t) => [t, String(t)]);
    return success("matrix", values.length ? [{ metric: labels, values }] : []);
  };
}

Deno.test("node-heal backtest exits 1 with one line naming what was wrong for each broken answer", async () => {
  const answers: [string, () => Response, RegExp][] = [
    [
      "an error page",
      () => new Response("<h1>502</h1>\n", { status: 502 }),
      /HTTP 502 and no JSON/,
    ],
    ["null", () => Response.json(null), /with null, not an API answer/],
    ["a vector", () => success("vector", []), /with a "vector", expected a "matrix"/],
    [
      "values not an array",
      () => success("matrix", [{ metric: ALERT, values: 1 }]),
      /"data.result\[0\].values" must be an array/,
    ],
    [
      "a NaN time",
      () => success("matrix", [{ metric: ALERT, values: [[1_793_491_200, "NaN"]] }]),
      /is NaN, not a time/,
    ],
    [
      "a 401",
      () => new Response("Unauthorized", { status: 401 }),
      /HTTP 401: give a token with --bearer-token-file/,
    ],
  ];
  for (const [what, answer, message] of answers) {
    await using prom = prometheus(answer);
    const r = await run(["--prometheus", prom.url, ...WINDOW]);
    assert.equal(r.code, 1, what);
    assert.equal(r.out, "", what);
    assert.match(r.err, /^node-heal backtest: [^\n]+$/, what);
    assert.match(r.err, message, what);
  }
});

Deno.test("node-heal backtest exits 2 naming the flag and the value, before asking Prometheus", async () => {
  await using prom = prometheus(firing(0));
  const cases: [string[], RegExp][] = [
    [["--prometheus", "prom:9090", ...WINDOW], /--prometheus "prom:9090"/],
    [
      ["--prometheus", prom.url, "--from", "2026-11-01T00:00:00", "--to", "2026-11-01T02:00:00Z"],
      /--from: .* got "2026-11-01T00:00:00"/,
    ],
    [
      ["--prometheus", prom.url, "--from", "1h", "--to", "2099-01-01T00:00:00Z"],
      /--to is later than now/,
    ],
    [["--prometheus", prom.url, ...WINDOW, "--step", "5m"], /--step 5m with --eval-interval 1m/],
    [["--prometheus", prom.url, ...WINDOW, "--step", "1ms"], /Cannot read 7,200,001 steps of 1ms/],
    [["--prometheus", prom.url, ...WINDOW, "--group-wait", "soon"], /--group-wait: .* got "soon"/],
    [["--prometheus", prom.url, ...WINDOW, "--json", "--html", "-"], /both --json and --html -/],
    [["--prometheus", prom.url, ...WINDOW, "--html", ""], /--html ""/],
    [
      ["--prometheus", prom.url, ...WINDOW, "--bearer-token-file", "/nonexistent"],
      /--bearer-token-file \/nonexistent/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, /^node-heal backtest: [^\n]+$/);
    assert.match(r.err, message);
  }
  assert.equal(prom.requests.length, 0);
});

Deno.test("node-heal backtest exits 1 naming a policy file that is missing, 2 one that is invalid, and its field", async () => {
  await using prom = prometheus(firing(0));
  const dir = await Deno.makeTempDir({ prefix: "node-heal-backtest-cli-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.yaml`, 'gates: { minHealthy: "151%" }\n');
    const missing = await run([
      "--prometheus",
      prom.url,
      ...WINDOW,
      "--config",
      `${dir}/none.yaml`,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, new RegExp(`Cannot load policy ${dir}/none.yaml: `));
    const bad = await run(["--prometheus", prom.url, ...WINDOW, "--config", `${dir}/bad.yaml`]);
    assert.equal(bad.code, 2, "a usage error, as serve's");
    assert.match(
      bad.err,
      new RegExp(`policy ${dir}/bad.yaml: field "gates.minHealthy" .* got "151%"`),
    );
    const unwritable = await run([
      "--prometheus",
      prom.url,
      ...WINDOW,
      "--html",
      `${dir}/no/such/dir.html`,
    ]);
    assert.equal(unwritable.code, 1);
    assert.match(unwritable.err, new RegExp(`Cannot write --html ${dir}/no/such/dir.html: `));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("node-heal backtest compares two and four policies, prints JSON, and prints the page with --html -", async () => {
  await using prom = prometheus(firing(10));
  const dir = await Deno.makeTempDir({ prefix: "node-heal-backtest-cli-" });
  try {
    const policies = ["51%", "80%", "10%", "100%"].map((m, i) => {
      const path = `${dir}/p${i}.yaml`;
      Deno.writeTextFileSync(
        path,
        `rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]\ngates: { minHealthy: "${m}" }\n`,
      );
      return path;
    });
    const configs = (n: number) => policies.slice(0, n).flatMap((p) => ["--config", p]);
    const two = await run(["--prometheus", prom.url, ...WINDOW, ...configs(2), "--json"]);
    assert.equal(two.code, 0, two.err);
    const report = JSON.parse(two.out) as BacktestReport;
    assert.deepEqual(report.runs.map((r) => r.policy), policies.slice(0, 2));
    assert.equal(report.alerts.episodes, 1);
    assert.equal(report.runs[0].decisions[0].at, "2026-11-01T00:10:10.000Z");
    const four = await run(["--prometheus", prom.url, ...WINDOW, ...configs(4)]);
    assert.equal(four.code, 0, four.err);
    assert.match(
      four.out.split("\n").find((l) => l.startsWith("policy"))!,
      new RegExp(policies.join(" +")),
    );
    const page = await run(["--prometheus", prom.url, ...WINDOW, "--html", "-"]);
    assert.equal(page.code, 0, page.err);
    assert.match(page.out, /^<!doctype html>/);
    assert.doesNotMatch(page.out, /HTML report:/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("node-heal backtest decides nothing on an alert whose notification node-heal's webhook would refuse (a label over 4096 characters)", async () => {
  const huge = { ...ALERT, description: "<script>".repeat(1000) };
  await using prom = prometheus(firing(10, huge));
  const json = await run(["--prometheus", prom.url, ...WINDOW, "--json"]);
  assert.equal(json.code, 0, json.err);
  const report = JSON.parse(json.out) as BacktestReport;
  assert.equal(report.alerts.notifications, 2);
  assert.equal(report.alerts.refused?.notifications, 2);
  assert.deepEqual(report.runs[0].decisions, []);
  const text = await run(["--prometheus", prom.url, ...WINDOW]);
  assert.match(
    text.out,
    /^Refused: 2 notifications \(2 alerts\) node-heal's webhook would refuse, first at 2026-11-01 00:10: Cannot parse payload: field "alerts\[0\]\.labels\.description" must be at most 4096 characters/m,
  );
});

Deno.test("checkHeap() refuses a replay whose decisions would not fit in the heap, naming what to change", () => {
  const heap = { limit: 288 * 2 ** 20, used: 80 * 2 ** 20 };
  checkHeap(100_000, { printed: false, heap });
  assert.throws(
    () => checkHeap(100_000, { printed: true, heap }),
    /Cannot replay 100,000 alert deliveries in a heap of 288 MB: they would take about 172 MB; give a later --from/,
  );
});

Deno.test("node-heal backtest in the compiled binary's 192 MB heap ends a replay too big for it with one line, not V8's crash", async () => {
  const MAIN = new URL("../../../main.ts", import.meta.url).pathname;
  await using prom = prometheus((r) => {
    const values = steps(r.form).map((t) => [t, String(t)]);
    return success(
      "matrix",
      Array.from(
        { length: 100 },
        (_, i) => ({ metric: { ...ALERT, instance: `10.0.2.${i}:9100` }, values }),
      ),
    );
  });
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--max-old-space-size=192",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-env",
      MAIN,
      "backtest",
      "--prometheus",
      prom.url,
      "--from",
      "2d",
      "--to",
      WINDOW[3],
      "--repeat-interval",
      "1m",
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1, err);
  assert.match(
    err,
    /^node-heal backtest: Cannot replay 144,000 alert deliveries in a heap of \d+ MB: [^\n]+\n$/,
  );
});
