// The stored ledger read whole: what makes it damaged (every new replacement stops, gate
// `ledger`), and what only makes one entry unreadable (the rest kept). Never a throw.
import assert from "node:assert/strict";
import { MAX_LEDGER_CHARS, parseLedger } from "../../../../lib/act/replace/ledger.ts";
import { MAX_ENTRIES } from "../../../../lib/decide/replacements.ts";

const NOW = new Date("2026-06-01T12:00:00Z");

function entry(i: number): Record<string, unknown> {
  return {
    id: `w${i}@x`,
    node: `w${i}`,
    uid: `uid-w${i}`,
    provider: "karpenter",
    rule: "heal",
    startedAt: "2026-06-01T11:00:00Z",
    deadline: "2026-06-01T11:20:00Z",
    by: "node-heal-0",
    phase: "replaced",
  };
}

Deno.test("parseLedger() calls a ledger damaged that is not JSON, not a list, too long, or too large", () => {
  const cases: [string, RegExp][] = [
    ['[{"id": "x"', /is not JSON/],
    ['{"id": "x"}', /is not a JSON list/],
    [JSON.stringify(Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => entry(i))), /more than 1000/],
    [`[${" ".repeat(MAX_LEDGER_CHARS)}]`, /longer than 1048576 characters/],
  ];
  for (const [raw, why] of cases) {
    const parsed = parseLedger(raw, NOW);
    assert.ok("damaged" in parsed, raw.slice(0, 40));
    assert.match(parsed.damaged, why);
  }
  assert.deepEqual(parseLedger(undefined, NOW), { entries: [], unreadable: [] });
  // Deeply nested, still a list: one entry that cannot be read, no throw.
  const deep = parseLedger("[".repeat(100_000) + "]".repeat(100_000), NOW);
  assert.ok("unreadable" in deep && deep.unreadable.length === 1);
});

Deno.test("parseLedger() keeps the entries that pass the schema and sets aside those that do not, named by id or place", () => {
  const raw = JSON.stringify([
    entry(1),
    { ...entry(2), phase: "gone" },
    "not an entry",
    { ...entry(3), id: "x".repeat(500), node: "" },
    entry(4),
  ]);
  const parsed = parseLedger(raw, NOW);
  assert.ok(!("damaged" in parsed));
  assert.deepEqual(parsed.entries.map((e) => e.node), ["w1", "w4"]);
  assert.deepEqual(parsed.unreadable.map((u) => [u.label, u.problem.reason]), [
    ['"w2@x"', "schema"],
    ["#2", "schema"],
    ["#3", "schema"],
  ]);
  assert.equal(parsed.unreadable[1].raw, "not an entry", "kept as stored, to write back");
});
