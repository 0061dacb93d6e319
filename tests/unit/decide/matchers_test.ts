import assert from "node:assert/strict";
import {
  compile,
  matches,
  MAX_PATTERN_LENGTH,
  parseMatcher,
} from "../../../lib/decide/matchers.ts";

Deno.test("=~ and !~ match as Alertmanager's Go regexp does: anchored, RE2, . not across a newline", () => {
  const m = parseMatcher('pod=~"api-.*"');
  assert.equal(matches(m, { pod: "api-1" }), true);
  assert.equal(matches(m, { pod: "x-api-1" }), false, "anchored at the start");
  assert.equal(matches(parseMatcher('pod=~"api"'), { pod: "api-1" }), false, "and at the end");
  assert.equal(
    matches(parseMatcher('pod=~"a|b"'), { pod: "b" }),
    true,
    "alternation inside the anchors",
  );
  assert.equal(matches(parseMatcher('pod=~"a.b"'), { pod: "a\nb" }), false, "no (?s) unless asked");
  assert.equal(matches(parseMatcher('pod=~"(?s)a.b"'), { pod: "a\nb" }), true);
  assert.equal(matches(parseMatcher('pod=~"(?i)API"'), { pod: "api" }), true);
  assert.equal(matches(parseMatcher('pod!~"api-.*"'), { pod: "web" }), true);
  assert.equal(matches(parseMatcher('pod=~""'), {}), true, "a missing label reads as empty");
  assert.equal(matches(parseMatcher('pod=~"\\\\d+"'), { pod: "١٢" }), false, "\\d is ASCII in RE2");
});

Deno.test("expressions Go's regexp refuses are refused, with RE2's reason and the pattern clipped", () => {
  for (
    const [pattern, why] of [
      ["(?=x)", /unsupported Perl syntax/],
      ["(?<!x)y", /invalid named capture/],
      ["(a)\\\\1", /invalid escape sequence/],
      ["a{1001}", /invalid repeat count/],
      ["(", /missing closing \)/],
    ] as const
  ) {
    assert.throws(() => parseMatcher(`a=~"${pattern}"`), why, pattern);
  }
  const long = "(" + "x".repeat(5000);
  const err = (() => {
    try {
      parseMatcher(`a=~"${long}"`);
    } catch (e) {
      return (e as Error).message;
    }
  })();
  assert.ok(err && err.length < 600, `the message is short: ${err?.length}`);
  assert.throws(() => compile("x".repeat(MAX_PATTERN_LENGTH + 1)), /the limit is 16384/);
});

Deno.test("a backtracking pattern costs time linear in the value, not exponential", () => {
  // With JavaScript's RegExp, (.*-)*api on "a-"×29+"x" took 22.5 s, doubling with each "a-".
  const m = parseMatcher('pod=~"(.*-)*api"');
  for (const n of [29, 2000]) {
    const pod = "a-".repeat(n) + "x";
    const t = performance.now();
    assert.equal(matches(m, { pod }), false);
    const ms = performance.now() - t;
    // The bound: under 100 ms an alert (measured: 0.4 ms for a 4,001-character value).
    assert.ok(ms < 100, `${n}: ${ms.toFixed(1)} ms`);
  }
});
