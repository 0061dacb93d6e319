// A policy that is not YAML is refused with the line and column, and that line quoted with a caret
// at the column: bounded either side, one line, and not at all when the line may hold a secret.
import assert from "node:assert/strict";
import { excerpt, EXCERPT_SIDE } from "../../../lib/decide/policy_excerpt.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";

function refusal(text: string): string {
  try {
    parsePolicy(text, "policy p.yaml");
  } catch (err) {
    assert.ok(!(err as Error).message.includes("\n"), "one line");
    return (err as Error).message;
  }
  assert.fail(`refused: ${text}`);
}

Deno.test("a YAML error names the line and column and quotes that line with a caret", () => {
  assert.equal(
    refusal("rules:\n  - name: heal\n    match: [a]\n  actions: x\n"),
    "Cannot load policy p.yaml: not YAML at line 4, column 1: All mapping items must start at " +
      'the same column: "^  actions: x"',
  );
  assert.equal(
    refusal("gates:\n\tmaxConcurrent: 2\n"),
    "Cannot load policy p.yaml: not YAML at line 2, column 1: Tabs are not allowed as " +
      'indentation: "^\\tmaxConcurrent: 2"',
  );
});

Deno.test("excerpt() shows at most a few characters either side of the caret", () => {
  assert.equal(excerpt("a: b\nc: d\n", 2, 4), '"c: ^d"');
  const long = `${"x ".repeat(2500)}: ${"y ".repeat(2500)}`;
  const quoted = excerpt(long, 1, 5001);
  assert.equal(quoted, JSON.stringify(`…${"x ".repeat(EXCERPT_SIDE / 2)}^: ${"y ".repeat(19)}…`));
  // A line or column past the text: an empty line, the caret at its end.
  assert.equal(excerpt("a: b", 9, 9), '"^"');
  assert.equal(excerpt("a: b\r\n", 1, 99), '"a: b^"');
});

Deno.test("excerpt() does not show a line that may hold a secret", () => {
  for (
    const line of [
      "  - { type: slack, url: https://hooks.slack.com/services/T0/B0/X: y }",
      "    routingKey: abc: def",
      "    token: x",
      `    name: ${"A1".repeat(20)}`,
    ]
  ) {
    assert.equal(excerpt(line, 1, 5), "(the line is not shown: it may hold a secret)", line);
  }
  const message = refusal("notify:\n  - { type: slack, urlEnv: X: https://h/SECRET }\n");
  assert.match(message, /^Cannot load policy p\.yaml: not YAML at line 2, column \d+: .*not shown/);
  assert.ok(!message.includes("SECRET"), message);
});
