// `node-heal backtest` as a process under the shipped binary's heap (192 MB) against a Prometheus
// whose answers are hostile (issue 27): each ends the backtest with one line and exit code 1, never
// V8's crash or a hang; samples merely outside the window are left out and counted.
import assert from "node:assert/strict";
import {
  HOSTILE_ANSWERS,
  hostilePrometheus,
  runBacktestProcess,
} from "../../fakes/hostile_prometheus.ts";
import { startFakePrometheus, steps, success } from "../../fakes/prometheus.ts";

const EXPECTED: Record<string, RegExp> = {
  "200 MB of series, streamed": /answered query_range with more than 20,000 series/,
  "200 MB of white space in one answer": /with more than 64 MiB \(--max-answer-bytes\)/,
  "2 M empty series": /answered query_range with more than 20,000 series/,
  "one sample at t=1e15": /"data.result\[0\].values\[0\]\[0\]" must be a time from 1970 to 9999/,
  'timestamp() "1e15" at a time in the window': /is 1000000000000000, later than the step/,
  'a value "NaN"': /is NaN, not a time/,
  'a value "garbage"': /must be a number such as "1.5", "NaN" or "\+Inf", got "garbage"/,
  "a time that is a string": /"data.result\[0\].values\[0\]" must be \[time, "value"\]/,
};

for (const answer of HOSTILE_ANSWERS) {
  Deno.test(`node-heal backtest under the binary's heap ends with one line and exit 1 on ${answer.name}`, async () => {
    await using prom = hostilePrometheus(answer);
    const run = await runBacktestProcess(prom.url, { deadlineMs: 45_000 });
    assert.ok(!run.hung, `${answer.name}: still running at 45 s`);
    assert.equal(run.code, 1, `${answer.name}: ${run.signal ?? ""} ${run.stderr.slice(0, 2000)}`);
    assert.match(run.stderr, /^node-heal backtest: [^\n]+\n$/, "one line");
    assert.match(run.stderr, EXPECTED[answer.name]);
  });
}

Deno.test("node-heal backtest leaves out the samples answered outside the window asked for, and says how many", async () => {
  const alert = { alertname: "NodeHighCPU", heal: "true", instance: "10.0.1.1:9100" };
  await using prom = startFakePrometheus((r) => {
    if (r.path !== "query_range") {
      const info = r.form.get("query")!.includes("kube_node_info");
      return success(
        "vector",
        info ? [{ metric: { node: "w", internal_ip: "10.0.1.1" }, value: [0, "1"] }] : [],
      );
    }
    const ts = steps(r.form);
    const values = ts.map((t) => [t, String(t)]);
    // A year later and a minute before the window's step before: left out.
    values.push([ts.at(-1)! + 365 * 86_400, "1"], [ts[0] - 120, "1"]);
    return success("matrix", [{ metric: alert, values }]);
  });
  const run = await runBacktestProcess(prom.url, { deadlineMs: 45_000 });
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stderr,
    /^node-heal backtest: Prometheus at http:\/\/127.0.0.1:\d+ answered 2 samples outside the window asked for; they were left out\n$/,
  );
});
