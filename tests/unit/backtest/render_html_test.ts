import assert from "node:assert/strict";
import { renderHtml } from "../../../lib/backtest/render_html.ts";
import { stepPath, timeTicks } from "../../../lib/backtest/render_html_chart.ts";
import { formatWait } from "../../../lib/base/duration.ts";
import type { BacktestReport, BacktestRun } from "../../../lib/backtest/report_types.ts";
import { HOSTILE, hostileReport, sampleReport } from "../../fixtures/backtest_report.ts";

/** Every tag of the document. Text is escaped, so a raw `<` starts a real tag. */
function tags(html: string): string[] {
  return html.match(/<[a-zA-Z!/][^>]*>/g) ?? [];
}

/** The document's text: tags as spaces, the five entities decoded, spaces collapsed. */
function textOf(html: string): string {
  return html
    .replace(/<style>[\s\S]*?<\/style>/, "")
    .replace(/<[^>]*>/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    // An inline element's end before a comma or a period (`<strong>4</strong>, at budget`).
    .replace(/ ([,.])(?= |$)/g, "$1");
}

/** The markup of each run's column, in order. */
function columns(html: string): string[] {
  return html.split('<section class="run"').slice(1).map((s) => s.split("</section>")[0]);
}

/** A path's points: the start, then each `H x V y`, then the final `H x`. */
function pathPoints(d: string): { x: number; y: number }[] {
  const start = /^M([\d.]+) ([\d.]+)/.exec(d);
  assert.ok(start, `a path starts with M: ${d}`);
  const points = [{ x: Number(start[1]), y: Number(start[2]) }];
  for (const m of d.matchAll(/H([\d.]+)V([\d.]+)/g)) {
    points.push({ x: Number(m[1]), y: Number(m[2]) });
  }
  return points;
}

Deno.test("renderHtml() makes one document that loads nothing: no URL in any tag, no script, a CSP of default-src 'none'", async () => {
  const report = sampleReport();
  const html = renderHtml(report);
  assert.ok(html.startsWith("<!doctype html>\n<html"));
  assert.ok(html.trimEnd().endsWith("</html>"));
  for (const tag of tags(html)) {
    assert.doesNotMatch(
      tag,
      /\s(src|href|srcset|action|formaction|poster|background|ping|xlink:href)\s*=/i,
      tag,
    );
    assert.doesNotMatch(tag, /\son\w+\s*=/i, tag);
    assert.doesNotMatch(tag, /^<(script|link|img|iframe|object|embed|base|form)\b/i, tag);
  }
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1];
  assert.doesNotMatch(style, /url\(|@import/i);

  // The Prometheus URL is shown, as text; no other URL is anywhere in the page.
  const prometheus = report.source.prometheus!;
  assert.ok(textOf(html).includes(prometheus));
  assert.doesNotMatch(html.replaceAll(prometheus, ""), /\b(https?|ftp|wss?):\/\//i);

  // The policy comes before the style and the body, forbids every load, allows no script, and
  // allows the inline stylesheet by its hash alone.
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(csp, "a CSP meta tag");
  assert.ok(csp.index < html.indexOf("<style>"));
  const directives = csp[1].replaceAll("&#39;", "'").split("; ");
  assert.ok(directives.includes("default-src 'none'"), csp[1]);
  assert.ok(!csp[1].includes("unsafe-inline") && !csp[1].includes("script-src"), csp[1]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(style));
  const hash = btoa(String.fromCharCode(...new Uint8Array(digest)));
  assert.ok(directives.includes(`style-src 'sha256-${hash}'`), csp[1]);
  assert.doesNotMatch(html, /\sstyle="/, "no style attribute: the hash does not allow them");
});

Deno.test("renderHtml() escapes hostile labels, node names, messages, gates and policy paths: markup and quotes come out as text", () => {
  const html = renderHtml(hostileReport());
  for (const tag of tags(html)) {
    assert.doesNotMatch(tag, /^<(script|img)\b/i, tag);
    assert.doesNotMatch(tag, /\son\w+\s*=/i, tag);
    assert.doesNotMatch(tag, /\s(src|href)\s*=/i, tag);
    assert.ok(!tag.includes("evil.example"), tag);
  }
  assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert.ok(html.includes("&quot;&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;"));
  assert.ok(html.includes("it&#39;s &quot;quoted&quot; &amp; &#39;single&#39;"));
  // An outcome becomes a class name only as letters, digits and dashes.
  assert.ok(html.includes('class="outcome-drainonclickalert3"'));

  const text = textOf(html);
  const [a] = hostileReport().runs;
  for (
    const s of [
      a.policy,
      a.gates.rate,
      a.blockedBy[0].gate,
      a.nodes[0].node,
      a.nodes[0].events[0].message,
      a.nodes[0].events[1].outcome,
      hostileReport().source.selector,
      hostileReport().alerts.unmatched[0].key,
      hostileReport().generatedBy,
      hostileReport().alerts.refused!.first!.message,
    ]
  ) {
    assert.ok(text.includes(s), `shown as text: ${s}`);
  }
  assert.ok(text.includes(HOSTILE.url), "the URL in a message is text");
});

Deno.test("renderHtml() shows the window, source, route and alert counts, and each policy's gates, totals, peak against its budget, days and gate waits", () => {
  const report = sampleReport();
  const html = renderHtml(report);
  const header = textOf(html.split("<main>")[0]);
  for (
    const s of [
      "2026-03-02 00:00 → 2026-03-04 00:00 UTC (2d, step 30s)",
      "https://prometheus.monitoring.svc:9090",
      'ALERTS{alertstate="firing",heal="true"}',
      "the kubeconfig's cluster",
      "group_by [alertname, instance], group_wait 30s, group_interval 5m, repeat_interval 4h",
      "9 series, 12 firing periods, 31 notifications, 2 unmatched",
      "Nodes 13",
      "Policies 2",
    ]
  ) assert.ok(header.includes(s), `header shows ${s}: ${header}`);
  assert.ok(textOf(html).includes("Generated by node-heal 0.9.0 (deno 2.9.6)."));

  const [a, b] = columns(html).map(textOf);
  assert.equal(columns(html).length, 2, "one column per run");
  const expected: [string, string[]][] = [
    [a, [
      "policies/a-lenient.yaml 10 nodes counted, 6 must stay available",
      "minHealthy 60%",
      "cooldown 10m",
      "Cordons 6 Drains 5 Replacements 0 Uncordons 6 Decisions blocked by a gate 4",
      "Peak out: 4 of a budget of 4, at budget, first at 2026-03-03 14:06 UTC.",
      "2026-03-03 4 4 0",
      "minHealthy 4 2 2h 44m",
    ]],
    [b, [
      "policies/b-strict.yaml 10 nodes counted, 8 must stay available",
      "minHealthy 80%",
      "cooldown 30m",
      "Cordons 3 Drains 3 Replacements 0 Uncordons 3 Decisions blocked by a gate 9",
      "Peak out: 2 of a budget of 2, at budget, first at 2026-03-03 14:02 UTC.",
      "2026-03-03 2 2 0",
      "minHealthy 8 4 5h 36m",
      "cooldown 1 1 10m",
    ]],
  ];
  for (const [column, wanted] of expected) {
    for (const s of wanted) assert.ok(column.includes(s), `${s} in: ${column}`);
  }
  assert.ok(!a.includes("5h 36m") && !b.includes("2h 44m"), "each column shows its own run");

  // Node stories, one table per run, and the unmatched alerts.
  const stories = textOf(html.split('id="stories-h"')[1].split("</section>")[0]);
  assert.ok(stories.includes("w7 2026-03-03 14:08:00 skipped minHealthy NodeMemoryPressure"));
  assert.ok(stories.includes("w4 2026-03-03 14:04:00 cordon NodeMemoryPressure Cordoned w4"));
  assert.ok(stories.includes("w4 2026-03-03 14:04:00 skipped minHealthy"));
  assert.ok(
    textOf(html).includes(
      'NodeFilesystemAlmostFull instance="10.9.9.9:9100" unknown 2026-03-02 17:20 2',
    ),
  );
});

Deno.test("the timeline is a step path with a point per change, each value held until the next and the last until the window's end", () => {
  const report = sampleReport();
  const html = renderHtml(report);
  for (const [i, column] of columns(html).entries()) {
    const run = report.runs[i];
    const out = /<path class="series out" data-points="(\d+)" d="([^"]+)"/.exec(column);
    assert.ok(out, "an out series");
    assert.equal(Number(out[1]), run.outOverTime.length);
    const points = pathPoints(out[2]);
    assert.equal(points.length, run.outOverTime.length, "a point per change");
    assert.equal((out[2].match(/V/g) ?? []).length, run.outOverTime.length - 1);

    // Time runs left to right; a higher count is drawn higher (a smaller y).
    const budget =
      /<g class="budget" data-budget="(\d+)">[\s\S]*?<line x1="([\d.]+)" x2="([\d.]+)" y1="([\d.]+)"/
        .exec(column);
    assert.ok(budget, "a budget line");
    assert.equal(Number(budget[1]), run.peakOut.budget);
    assert.equal(points[0].x, Number(budget[2]), "the first point is at the window's start");
    for (let j = 1; j < points.length; j++) assert.ok(points[j].x >= points[j - 1].x);
    for (let j = 0; j < points.length; j++) {
      for (let k = 0; k < points.length; k++) {
        const [vj, vk] = [run.outOverTime[j].out, run.outOverTime[k].out];
        if (vj > vk) assert.ok(points[j].y < points[k].y, `${vj} above ${vk}`);
        if (vj === vk) assert.equal(points[j].y, points[k].y);
      }
      if (run.outOverTime[j].out === run.peakOut.budget) {
        assert.equal(points[j].y, Number(budget[4]), "the budget line is at the budget's count");
      }
    }
    // The last value holds until the window's end, the right end of the budget line.
    assert.ok(out[2].endsWith(`H${budget[3]}`), out[2]);
    // One hover band per step, its title the step's counts.
    assert.equal((column.match(/<rect class="hit"/g) ?? []).length, run.outOverTime.length);
    const peak = [
      "2026-03-03 14:06 for 1h 25m: 4 out, 4 held by node-heal",
      "2026-03-03 14:02 for 1h 29m: 2 out, 2 held by node-heal",
    ][i];
    assert.ok(column.includes(`<title>${peak}</title>`), peak);
    assert.ok(
      column.includes("<title>2026-03-03 08:00 for 3h: 1 out, 0 held by node-heal</title>"),
    );
    assert.ok(column.includes('<title id="run-' + i + '-chart-title">Nodes out over time'));
  }
});

Deno.test("stepPath() holds each value until the next point and the last one until the end", () => {
  assert.equal(
    stepPath([{ x: 0, y: 10 }, { x: 5, y: 3 }, { x: 8.25, y: 3 }], 10),
    "M0 10H5V3H8.3V3H10",
  );
  assert.equal(stepPath([{ x: 2, y: 7 }], 10), "M2 7H10");
  assert.equal(stepPath([], 10), "");
});

Deno.test("timeTicks() marks days by their date and hours by HH:MM, at most eight steps apart", () => {
  const at = (iso: string) => Date.parse(iso);
  const twoDays = timeTicks(at("2026-03-02T00:00:00Z"), at("2026-03-04T00:00:00Z"));
  assert.deepEqual(twoDays.map((t) => t.label), [
    "03-02",
    "06:00",
    "12:00",
    "18:00",
    "03-03",
    "06:00",
    "12:00",
    "18:00",
    "03-04",
  ]);
  assert.deepEqual(twoDays.filter((t) => t.day).length, 3);
  const hours = timeTicks(at("2026-03-02T13:10:00Z"), at("2026-03-02T15:40:00Z"));
  assert.deepEqual(hours.map((t) => t.label), ["13:30", "14:00", "14:30", "15:00", "15:30"]);
  const month = timeTicks(at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"));
  assert.ok(month.length <= 9 && month.every((t) => /^\d\d-\d\d$/.test(t.label)));
});

Deno.test("formatWait() writes a wait in its two largest units", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [400, "<1s"],
    [45_000, "45s"],
    [90_000, "1m 30s"],
    [3_600_000, "1h"],
    [3_900_000, "1h 5m"],
    [3_930_000, "1h 5m"],
    [9_840_000, "2h 44m"],
    [2 * 86_400_000 + 3 * 3_600_000, "2d 3h"],
    [86_400_000 + 60_000, "1d"],
  ];
  for (const [ms, text] of cases) assert.equal(formatWait(ms), text, `${ms} ms`);
});

