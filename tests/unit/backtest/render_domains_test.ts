// The report's breakers and peaks out per domain, as the terminal table and the HTML page show
// them: side by side for two policies, bounded, and escaped (domain values and node names are
// labels, anyone's text).
import assert from "node:assert/strict";
import { renderText } from "../../../lib/backtest/render_text.ts";
import { renderHtml } from "../../../lib/backtest/render_html.ts";
import { renderJson } from "../../../lib/backtest/render_json.ts";
import type { BacktestReport } from "../../../lib/backtest/report_types.ts";
import { sampleReport } from "../../fixtures/backtest_report.ts";

const ZONE = "topology.kubernetes.io/zone";

/** The sample's two policies: A without domains, B with a zone budget and a breaker that opened once. */
function withDomains(value = "eu-west-1a", held = ["w4", "w5"]): BacktestReport {
  const r = sampleReport();
  const [a, b] = r.runs;
  a.peakOutByDomain = [
    { key: ZONE, value, nodes: 5, peak: 4, at: "2026-03-02T14:06:00.000Z" },
    { key: ZONE, value: "eu-west-1b", nodes: 5, peak: 0, at: null },
  ];
  b.gates.domains = [`${ZONE}: maxUnavailable 1`];
  b.gates.breaker = `${ZONE}: alerting 3 within 5m, quiet 15m, release 1m`;
  b.peakOutByDomain = [
    { key: ZONE, value, nodes: 5, peak: 1, at: "2026-03-02T14:00:00.000Z" },
    { key: ZONE, value: "eu-west-1b", nodes: 5, peak: 0, at: null },
  ];
  b.breakers = [{
    domain: `zone ${value}`,
    key: ZONE,
    value,
    openedAt: "2026-03-02T14:04:00.000Z",
    closedAt: null,
    count: 3,
    nodes: ["w3", "w4", "w5"],
    held,
  }];
  return r;
}

Deno.test("renderText() puts each policy's domain budgets, breaker, openings and peak out per zone side by side", () => {
  const text = renderText(withDomains());
  const line = (label: string) => text.split("\n").find((l) => l.startsWith(label)) ?? "";
  assert.match(line("domains"), /none +topology\.kubernetes\.io\/zone: maxUnavailable 1/);
  assert.match(line("breaker openings"), /0 +1, 2 nodes held/);
  assert.match(
    line("peak out, zone eu-west-1a"),
    /4 of 5 at 2026-03-02 14:06 +1 of 5 at 2026-03-02 14:00/,
  );
  assert.match(line("peak out, zone eu-west-1b"), /0 of 5 +0 of 5$/);
  assert.match(
    text,
    /Breakers of .*:\n {2}zone eu-west-1a +opened 2026-03-02 14:04 +still open +3 alerting +held w4, w5/,
  );
});

Deno.test("renderText() without domains or a breaker adds no line for them", () => {
  const text = renderText(sampleReport());
  assert.doesNotMatch(text, /^(domains|breaker|peak out,)/m);
  assert.doesNotMatch(text, /Breakers of/);
});

Deno.test("renderHtml() shows a Breakers part and a Peak out per domain table in each column, escaped", () => {
  const evil = `<img src=x onerror="alert(1)">`;
  const html = renderHtml(withDomains(evil, [`w4${evil}`]));
  assert.ok(!html.includes("<img"), "no tag from a label");
  const columns = html.split('<section class="run"').slice(1);
  assert.equal(columns.length, 2);
  for (const c of columns) {
    assert.match(c, /<h3>Peak out per domain<\/h3>/);
    assert.match(c, /<h3>Breakers<\/h3>/);
  }
  assert.match(columns[0], /No breaker in this policy\./);
  assert.match(columns[1], /still open/);
  assert.ok(columns[1].includes("w4&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"));
  assert.ok(columns[1].includes("zone &lt;img"));
  assert.match(columns[1], /<th>breaker<\/th>|>breaker</);
  assert.doesNotMatch(renderHtml(sampleReport()), /Peak out per domain|<h3>Breakers/);
});

Deno.test("renderJson() carries the breakers and the peaks per domain as they are", () => {
  const report = withDomains();
  const back = JSON.parse([...renderJson(report)].join("")) as BacktestReport;
  assert.deepEqual(back.runs[1].breakers, report.runs[1].breakers);
  assert.deepEqual(back.runs[0].peakOutByDomain, report.runs[0].peakOutByDomain);
});
