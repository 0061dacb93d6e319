// The domain gates as the decisions ask them: a take-out passes each domain its Node is in
// (counting take-outs reserved and not yet written), a drain its domain's maxConcurrent, a
// replacement its domain's maxReplacing (counted from the ledger's records) and the breaker.
import assert from "node:assert/strict";
import { checkDrain, checkReplace, checkTakeOut, gateClause } from "../../../lib/decide/gates.ts";
import { Tally } from "../../../lib/decide/tally.ts";
import { DEFAULT_POLICY, type Gates } from "../../../lib/decide/policy.ts";
import {
  domainLabels,
  inFlightIn,
  replaceBudgets,
  type Replacement,
} from "../../../lib/decide/replacements.ts";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import type { Node } from "../../../lib/base/node.ts";

const NOW = new Date("2026-12-06T10:00:00Z");
const ZONE = "topology.kubernetes.io/zone";
const POOL = "karpenter.sh/nodepool";

function node(
  name: string,
  zone: string | undefined,
  o: { notReady?: boolean; ours?: string; pool?: string } = {},
): Node {
  return {
    metadata: {
      name,
      resourceVersion: "1",
      labels: {
        ...(zone === undefined ? {} : { [ZONE]: zone }),
        ...(o.pool ? { [POOL]: o.pool } : {}),
      },
      annotations: o.ours
        ? {
          [ANNOTATIONS.cordonedBy]: "node-heal",
          [ANNOTATIONS.cordonedAt]: "2026-12-06T09:00:00.000Z",
          [ANNOTATIONS.step]: o.ours,
        }
        : {},
    },
    spec: o.ours ? { unschedulable: true } : {},
    status: { conditions: [{ type: "Ready", status: o.notReady ? "False" : "True" }] },
  };
}

/** Gates that only the domain budgets can close: minHealthy 0, a rate and maxConcurrent wide open. */
function gates(domains: Gates["domains"]): Gates {
  return {
    ...DEFAULT_POLICY.gates,
    minHealthy: 0,
    rate: { max: 100, windowMs: 3_600_000 },
    maxConcurrent: 100,
    maxReplacing: 100,
    domains,
  };
}

/** Zones a (4 Nodes), b (4 Nodes). */
const CLUSTER = [
  ...[1, 2, 3, 4].map((i) => node(`a${i}`, "a")),
  ...[1, 2, 3, 4].map((i) => node(`b${i}`, "b")),
];

Deno.test("checkTakeOut() is blocked by the domain gate of the Node's zone, its key as qualifier", () => {
  const g = gates([{ key: POOL, maxCordoned: 5 }, { key: ZONE, maxUnavailable: 1 }]);
  const nodes = [node("a1", "a", { notReady: true }), ...CLUSTER.slice(1)];
  const tally = new Tally(g, { nodes });
  const blocked = checkTakeOut(CLUSTER[1], { gates: g, now: NOW, paused: false, tally });
  assert.deepEqual(blocked, {
    gate: "domain",
    qualifier: ZONE,
    message: "taking a2 out would leave zone a with 2 of 4 nodes; maxUnavailable 1",
  });
  assert.equal(gateClause(blocked!), `(gate domain ${ZONE})`);
  // The same zone counted from the Nodes, without a tally, says the same.
  assert.deepEqual(checkTakeOut(CLUSTER[1], { gates: g, now: NOW, paused: false, nodes }), blocked);
  // A Node of the other zone passes.
  assert.equal(checkTakeOut(CLUSTER[5], { gates: g, now: NOW, paused: false, tally }), undefined);
});

Deno.test("two take-outs decided back to back in one zone: the second counts the first's reservation", () => {
  const g = gates([{ key: ZONE, maxUnavailable: 1 }]);
  const tally = new Tally(g, { nodes: CLUSTER });
  const ask = (n: Node) => checkTakeOut(n, { gates: g, now: NOW, paused: false, tally });
  assert.equal(ask(CLUSTER[0]), undefined);
  const release = tally.reserve("a1", NOW);
  // a1's cordon is not written yet: a2 is still blocked, b1 of the other zone is not.
  assert.equal(ask(CLUSTER[1])?.gate, "domain");
  assert.match(ask(CLUSTER[1])!.message, /with 2 of 4 nodes; maxUnavailable 1$/);
  assert.equal(ask(CLUSTER[4]), undefined);
  // The write failed: the reservation ends and a2 may go.
  release();
  assert.equal(ask(CLUSTER[1]), undefined);
  // The write landed: the Node shows node-heal's cordon and the count holds without the reservation.
  const r2 = tally.reserve("a1", NOW);
  tally.set(node("a1", "a", { ours: "cordoned" }));
  r2();
  assert.equal(ask(CLUSTER[1])?.gate, "domain");
});

