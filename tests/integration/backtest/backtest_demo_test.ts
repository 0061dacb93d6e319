// `node-heal backtest --demo` as a process with `deno task backtest`'s permissions, in an empty
// folder with nothing else running: it serves its own week on loopback, reads it through the
// backtest's Prometheus client, prints the report and writes the HTML page where it says.
import assert from "node:assert/strict";
import type { BacktestReport } from "../../../lib/backtest/report_types.ts";
import { backtestArgs } from "../../support/processes.ts";

/** Runs `main.ts backtest` with `deno task backtest`'s permissions in `cwd`. */
async function backtest(cwd: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: backtestArgs(args),
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("node-heal backtest --demo replays its own week: the storm reaches the budget, gates hold decisions back, the page is written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-demo-" });
  try {
    const run = await backtest(dir, "--demo");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /--demo: a generated week .* at http:\/\/127\.0\.0\.1:\d+/);
    const out = run.stdout;
    assert.match(out, /^node-heal backtest, 2026-11-02 00:00 to 2026-11-09 00:00 \(step 60s\)\n/);
    assert.match(
      out,
      /History: ALERTS\{alertstate="firing",heal="true"\} from http:\/\/127\.0\.0\.1:\d+/,
    );
    assert.match(out, /Nodes: 9, from kube_node_\* series/);
    assert.match(out, /Alerts: 18 alerts, 22 firing periods, 50 notifications; 1 matched no node/);
    assert.match(out, /minHealthy +51% \(5 of 8 stay\)/);
    // worker-8 is cordoned by hand all week: the storm's 2 cordons reach the budget of 3.
    assert.match(out, /peak out \/ budget +3 \/ 3 at 2026-11-05 03:00/);
    assert.match(out, /blocked by minHealthy +8x, 4 alerts/);
    assert.match(out, /blocked by cooldown +2x, 1 alert/);
    assert.match(out, /blocked by rate +2x, 2 alerts/);
    assert.match(out, /blocked by protected +1x, 1 alert/);
    assert.match(
      out,
      /2026-11-05 03:00 {2}worker-3 {2}blocked \(minHealthy\) {2}NodeMemoryPressure/,
    );
    assert.match(out, /NodeHighCPU {2}instance="10\.0\.9\.9" {2}unknown/);
    // The switch's 6-minute packet losses all cleared by themselves; rate held back 2 of 7 cordons.
    assert.match(
      out,
      /\nSelf-recovery \(firing periods that resolved within 10m of their start, without any action\):\n {2}NodeNetworkErrors: 7 firing periods, 7 \(100%\) resolved within 10m by themselves; default remediated 5 of those 7\n {4}median 6m; resolved within 5m 0, 10m 7, 1h 7, later 0; still firing at the end 0\n/,
    );
    assert.match(out, /\n {2}NodeMemoryPressure: 6 firing periods, 0 \(0%\) resolved within 10m/);
    assert.match(out, /\nHTML report: \/.*\/backtest-demo\.html\n?$/);
    const page = await Deno.readTextFile(`${dir}/backtest-demo.html`);
    assert.match(page, /^<!doctype html>/i);
    assert.match(page, /2026-11-02/);
    assert.match(page, /minHealthy/);
    assert.match(page, /worker-3/);
    assert.match(
      page,
      /<h2 id="recovery-h">Self-recovery<\/h2>[\s\S]*<tr><td>NodeNetworkErrors<\/td><td class="num">7<\/td><td class="num">7 \(100%\)<\/td>[\s\S]*<td class="num">5 \(5\)<\/td><\/tr>/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("node-heal backtest --demo takes --json, --html FILE and a policy; refuses another history", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-demo-" });
  try {
    await Deno.writeTextFile(
      `${dir}/strict.yaml`,
      `rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]\ngates: { minHealthy: "80%" }\n`,
    );
    const run = await backtest(
      dir,
      "--demo",
      "--json",
      "--config",
      "strict.yaml",
      "--html",
      "page.html",
      "--self-recovery-within",
      "5m",
    );
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as BacktestReport;
    assert.equal(report.source.nodes, "prometheus");
    assert.equal(report.window.from, "2026-11-02T00:00:00.000Z");
    assert.equal(report.cluster.nodes, 9);
    assert.equal(report.alerts.episodes, 22);
    // 80% of 8: 7 stay, and worker-8 is already out: nothing more may go.
    assert.equal(report.runs[0].minHealthyRequired, 7);
    assert.equal(report.runs[0].totals.cordons, 0);
    // Within 5m, none of the switch's 6-minute losses; nothing remediated under 80%.
    assert.equal(report.selfRecovery.withinMs, 5 * 60_000);
    assert.deepEqual(report.selfRecovery.alerts[0], {
      alertname: "NodeNetworkErrors",
      episodes: 7,
      withinBound: 0,
      firingAtStart: 0,
      resolved: { within5m: 0, within10m: 7, within1h: 7, later: 0, stillFiring: 0 },
      medianMs: 6 * 60_000,
    });
    assert.deepEqual(
      report.selfRecovery.alerts.map((a) => [a.alertname, a.episodes, a.withinBound]),
      [
        ["NodeNetworkErrors", 7, 0],
        ["NodeMemoryPressure", 6, 0],
        ["NodeFilesystemAlmostFull", 5, 0],
        ["NodeHighCPU", 3, 0],
        ["NodeDiskErrors", 1, 0],
      ],
    );
    assert.ok(report.runs[0].selfRecovered.every((s) => s.remediated === 0));
    assert.match(
      await Deno.readTextFile(`${dir}/page.html`),
      /Firing periods that resolved within 5m of their start/,
    );
    assert.ok((await Deno.stat(`${dir}/page.html`)).size > 1000);
    await assert.rejects(Deno.stat(`${dir}/backtest-demo.html`));

    const refused = await backtest(dir, "--demo", "--prometheus", "http://127.0.0.1:9");
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Cannot use --prometheus with --demo/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("node-heal backtest --demo with the breaker example: its breakers open, and a pool key no node carries is noted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-demo-" });
  try {
    const example = new URL("../../../docs/examples/breaker.yaml", import.meta.url).pathname;
    await Deno.copyFile(example, `${dir}/breaker.yaml`);
    const run = await backtest(dir, "--demo", "--config", "breaker.yaml");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /breaker openings +\d+/);
    assert.doesNotMatch(run.stdout, /breaker openings +0\b/);
    assert.match(
      run.stdout,
      /Note: no node carries karpenter\.sh\/nodepool; breaker\.yaml counts them all as one domain of it/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
