// `deno task backtest` against a real Prometheus holding real history: three days of ALERTS and
// kube-state-metrics series backfilled with `promtool tsdb create-blocks-from openmetrics`
// (ROLLOUT_HISTORY of history.ts), read back through Prometheus's HTTP API, replayed under two
// policies side by side. The report's counts are what the scripted history implies.
import assert from "node:assert/strict";
import { hasTool } from "../support/processes.ts";
import { backfill, ROLLOUT_HISTORY, startPrometheus } from "./history.ts";
import { need } from "./stack.ts";
import { withCluster } from "../support/helpers.ts";
import type { BacktestReport, BacktestRun } from "../../lib/backtest/report_types.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DAY = 86_400_000;
const CI = !["", "0", "false"].includes(Deno.env.get("CI") ?? "");
const HINT = "apt-get install prometheus";
const TOOLS = CI || ((await hasTool("promtool", HINT)) && (await hasTool("prometheus", HINT)));

const POLICY = (minHealthy: string) =>
  `rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon]
gates: { minHealthy: "${minHealthy}" }
`;

/** Runs `deno task backtest` with these flags; its stdout, or a failure with its stderr. */
async function backtest(...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "backtest", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assert.ok(out.success, `deno task backtest ${args.join(" ")} failed:\n${text(out.stderr)}`);
  return text(out.stdout);
}

/** Each story event of a run as `node outcome-or-gate HH:MM` on the given day offset. */
function story(run: BacktestRun): string[] {
  return run.nodes.flatMap((s) =>
    s.events.map((e) =>
      `${e.at.slice(8, 10)} ${e.at.slice(11, 16)} ${s.node} ${e.gate ?? e.outcome}`
    )
  ).sort();
}

Deno.test({
  name:
    "deno task backtest replays three days of backfilled history from a real Prometheus: minHealthy holds back the rollout, the control plane is never touched, and two policies compare",
  ignore: !TOOLS,
  async fn() {
    await need("promtool");
    await need("prometheus");
    // Whole UTC days, ending the day before yesterday: the blocks stay clear of Prometheus's head.
    const start = new Date(Math.floor(Date.now() / DAY) * DAY - 4 * DAY);
    const end = new Date(start.getTime() + 3 * DAY);
    const dir = await Deno.makeTempDir({ prefix: "node-heal-backtest-" });
    const prometheus = await startPrometheus(await backfill(ROLLOUT_HISTORY(start), dir));
    try {
      await Deno.writeTextFile(`${dir}/a.yaml`, POLICY("51%"));
      await Deno.writeTextFile(`${dir}/b.yaml`, POLICY("80%"));
      const window = [
        "--prometheus",
        prometheus.url,
        "--from",
        start.toISOString(),
        "--to",
        end.toISOString(),
      ];
      const report = JSON.parse(
        await backtest(
          ...window,
          "--config",
          `${dir}/a.yaml`,
          "--config",
          `${dir}/b.yaml`,
          "--json",
          "--html",
          `${dir}/report.html`,
        ),
      ) as BacktestReport;

      // The history as Prometheus kept it.
      assert.equal(report.source.nodes, "prometheus");
      assert.equal(report.cluster.nodes, 11);
      assert.equal(report.alerts.series, 10);
      assert.equal(report.alerts.episodes, 11);
      assert.deepEqual(
        report.alerts.unmatched.map((u) => [u.alertname, u.key, u.reason, u.episodes]),
        [["NodeHighCPU", 'instance="10.9.9.9"', "unknown", 1]],
      );
      const day = (n: number, hhmm: string) =>
        new Date(start.getTime() + n * DAY).toISOString().slice(8, 10) + ` ${hhmm}`;

      // 51% of 10 workers: 6 must stay, so 4 of the rollout's 6 sick workers go out, 2 wait.
      const [a, b] = report.runs;
      assert.equal(a.selected, 10);
      assert.equal(a.minHealthyRequired, 6);
      assert.deepEqual(a.totals, {
        cordons: 7,
        drains: 0,
        replacements: 0,
        uncordons: 7,
        escalations: 0,
        blocked: 3,
        noRule: 0,
      });
      assert.equal(a.peakOut.count, 4);
      assert.equal(a.peakOut.budget, 4);
      assert.equal(a.peakOut.at?.slice(8, 16).replace("T", " "), day(1, "03:00"));
      const minHealthy = a.blockedBy.find((g) => g.gate === "minHealthy")!;
      assert.equal(minHealthy.alerts, 2);
      assert.equal(minHealthy.blockedMs, 2 * 3_600_000);
      assert.deepEqual(story(a).filter((s) => s.includes("minHealthy")), [
        `${day(1, "03:00")} worker-07 minHealthy`,
        `${day(1, "03:00")} worker-08 minHealthy`,
      ]);
      // The control plane: blocked, never cordoned.
      assert.deepEqual(story(a).filter((s) => s.includes("cp-1")), [
        `${day(0, "10:00")} cp-1 protected`,
      ]);
      // The flapping filesystem alert: two firing periods, two cordons and two releases.
      assert.deepEqual(story(a).filter((s) => s.includes("worker-10")), [
        `${day(2, "08:00")} worker-10 cordon`,
        `${day(2, "08:40")} worker-10 uncordon`,
        `${day(2, "08:50")} worker-10 cordon`,
        `${day(2, "09:30")} worker-10 uncordon`,
      ]);
      assert.deepEqual(a.perDay.map((d) => d.cordons), [1, 4, 2]);

      // 80%: 8 must stay, so only 2 go out and 4 wait.
      assert.equal(b.totals.cordons, 5);
      assert.equal(b.peakOut.count, 2);
      assert.equal(b.peakOut.budget, 2);
      assert.equal(b.blockedBy.find((g) => g.gate === "minHealthy")?.alerts, 4);

      // The HTML page was written beside, self-contained.
      const html = await Deno.readTextFile(`${dir}/report.html`);
      assert.match(html, /<svg/);
      assert.doesNotMatch(html, /<script|src="http/);

      // The terminal table shows both policies side by side.
      const text = await backtest(
        ...window,
        "--config",
        `${dir}/a.yaml`,
        "--config",
        `${dir}/b.yaml`,
      );
      const peak = text.split("\n").find((l) => l.startsWith("peak out / budget"));
      assert.match(peak ?? "", /4 \/ 4 at .*2 \/ 2 at/);
      assert.match(text, /NodeHighCPU\s+instance="10\.9\.9\.9"\s+unknown/);

      // --kubeconfig: the Nodes of a cluster as it is now instead of kube_node_* series. The
      // embedded cluster's Nodes are 172.18.0.x: none of the history's alerts is about them.
      await using fixture = await withCluster({ workers: 2 });
      await Deno.writeTextFile(`${dir}/kubeconfig`, fixture.cluster.kubeconfig());
      const fromCluster = JSON.parse(
        await backtest(...window, "--kubeconfig", `${dir}/kubeconfig`, "--json"),
      ) as BacktestReport;
      assert.equal(fromCluster.source.nodes, "kubeconfig");
      assert.equal(fromCluster.cluster.nodes, 3);
      assert.equal(fromCluster.runs[0].totals.cordons, 0);
      assert.equal(
        fromCluster.alerts.unmatched.reduce((n, u) => n + u.episodes, 0),
        report.alerts.episodes,
      );
    } finally {
      await prometheus.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
