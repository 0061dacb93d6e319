// The gates' tally, kept current as Nodes change, against one counted afresh from the Nodes left
// (budgets()): the same figures after any sequence of changes; and take-outs reserved in flight.
import assert from "node:assert/strict";
import fc from "fast-check";
import { budgets } from "../../../lib/decide/gates.ts";
import { ANNOTATIONS, HISTORY } from "../../../lib/decide/node_state.ts";
import { DEFAULT_POLICY, type Gates } from "../../../lib/decide/policy.ts";
import { Tally } from "../../../lib/decide/tally.ts";
import type { Node } from "../../../lib/base/node.ts";

const NOW = new Date("2026-11-28T12:00:00Z");
const GATES: Gates = { ...DEFAULT_POLICY.gates, cooldownMs: 600_000 };

/** A Node from a few random traits. */
const nodeArb = fc.record({
  name: fc.constantFrom("a", "b", "c", "d", "e", "f"),
  controlPlane: fc.boolean(),
  ready: fc.boolean(),
  cordoned: fc.boolean(),
  owned: fc.boolean(),
  draining: fc.boolean(),
  remediatedAgo: fc.array(fc.integer({ min: 0, max: 3 * 3_600_000 }), { maxLength: 3 }),
  releasedAgo: fc.option(fc.integer({ min: 0, max: 1_200_000 })),
}).map((t): Node => ({
  metadata: {
    name: t.name,
    labels: t.controlPlane ? { "node-role.kubernetes.io/control-plane": "" } : {},
    annotations: {
      ...(t.owned ? { [ANNOTATIONS.cordonedBy]: "node-heal" } : {}),
      ...(t.draining ? { [ANNOTATIONS.step]: "draining" } : {}),
      ...(t.remediatedAgo.length
        ? {
          [HISTORY.remediatedAt]: JSON.stringify(
            t.remediatedAgo.map((ms) => new Date(NOW.getTime() - ms).toISOString()),
          ),
        }
        : {}),
      ...(t.releasedAgo !== null
        ? { [HISTORY.releasedAt]: new Date(NOW.getTime() - t.releasedAgo).toISOString() }
        : {}),
    },
  },
  spec: t.cordoned ? { unschedulable: true } : {},
  status: { conditions: [{ type: "Ready", status: t.ready ? "True" : "False" }] },
}));

Deno.test("the tally counts what budgets() counts from every Node, after any sequence of changes", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(nodeArb, fc.constantFrom("a", "c", "f")), { maxLength: 40 }),
      (changes) => {
        const tally = new Tally(GATES);
        const cluster = new Map<string, Node>();
        for (const change of changes) {
          if (typeof change === "string") {
            tally.remove(change);
            cluster.delete(change);
          } else {
            tally.set(change);
            cluster.set(change.metadata.name, change);
          }
        }
        const options = { gates: GATES, now: NOW, paused: false };
        const expected = budgets(cluster.values(), options);
        assert.deepEqual(
          { ...tally.budgets(options), cooldown: { ...expected.cooldown, nodes: [] } },
          { ...expected, cooldown: { ...expected.cooldown, nodes: [] } },
        );
        assert.deepEqual(
          [...tally.budgets(options).cooldown.nodes].sort(),
          [...expected.cooldown.nodes].sort(),
        );
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a reserved take-out counts as done until it is released or seen written", () => {
  const worker = (name: string, cordoned = false): Node => ({
    metadata: {
      name,
      annotations: cordoned ? { [ANNOTATIONS.cordonedBy]: "node-heal" } : {},
    },
    spec: cordoned ? { unschedulable: true } : {},
    status: { conditions: [{ type: "Ready", status: "True" }] },
  });
  const tally = new Tally(GATES, { nodes: ["a", "b", "c", "d"].map((n) => worker(n)) });
  const options = { now: NOW, paused: false };
  assert.equal(tally.budgets(options).available, 4);
  const release = tally.reserve("a", NOW);
  let b = tally.budgets(options);
  assert.equal(b.available, 3);
  assert.equal(b.minHealthy.heldByNodeHeal, 1);
  assert.equal(b.rate.used, 1);
  // The write lands and the index shows it: the reservation adds nothing more.
  tally.set({
    ...worker("a", true),
    metadata: {
      name: "a",
      annotations: {
        [ANNOTATIONS.cordonedBy]: "node-heal",
        [HISTORY.remediatedAt]: JSON.stringify([NOW.toISOString()]),
      },
    },
  });
  b = tally.budgets(options);
  assert.deepEqual([b.available, b.minHealthy.heldByNodeHeal, b.rate.used], [3, 1, 1]);
  release();
  assert.deepEqual(
    [tally.budgets(options).available, tally.budgets(options).rate.used],
    [3, 1],
  );
  // A reservation whose write failed goes away on release.
  const failed = tally.reserve("b", NOW);
  assert.equal(tally.budgets(options).available, 2);
  failed();
  assert.equal(tally.budgets(options).available, 3);
});

Deno.test("a take-out whose write got no answer stays counted until its Node changes or the hold ends", () => {
  const worker = (name: string, resourceVersion: string): Node => ({
    metadata: { name, resourceVersion, annotations: {} },
    spec: {},
    status: { conditions: [{ type: "Ready", status: "True" }] },
  });
  const tally = new Tally(GATES, { nodes: [worker("a", "5"), worker("b", "7")] });
  const at = (ms: number) => ({ now: new Date(NOW.getTime() + ms), paused: false });
  tally.reserve("a", NOW)({ from: "5", until: new Date(NOW.getTime() + 90_000) });
  assert.equal(tally.budgets(at(0)).available, 1, "the write may still land");
  tally.set(worker("a", "5"));
  assert.equal(tally.budgets(at(1000)).available, 1, "the same version: still unsure");
  assert.equal(tally.budgets(at(91_000)).available, 2, "past the hold: given back");
  // The Node changes from the version the write carried: it landed, or never will.
  tally.reserve("b", NOW)({ from: "7", until: new Date(NOW.getTime() + 90_000) });
  assert.equal(tally.budgets(at(0)).available, 1);
  tally.set(worker("b", "8"));
  assert.equal(tally.budgets(at(0)).available, 2);
});