Deno.test("a Node that moves to another zone is counted in its new zone only", () => {
  const g = gates([{ key: ZONE, maxUnavailable: 1 }]);
  const tally = new Tally(g, { nodes: [...CLUSTER, node("x", "a", { ours: "cordoned" })] });
  const ask = (n: Node) => checkTakeOut(n, { gates: g, now: NOW, paused: false, tally });
  assert.equal(ask(CLUSTER[0])?.gate, "domain");
  assert.equal(ask(CLUSTER[4]), undefined);
  tally.set(node("x", "b", { ours: "cordoned" }));
  assert.equal(ask(CLUSTER[0]), undefined);
  assert.equal(ask(CLUSTER[4])?.gate, "domain");
  tally.remove("x");
  assert.equal(ask(CLUSTER[4]), undefined);
});

Deno.test("a replaced Node that is gone still counts in the zone its record names", () => {
  const g = gates([{ key: ZONE, maxUnavailable: 1 }]);
  const tally = new Tally(g, { nodes: CLUSTER });
  const ask = (n: Node) => checkTakeOut(n, { gates: g, now: NOW, paused: false, tally });
  tally.goneLabels = () => [{ [ZONE]: "b" }];
  assert.equal(ask(CLUSTER[0]), undefined);
  assert.match(ask(CLUSTER[4])!.message, /zone b with 3 of 5 nodes/);
  // Unknown labels: it may have been anywhere, so it counts in every zone.
  tally.goneLabels = () => [undefined];
  assert.equal(ask(CLUSTER[0])?.gate, "domain");
  assert.equal(ask(CLUSTER[4])?.gate, "domain");
  // Recorded under a policy whose domains had another key: its zone is unknown too.
  tally.goneLabels = () => [{ [POOL]: "general" }];
  assert.equal(ask(CLUSTER[0])?.gate, "domain", "a record without the zone key counts in zone a");
  assert.equal(ask(CLUSTER[4])?.gate, "domain", "and in zone b");
});

Deno.test("checkDrain() holds at the domain's maxConcurrent, after the breaker and the global gate", () => {
  const g = gates([{ key: ZONE, maxConcurrent: 1 }]);
  const tally = new Tally(g, { nodes: [...CLUSTER, node("a5", "a", { ours: "draining" })] });
  const drain = (n: Node, breaker?: string) =>
    checkDrain({
      node: n.metadata.name,
      draining: 1,
      gates: g,
      domains: tally.domainBudgets(n),
      breaker,
    });
  assert.deepEqual(drain(CLUSTER[0]), {
    gate: "domain",
    qualifier: ZONE,
    message: "1 node of zone a is draining, maxConcurrent is 1 there",
  });
  assert.equal(drain(CLUSTER[4]), undefined);
  assert.deepEqual(drain(CLUSTER[4], "the breaker of zone b is open"), {
    gate: "breaker",
    message: "the breaker of zone b is open",
  });
  const one = { ...g, maxConcurrent: 1 };
  assert.equal(
    checkDrain({ node: "a1", draining: 1, gates: one, domains: tally.domainBudgets(CLUSTER[0]) })
      ?.gate,
    "maxConcurrent",
  );
});

function record(name: string, labels?: Record<string, string>): Replacement {
  return {
    id: `${name}@1`,
    node: name,
    provider: "karpenter",
    rule: "heal",
    startedAt: NOW.toISOString(),
    deadline: NOW.toISOString(),
    by: "test",
    phase: "requested",
    ...(labels ? { labels } : {}),
  };
}

Deno.test("checkReplace() holds at the domain's maxReplacing, counted from the records' labels", () => {
  const g = gates([{ key: ZONE, maxReplacing: 1 }]);
  const b = replaceBudgets([], { gates: g, now: NOW, paused: false });
  const target = node("a1", "a");
  assert.deepEqual(domainLabels(target, g), { [ZONE]: "a" });
  assert.deepEqual(domainLabels(node("u", undefined), g), { [ZONE]: "" });
  const ask = (entries: Replacement[]) =>
    checkReplace("a1", b, g, { domains: inFlightIn(entries, target, { gates: g }) });
  assert.equal(ask([record("b1", { [ZONE]: "b" })]), undefined);
  assert.deepEqual(ask([record("a2", { [ZONE]: "a" })]), {
    gate: "domain",
    qualifier: ZONE,
    message: "1 replacement is under way in zone a (a2); maxReplacing is 1 there",
  });
  // A record without labels counts in every domain.
  assert.equal(ask([record("old")])?.gate, "domain");
  // A record with labels for other keys only (written under another policy) does not know its
  // zone either: it counts in every domain, not only in the unlabelled one.
  assert.equal(ask([record("p1", { [POOL]: "general" })])?.gate, "domain");
  // The unlabelled domain is a domain: a record saying "" counts there, not in zone a.
  assert.equal(ask([record("u1", { [ZONE]: "" })]), undefined);
  // Its own record never blocks it.
  assert.equal(ask([record("a1", { [ZONE]: "a" })]), undefined);
  // The breaker answers before the domain: its sentence, its gate.
  const held = checkReplace("a1", b, g, {
    domains: inFlightIn([record("a2", { [ZONE]: "a" })], target, { gates: g }),
    breaker: "the breaker of zone a is open",
  });
  assert.deepEqual(held, { gate: "breaker", message: "the breaker of zone a is open" });
});
