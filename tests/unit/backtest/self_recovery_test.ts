// Self-recovery on a history with known answers: NodeHighCPU fires ten times in the window, for
// 1, 2, 3, 4, 20, 30, 45, 60 and 90 minutes and once until after its end (4 of 10 within 10m,
// median 25m), and once from before it; NodeMemoryPressure fires three times for hours.
import assert from "node:assert/strict";
import { DEFAULT_ROUTE, deliveries } from "../../../lib/backtest/alertmanager_sim.ts";
import { alertmanagerFingerprint, type Episode } from "../../../lib/backtest/history.ts";
import { renderJson } from "../../../lib/backtest/render_json.ts";
import { renderText } from "../../../lib/backtest/render_text.ts";
import { renderHtml } from "../../../lib/backtest/render_html.ts";
import { replay } from "../../../lib/backtest/replay.ts";
import { summarize } from "../../../lib/backtest/report.ts";
import type { BacktestReport } from "../../../lib/backtest/report_types.ts";
import {
  median,
  SELF_RECOVERY_ALERTNAMES,
  SelfRecoveryIndex,
} from "../../../lib/backtest/self_recovery.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { workerNode } from "../../fakes/fake_client.ts";
import { sampleReport } from "../../fixtures/backtest_report.ts";

const MIN = 60_000;
const FROM = new Date("2026-11-02T00:00:00Z");
const TO = new Date(FROM.getTime() + 30 * 60 * MIN);
const at = (minutes: number) => new Date(FROM.getTime() + minutes * MIN);

function episode(alertname: string, worker: number, from: number, minutes?: number): Episode {
  const labels = { alertname, heal: "true", instance: `10.0.1.${worker}:9100` };
  return {
    labels,
    fingerprint: alertmanagerFingerprint(labels),
    start: at(from),
    ...(minutes !== undefined ? { end: at(from + minutes) } : {}),
  };
}

/** The history: every NodeHighCPU on its own worker, two hours apart, so no gate holds one back. */
function history(): Episode[] {
  const cpu = [1, 2, 3, 4, 20, 30, 45, 60, 90, undefined].map((minutes, i) =>
    episode("NodeHighCPU", i + 1, 60 + i * 120, minutes)
  );
  const memory = [120, 180, 240].map((minutes, i) =>
    episode("NodeMemoryPressure", i + 1, 21 * 60 + i * 30, minutes)
  );
  // Firing when the window opened, for 5 minutes of it: its length is unknown, so not counted.
  const before = episode("NodeHighCPU", 1, 0, 5);
  return [before, ...cpu, ...memory].sort((a, b) => a.start.getTime() - b.start.getTime());
}

const nodes = () =>
  Array.from({ length: 10 }, (_, i) => workerNode(`worker-${i + 1}`, `10.0.1.${i + 1}`));

const POLICIES = {
  all: parsePolicy(`rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]`),
  "memory-only": parsePolicy(
    `rules: [{ name: memory, match: ['heal="true"', 'alertname="NodeMemoryPressure"'], actions: [cordon] }]`,
  ),
};

/** The report of the history under both policies, with the bound given. */
function report(withinMs = 10 * MIN): BacktestReport {
  const h = history();
  const index = new SelfRecoveryIndex(h, { from: FROM, withinMs });
  const selfRecovery = index.summary();
  const listed = selfRecovery.alerts.map((a) => a.alertname);
  const runs = Object.entries(POLICIES).map(([name, policy]) => {
    const ns = nodes();
    const options = {
      policy,
      nodes: ns,
      from: FROM,
      to: TO,
      drainMs: 5 * MIN,
      replaceMs: 10 * MIN,
    };
    const result = replay(deliveries(h, DEFAULT_ROUTE, TO), options);
    return summarize(result, { policy, name, nodes: ns, to: TO, recovery: { index, listed } });
  });
  return { ...sampleReport(), selfRecovery, runs };
}