/** A run with `events` skipped steps on one node and nothing out. */
function quietRun(events: number): BacktestRun {
  const run = sampleReport().runs[0];
  return {
    ...run,
    policy: "default",
    peakOut: { count: 0, at: null, budget: 4 },
    perDay: [],
    blockedBy: [],
    nodes: events === 0 ? [] : [{
      node: "w1",
      events: Array.from({ length: events }, (_, i) => ({
        at: new Date(Date.parse("2026-03-02T10:00:00Z") + i * 60_000).toISOString(),
        outcome: "skipped",
        gate: "rate",
        alertname: "NodeDown",
        message: `step ${i}`,
      })),
    }],
    outOverTime: [],
  };
}

Deno.test("renderHtml() with one quiet run draws one column with no data, and says what is empty", () => {
  const report: BacktestReport = { ...sampleReport(), runs: [quietRun(0)] };
  report.alerts = { ...report.alerts, unmatched: [] };
  const html = renderHtml(report);
  assert.equal(columns(html).length, 1);
  const text = textOf(html);
  for (
    const s of [
      "Peak out: 0 of a budget of 4, within budget.",
      "No data",
      "No action started.",
      "No gate blocked.",
      "No node was touched.",
      "Every alert matched one Node.",
    ]
  ) assert.ok(text.includes(s), s);
  assert.ok(html.includes('data-budget="4"'), "the budget line is drawn without data");
});

Deno.test("renderHtml() opens a run's node stories when short and collapses them when long", () => {
  const html = renderHtml({ ...sampleReport(), runs: [quietRun(25), quietRun(26)] });
  assert.deepEqual(
    [...html.matchAll(/<details( open)?><summary>1 node, (\d+) steps/g)].map((m) => [m[1], m[2]]),
    [[" open", "25"], [undefined, "26"]],
  );
});

Deno.test("renderHtml() flags a peak over its budget", () => {
  const report = sampleReport();
  report.runs[1].peakOut = { count: 3, at: "2026-03-03T14:04:00Z", budget: 2 };
  const text = textOf(renderHtml(report));
  assert.ok(text.includes("Peak out: 3 of a budget of 2, over budget by 1"), text);
});
