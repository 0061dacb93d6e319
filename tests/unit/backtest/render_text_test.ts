import assert from "node:assert/strict";
import { renderText } from "../../../lib/backtest/render_text.ts";
import { sampleReport } from "../../fixtures/backtest_report.ts";

/** Control characters a terminal acts on, and the invisible ones that reorder a line. */
const CONTROLS =
  // deno-lint-ignore no-control-regex -- control characters are what it looks for
  /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

Deno.test("renderText() escapes the control characters alert labels may carry: no terminal escape, no forged line", () => {
  const r = sampleReport();
  const evil =
    "\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007\u001b[2J\r\nfake line\u202e";
  r.source.selector = `ALERTS{alertname="${evil}"}`;
  r.alerts.unmatched[0].alertname = evil;
  r.alerts.unmatched[0].key = `instance="${evil}"`;
  r.runs[0].policy = `${evil}.yaml`;
  r.runs[0].nodes[0].node = `w3${evil}`;
  r.runs[0].nodes[0].events[0].alertname = evil;
  r.runs[0].blockedBy[0].gate = evil;
  const text = renderText(r);
  assert.doesNotMatch(text, CONTROLS);
  assert.ok(text.split("\n").every((line) => !line.startsWith("fake line")));
  assert.match(text, /\\u001b\]8;;https:\/\/evil\.example\\u0007click/);
  assert.match(text, /\\r\\nfake line\\u202e/);
});
