// Policies that can take a cluster down are refused unless they name each danger in
// `acknowledge:`; durations are bounded field by field.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { MAX_DURATIONS } from "../../../lib/decide/duration_policy.ts";

const DANGEROUS = `rules:
  - name: all
    match: ['alertname=~".+"']
    actions: [replace]
    replace: { provider: karpenter }
gates: { minHealthy: 0, maxReplacing: 3, replaceRate: { max: 30, window: 1h }, rate: { max: 10, window: 1m } }
`;

Deno.test("a dangerous policy is refused in one line naming every danger and how to acknowledge it", () => {
  assert.throws(() => parsePolicy(DANGEROUS, "policy p.yaml"), (err: Error) => {
    assert.equal(err.name, "PolicyRefused");
    assert.match(err.message, /^Cannot load policy p\.yaml: it is dangerous: /);
    assert.match(
      err.message,
      /rule "all" \(rules\[0\]\) acts on alerts without heal="true" \(noHealOptIn\)/,
    );
    assert.match(
      err.message,
      /rule "all" \(rules\[0\]\) replaces nodes by default \(replaceByDefault\)/,
    );
    assert.match(err.message, /gates\.minHealthy is 0.*\(minHealthyZero\)/);
    assert.match(
      err.message,
      /gates\.rate allows 600 an hour, above the ceiling of 100 \(highRate\)/,
    );
    assert.match(err.message, /gates\.replaceRate allows 30 an hour, above the ceiling of 20/);
    assert.match(
      err.message,
      /add acknowledge: \[noHealOptIn, replaceByDefault, minHealthyZero, highRate\]$/,
    );
    return !err.message.includes("\n");
  });
});

Deno.test("each danger alone is refused, and loads acknowledged with one warning line each", () => {
  const cases: [string, string][] = [
    ["rules: [{ name: a, match: ['severity=\"page\"'], actions: [cordon] }]", "noHealOptIn"],
    [
      "rules: [{ name: a, match: ['heal=\"true\"'], actions: [replace, drain], replace: { provider: karpenter } }]",
      "replaceByDefault",
    ],
    ["gates: { minHealthy: 0 }", "minHealthyZero"],
    ["gates: { minHealthy: '0%' }", "minHealthyZero"],
    ["gates: { rate: { max: 101, window: 1h } }", "highRate"],
    ["gates: { replaceRate: { max: 2, window: 1m } }", "highRate"],
    // 100 an hour on average, but all 16,800 may come in the first minute.
    ["gates: { rate: { max: 16800, window: 168h } }", "highRate"],
    ["gates: { replaceRate: { max: 3360, window: 168h } }", "highRate"],
  ];
  for (const [text, danger] of cases) {
    assert.throws(() => parsePolicy(text), new RegExp(`\\(${danger}\\); if that is meant`), text);
    const p = parsePolicy(`${text}\nacknowledge: [${danger}]`);
    assert.equal(p.warnings?.length, 1, text);
    assert.match(
      p.warnings![0],
      new RegExp(`^The policy acknowledges a danger: .*\\(${danger}\\)$`),
    );
  }
  // What is not dangerous: a rule that does nothing, the opt-in among other matchers, the defaults.
  const safe = parsePolicy(
    "rules:\n  - { name: quiet, match: ['severity=\"info\"'], actions: [none] }\n" +
      "  - { name: heal, match: ['alertname=~\"Node.*\"', 'heal=\"true\"'], actions: [cordon, replace], replace: { provider: karpenter } }\n" +
      "gates: { minHealthy: 1, rate: { max: 100, window: 1h }, replaceRate: { max: 20, window: 1h } }",
  );
  assert.equal(safe.warnings, undefined);
  assert.equal(parsePolicy("").warnings, undefined);
  assert.throws(() => parsePolicy("acknowledge: [everything]"), /field "acknowledge\[0\]"/);
});

Deno.test("every duration of a policy is bounded, and the bound named", () => {
  const cases: [string, string, number][] = [
    [
      "rules: [{ name: a, match: ['heal=\"true\"'], actions: [drain], drainAfter: D }]",
      "rules[0].drainAfter",
      MAX_DURATIONS.after,
    ],
    [
      "rules: [{ name: a, match: ['heal=\"true\"'], actions: [drain], replaceAfter: D }]",
      "rules[0].replaceAfter",
      MAX_DURATIONS.after,
    ],
    [
      "rules: [{ name: a, match: ['heal=\"true\"'], actions: [drain], drain: { timeout: D } }]",
      "rules[0].drain.timeout",
      MAX_DURATIONS.timeout,
    ],
    ["gates: { rate: { max: 1, window: D } }", "gates.rate.window", MAX_DURATIONS.window],
    [
      "gates: { replaceRate: { max: 1, window: D } }",
      "gates.replaceRate.window",
      MAX_DURATIONS.window,
    ],
    ["gates: { cooldown: D }", "gates.cooldown", MAX_DURATIONS.window],
    [
      "notify: [{ name: l, type: log, blockedEvery: D }]",
      "notify[0].blockedEvery",
      MAX_DURATIONS.blockedEvery,
    ],
  ];
  for (const [template, field, max] of cases) {
    for (const bad of ["99999999999h", `${max + 1}ms`, `${"9".repeat(400)}h`]) {
      assert.throws(
        () => parsePolicy(template.replace("D", bad)),
        new RegExp(
          `field "${field.replace(/[[\].]/g, "\\$&")}" must be a duration of at most \\d+h, got "${
            bad.slice(0, 20)
          }`,
        ),
        `${field} ${bad}`,
      );
    }
    parsePolicy(template.replace("D", `${max}ms`));
  }
});
