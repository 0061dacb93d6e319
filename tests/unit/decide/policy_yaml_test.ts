// A policy's YAML is parsed within bounds: size, nesting and what aliases expand to are refused in
// one short line before any of them costs more than the bound.
import assert from "node:assert/strict";
import { parsePolicyYaml, POLICY_LIMITS } from "../../../lib/decide/policy_yaml.ts";
import { parsePolicy, PolicyRefused } from "../../../lib/decide/policy.ts";

function refused(text: string, pattern: RegExp): PolicyRefused {
  let caught: unknown;
  try {
    parsePolicyYaml(text);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof PolicyRefused, `refused: ${String(caught)}`);
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes("\n"), "one line");
  assert.ok(caught.message.length <= 600, "short");
  return caught;
}

Deno.test("parsePolicyYaml() refuses text over the byte bound before lexing it", () => {
  refused(`# ${"x".repeat(POLICY_LIMITS.bytes)}\n`, /larger than 262144 bytes/);
});

Deno.test("parsePolicyYaml() refuses flow and block nesting past the depth bound, and deep indentation", () => {
  refused(`rules: ${"[".repeat(100_000)}`, /nests collections deeper than 32 levels \(line 1\)/);
  refused(`rules: ${"{a: ".repeat(33)}`, /deeper than 32 levels/);
  refused(`rules:\n  ${"- ".repeat(100_000)}x\n`, /deeper than 32 levels \(line 2\)/);
  refused(`a:\n${" ".repeat(129)}b: c\n`, /line 2 is indented more than 128 columns/);
  // Nesting within the bound parses.
  assert.deepEqual(parsePolicyYaml(`x: ${"[".repeat(30)}${"]".repeat(30)}`), {
    x: JSON.parse(`${"[".repeat(30)}${"]".repeat(30)}`),
  });
  // Brackets in strings and comments are not collections.
  assert.deepEqual(parsePolicyYaml(`x: "${"[".repeat(40)}" # ${"{".repeat(40)}\n`), {
    x: "[".repeat(40),
  });
});

Deno.test("parsePolicyYaml() counts an alias as all it repeats: 99 aliases of a big map are refused at once", () => {
  let map = "";
  for (let i = 0; i < 1000; i++) map += `    k${i}: v\n`;
  const text = `bogus:\n  big: &m\n${map}  copies:\n${"    - *m\n".repeat(99)}`;
  assert.ok(text.length < POLICY_LIMITS.bytes);
  const t0 = performance.now();
  refused(text, /more than 20000 values \(an alias counts as all it repeats\)/);
  // Through parsePolicy, the refusal is the same line, never the expanded document.
  assert.throws(() => parsePolicy(text, "policy p.yaml"), (err: Error) => {
    assert.match(err.message, /^Cannot load policy p\.yaml: it holds more than 20000 values/);
    return err.message.length < 700;
  });
  // Generous: measured at a few ms; the expanded document is 100,000 values.
  assert.ok(performance.now() - t0 < 2000);
  // A few aliases, as people write them, load.
  const dry = parsePolicy(
    `rules:\n  - { name: a, match: &heal ['heal="true"'], actions: [cordon] }\n` +
      `  - { name: b, match: *heal, actions: [none] }\n`,
  );
  assert.deepEqual(dry.rules[1].match, dry.rules[0].match);
});

Deno.test("parsePolicyYaml() refuses text that is not YAML in one line", () => {
  refused("rules: [\n", /^not YAML at line 2, column 1: .*: "\^"$/);
  refused("a: *nothing\n", /^not YAML: /);
});
