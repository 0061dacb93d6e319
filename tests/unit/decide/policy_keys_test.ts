// An unknown key of a policy is named with the known key nearest to it, among the keys valid at
// that place; a hostile key is clipped or not quoted, and suggesting costs little whatever its length.
import assert from "node:assert/strict";
import { editDistance, nearest } from "../../../lib/base/nearest.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";

function refusal(text: string): string {
  try {
    parsePolicy(text, "policy p.yaml");
  } catch (err) {
    assert.equal((err as Error).name, "PolicyRefused");
    assert.ok(!(err as Error).message.includes("\n"), "one line");
    return (err as Error).message.replace(/^Cannot load policy p\.yaml: /, "");
  }
  assert.fail(`refused: ${text}`);
}

Deno.test("editDistance() counts a swap of two neighbours as one edit", () => {
  assert.equal(editDistance("macth", "match"), 1);
  assert.equal(editDistance("rat", "rate"), 1);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
});

Deno.test("nearest() suggests a known word one or two edits away, or ignoring case, _ and -", () => {
  const keys = ["name", "match", "actions", "drainAfter", "replaceAfter", "replace"];
  assert.equal(nearest("macth", keys), "match");
  assert.equal(nearest("drain_after", keys), "drainAfter");
  assert.equal(nearest("Actions", keys), "actions");
  assert.equal(nearest("replce", keys), "replace");
  assert.equal(nearest("bogus", keys), undefined);
  assert.equal(nearest("x", keys), undefined);
});

Deno.test("a policy's unknown key is named with the nearest key valid at its place", () => {
  const cases: [string, string][] = [
    [
      `rules: [{ name: heal, macth: ['heal="true"'], actions: [cordon] }]`,
      'unknown key "macth" in rules[0]; did you mean "match"?',
    ],
    ["rulez: []", 'unknown key "rulez" at the top of the file; did you mean "rules"?'],
    ["gates: { minHealty: 2 }", 'unknown key "minHealty" in gates; did you mean "minHealthy"?'],
    [
      "gates: { rat: { max: 1, window: 1h }, maxConcurent: 2, zzz: 1 }",
      'unknown keys "rat", "maxConcurent", "zzz" in gates; did you mean "rate" for "rat", ' +
      '"maxConcurrent" for "maxConcurent"?',
    ],
    // Among the keys of the provider it names: aws-asg's region, not another provider's.
    [
      `rules: [{ name: x, match: ['a="b"'], actions: [replace], replace: { provider: aws-asg, regon: x } }]`,
      'unknown key "regon" in rules[0].replace; did you mean "region"?',
    ],
    [
      "bogus: 1",
      'unknown key "bogus" at the top of the file; valid keys here: "rules", "gates", "notify", ' +
      '"cluster", "acknowledge"',
    ],
  ];
  for (const [text, expected] of cases) assert.equal(refusal(text), expected, text);
});

Deno.test("a hostile unknown key is clipped, or not quoted when it looks like a URL or a token", () => {
  const url = refusal(`{ "https://hooks.example/${"a".repeat(5000)}": 1 }`);
  assert.match(url, /^unknown key \(a key not shown: it looks like a URL or a token\) at the top/);
  const long = refusal(`{ "${"m a t c h ".repeat(1000)}": 1 }`);
  assert.ok(long.length < 300, long);
  assert.match(long, /^unknown key "(m a t c h ?)+…" at the top of the file; valid keys here/);
  const t0 = performance.now();
  const huge = refusal(
    `rules: [{ name: x, match: ['a="b"'], actions: [cordon], "${"x y".repeat(60_000)}": 1 }]`,
  );
  assert.match(huge, /^unknown key "(x y)+.*…" in rules\[0\]; valid keys here/);
  assert.ok(performance.now() - t0 < 1000, "suggesting reads at most the key's first characters");
});