Deno.test("self-recovery: 4 of NodeHighCPU's 10 firing periods resolved within 10m, the policy that cordons all cordoned those 4", () => {
  const r = JSON.parse([...renderJson(report())].join("")) as BacktestReport;
  assert.deepEqual(r.selfRecovery, {
    withinMs: 10 * MIN,
    alerts: [
      {
        alertname: "NodeHighCPU",
        episodes: 10,
        withinBound: 4,
        firingAtStart: 1,
        resolved: { within5m: 4, within10m: 4, within1h: 8, later: 1, stillFiring: 1 },
        medianMs: 25 * MIN,
      },
      {
        alertname: "NodeMemoryPressure",
        episodes: 3,
        withinBound: 0,
        firingAtStart: 0,
        resolved: { within5m: 0, within10m: 0, within1h: 0, later: 3, stillFiring: 0 },
        medianMs: 180 * MIN,
      },
    ],
  });
  assert.deepEqual(r.runs.map((run) => [run.policy, run.totals.cordons, run.selfRecovered]), [
    ["all", 14, [
      { alertname: "NodeHighCPU", remediated: 10, ofWhichWithinBound: 4 },
      { alertname: "NodeMemoryPressure", remediated: 3, ofWhichWithinBound: 0 },
    ]],
    ["memory-only", 3, [
      { alertname: "NodeHighCPU", remediated: 0, ofWhichWithinBound: 0 },
      { alertname: "NodeMemoryPressure", remediated: 3, ofWhichWithinBound: 0 },
    ]],
  ]);
});

Deno.test("self-recovery in the terminal: one sentence per alert name, and how its firing periods ended", () => {
  const text = renderText(report());
  const section = text.slice(text.indexOf("\nSelf-recovery"), text.indexOf("\nWhat all"));
  assert.equal(
    section,
    `
Self-recovery (firing periods that resolved within 10m of their start, without any action):
  NodeHighCPU: 10 firing periods, 4 (40%) resolved within 10m by themselves; all remediated 4 of those 4, memory-only remediated 0 of those 4
    median 25m; resolved within 5m 4, 10m 4, 1h 8, later 1; still firing at the end 1; 1 already firing at the start, not counted
  NodeMemoryPressure: 3 firing periods, 0 (0%) resolved within 10m by themselves
    median 3h; resolved within 5m 0, 10m 0, 1h 0, later 3; still firing at the end 0
`,
  );
});

Deno.test("self-recovery takes its bound: within 20m, 5 of NodeHighCPU's 10, all 5 cordoned", () => {
  const r = report(20 * MIN);
  assert.equal(r.selfRecovery.alerts[0].withinBound, 5);
  assert.deepEqual(r.runs[0].selfRecovered[0], {
    alertname: "NodeHighCPU",
    remediated: 10,
    ofWhichWithinBound: 5,
  });
  assert.match(renderText(r), /NodeHighCPU: 10 firing periods, 5 \(50%\) resolved within 20m/);
});

Deno.test("self-recovery on the HTML page: a table row per alert name, each policy's remediations", () => {
  const html = renderHtml(report());
  const section = /<section aria-labelledby="recovery-h">([\s\S]*?)<\/section>/.exec(html)?.[1];
  assert.ok(section, "a Self-recovery section");
  const cells = (name: string) =>
    [...new RegExp(`<tr><td>${name}</td>(.*?)</tr>`).exec(section)![1].matchAll(/>([^<]*)</g)]
      .map((m) => m[1]).filter((c) => c !== "");
  assert.deepEqual(cells("NodeHighCPU"), [
    "10",
    "4 (40%)",
    "4",
    "4",
    "8",
    "1",
    "1",
    "25m",
    "1",
    "10 (4)",
    "0 (0)",
  ]);
  assert.match(section, /all: remediated \(of them, within 10m\)/);
});

Deno.test("self-recovery lists at most 50 alert names, most firing periods first, and counts the rest", () => {
  const many = Array.from(
    { length: SELF_RECOVERY_ALERTNAMES + 2 },
    (_, i) => Array.from({ length: i + 1 }, (_, k) => episode(`Alert${i}`, 1, 10 + k * 10, 3)),
  ).flat();
  const s = new SelfRecoveryIndex(many, { from: FROM, withinMs: 10 * MIN }).summary();
  assert.equal(s.alerts.length, SELF_RECOVERY_ALERTNAMES);
  assert.equal(s.alertnamesLeftOut, 2);
  assert.equal(s.alerts[0].alertname, `Alert${SELF_RECOVERY_ALERTNAMES + 1}`);
  assert.ok(!s.alerts.some((a) => a.alertname === "Alert0" || a.alertname === "Alert1"));
});

Deno.test("median(): the middle length, the mean of the two middle ones, null on one still firing", () => {
  assert.equal(median([]), null);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([1, Infinity, 2]), 2);
  assert.equal(median([1, Infinity, Infinity]), null);
  assert.equal(median([1, 2, Infinity, Infinity]), null);
});
