// Repeat offenders (report/repeat_offenders.ts): the nodes remediated most in the last 24h.
import assert from "node:assert/strict";
import { countRepeatOffenders, repeatOffenders } from "../../../lib/report/repeat_offenders.ts";
import { HISTORY } from "../../../lib/decide/node_state.ts";
import type { Node } from "../../../lib/base/node.ts";

const NOW = new Date("2026-12-01T12:00:00Z");
const ago = (h: number) => new Date(NOW.getTime() - h * 3_600_000).toISOString();

function node(name: string, hoursAgo: number[] | string): Node {
  const value = typeof hoursAgo === "string" ? hoursAgo : JSON.stringify(hoursAgo.map(ago));
  return { metadata: { name, annotations: { [HISTORY.remediatedAt]: value } }, spec: {} };
}

Deno.test("repeat offenders: at least 2 in 24h, most first, then the latest; damaged history none", () => {
  const nodes = [
    node("once", [1]),
    node("old", [30, 26, 25]),
    node("twice", [20, 2]),
    node("thrice", [23, 10, 5]),
    node("twice-later", [20, 1]),
    node("damaged", "not json"),
    node("hostile", JSON.stringify(["x", 1, null])),
  ];
  const r = repeatOffenders(nodes, NOW);
  assert.deepEqual(r.nodes.map((o) => [o.node, o.remediations]), [
    ["thrice", 3],
    ["twice-later", 2],
    ["twice", 2],
  ]);
  assert.equal(r.nodes[0].last, ago(5));
  assert.equal(r.windowMs, 86_400_000);
  assert.equal(r.alertAt, 3);
  assert.equal(r.notListed, 0);
  assert.equal(countRepeatOffenders(nodes, NOW), 1);
});

Deno.test("repeat offenders: 10 listed, the rest counted", () => {
  const nodes = Array.from({ length: 25 }, (_, i) => node(`w${i}`, [3, 2, 1]));
  const r = repeatOffenders(nodes, NOW);
  assert.equal(r.nodes.length, 10);
  assert.equal(r.notListed, 15);
  assert.equal(countRepeatOffenders(nodes, NOW), 25);
});
