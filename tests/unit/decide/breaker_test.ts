// The correlated-failure breaker: it opens when `alerting` nodes of one domain began alerting
// within `within` of each other, stays open while they alert, closes `quiet` after, then lets
// what it held start one per `release`. A new leader learns the alerts from node-heal's holds.
import assert from "node:assert/strict";
import { Breakers } from "../../../lib/decide/breaker.ts";
import { correlated } from "../../../lib/decide/sightings.ts";
import type { BreakerPolicy } from "../../../lib/decide/domain_policy.ts";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import type { Node } from "../../../lib/base/node.ts";

const T0 = new Date("2026-03-01T10:00:00Z").getTime();
const at = (min: number) => new Date(T0 + min * 60_000);
const ZONE = "topology.kubernetes.io/zone";
const HOLD_TTL = 4 * 3_600_000;
const POLICY: BreakerPolicy = {
  key: ZONE,
  alerting: 3,
  withinMs: 5 * 60_000,
  quietMs: 15 * 60_000,
  releaseMs: 60_000,
};

function node(name: string, zone?: string, annotations: Record<string, string> = {}): Node {
  return {
    metadata: {
      name,
      resourceVersion: "1",
      labels: zone === undefined ? {} : { [ZONE]: zone },
      annotations,
    },
    spec: {},
  };
}

const A = [1, 2, 3, 4].map((i) => node(`a${i}`, "a"));
const B1 = node("b1", "b");

function breakers(policy: BreakerPolicy | undefined = POLICY): Breakers {
  return new Breakers(policy, { holdTtlMs: HOLD_TTL });
}

Deno.test("correlated() finds the most nodes whose alerts began within one window", () => {
  const m = 60_000;
  const nodes = [
    { node: "d", first: 20 * m },
    { node: "a", first: 0 },
    { node: "c", first: 4 * m },
    { node: "b", first: 1 * m },
  ];
  assert.deepEqual(correlated(nodes, 5 * m), ["a", "b", "c"]);
  assert.deepEqual(correlated(nodes, 3 * m), ["a", "b"]);
  assert.deepEqual(correlated(nodes, 19 * m), ["a", "b", "c"], "the earliest of equal bursts");
  assert.deepEqual(correlated(nodes, 20 * m), ["a", "b", "c", "d"]);
  // Exactly `within` apart is within.
  assert.deepEqual(correlated([{ node: "x", first: 0 }, { node: "y", first: 5 * m }], 5 * m), [
    "x",
    "y",
  ]);
  assert.deepEqual(correlated([], 5 * m), []);
  assert.deepEqual(correlated([{ node: "x", first: 0 }, { node: "y", first: 10 * m }], 5 * m), [
    "x",
  ]);
});

Deno.test("the breaker opens at the third node of a zone within 5m, and holds drains there only", () => {
  const b = breakers();
  b.seen(A[0], "f1", at(0));
  assert.deepEqual(b.update(at(0)), []);
  b.seen(A[1], "f1", at(1));
  b.seen(B1, "f1", at(1));
  assert.deepEqual(b.update(at(1)), []);
  assert.equal(b.holding(A[3], at(1)), undefined);
  b.seen(A[2], "f1", at(4));
  const changes = b.update(at(4));
  assert.equal(changes.length, 1);
  assert.equal(changes[0].change, "opened");
  assert.equal(
    changes[0].message,
    "3 nodes in zone a alerted within 5m (a1, a2, a3): treating it as a zone problem, " +
      "not 3 node problems; holding drains and replacements",
  );
  assert.deepEqual(changes[0].state, {
    key: ZONE,
    value: "a",
    domain: "zone a",
    open: true,
    openedAt: at(4).toISOString(),
    count: 3,
    nodes: ["a1", "a2", "a3"],
    held: [],
  });
  assert.equal(
    b.holding(A[3], at(4)),
    "the breaker of zone a is open: 3 nodes alerted within 5m (a1, a2, a3), taken as a domain problem",
  );
  assert.equal(b.holding(B1, at(4)), undefined);
  // Open, it does not open again.
  assert.deepEqual(b.update(at(5)), []);
});

Deno.test("three nodes whose alerts began more than `within` apart open nothing", () => {
  const b = breakers();
  b.seen(A[0], "f1", at(0));
  b.seen(A[1], "f1", at(3));
  b.seen(A[2], "f1", at(6));
  // Each keeps alerting (Alertmanager repeats): when they began is what counts.
  for (const n of A.slice(0, 3)) b.seen(n, "f1", at(7));
  assert.deepEqual(b.update(at(7)), []);
  assert.equal(b.holding(A[0], at(7)), undefined);
  // Three nodes of three zones are not one zone's problem either.
  const c = breakers();
  for (const [i, z] of ["a", "b", "c"].entries()) c.seen(node(`n${i}`, z), "f", at(0));
  assert.deepEqual(c.update(at(0)), []);
  // Without a key the whole selection is one domain: the same three open it.
  const all = breakers({ ...POLICY, key: undefined });
  for (const [i, z] of ["a", "b", "c"].entries()) all.seen(node(`n${i}`, z), "f", at(0));
  const [opened] = all.update(at(0));
  assert.equal(opened.state.domain, "the selection");
  assert.match(opened.message, /treating it as a cluster problem/);
  assert.match(all.holding(node("z", "q"), at(0))!, /^the breaker of the selection is open/);
});

/** A breaker of zone a opened at minute 4 by a1..a3. */
function opened(): Breakers {
  const b = breakers();
  b.seen(A[0], "f1", at(0));
  b.seen(A[1], "f1", at(1));
  b.seen(A[2], "f1", at(4));
  assert.equal(b.update(at(4))[0].change, "opened");
  return b;
}

Deno.test("the breaker stays open while they alert and closes `quiet` after they resolve", () => {
  const b = opened();
  // Still alerting at minute 30 (repeats).
  for (const n of A.slice(0, 3)) b.seen(n, "f1", at(30));
  assert.deepEqual(b.update(at(30)), []);
  assert.equal(b.states(at(30))[0].closesAt, undefined, "still above: no closing time");
  b.resolved("a1", "f1");
  b.resolved("a2", "f1");
  assert.deepEqual(b.update(at(31)), []);
  assert.equal(b.states(at(31))[0].closesAt, at(45).toISOString());
  assert.deepEqual(b.update(at(44.99)), []);
  assert.ok(b.holding(A[0], at(44.99)));
  b.heldBack(A[0]); // a1's alert resolved: it waits for nothing
  b.heldBack(A[2]);
  b.heldBack(A[3]); // not alerting at all
  const [closed] = b.update(at(45));
  assert.equal(closed.change, "closed");
  assert.equal(
    closed.message,
    "zone a has had fewer than 3 nodes alerting together for 15m: the breaker closed; " +
      "the drain or replacement it held may start",
  );
  assert.equal(closed.state.closedAt, at(45).toISOString());
  assert.equal(b.holding(A[0], at(45)), undefined);
  // a3 is released: then nothing is held, and it is forgotten.
  assert.deepEqual(b.states(at(45)).map((s) => s.held), [["a3"]]);
  b.escalated(A[2], at(45));
  b.update(at(45));
  assert.deepEqual(b.states(at(45)), []);
});

Deno.test("alerts not seen for the hold TTL stop counting: the breaker closes without resolutions", () => {
  const b = opened();
  const ttl = HOLD_TTL / 60_000;
  // a1 was last seen at minute 0: a TTL later it still counts, and the breaker is still above.
  assert.deepEqual(b.update(at(ttl)), []);
  assert.deepEqual(b.update(at(ttl + 14.99)), [], "quiet counts from the last time above");
  assert.equal(b.update(at(ttl + 15))[0]?.change, "closed");
});

Deno.test("once closed, what the breaker held starts one per `release`", () => {
  const b = opened();
  // a1 and a2's drains were held; a3 resolves, a1 and a2 keep alerting.
  b.heldBack(A[0]);
  b.heldBack(A[1]);
  b.heldBack(B1); // no breaker in zone b: nothing to note
  assert.deepEqual(b.states(at(4))[0].held, ["a1", "a2"]);
  b.resolved("a3", "f1");
  for (const n of A.slice(0, 2)) b.seen(n, "f1", at(10));
  assert.equal(b.update(at(19))[0].change, "closed");
  assert.deepEqual(b.states(at(19))[0].held, ["a1", "a2"], "kept while they wait");
  assert.equal(b.holding(A[0], at(19)), undefined);
  assert.equal(b.pacing(A[0], at(19)), undefined, "the first may start at once");
  b.escalated(A[0], at(19));
  assert.equal(
    b.pacing(A[1], at(19.5)),
    "the breaker of zone a closed and releases what it held one per 1m; a2 starts in 30s at the earliest",
  );
  assert.equal(b.pacing(B1, at(19.5)), undefined, "another zone is not paced");
  assert.equal(b.pacing(A[1], at(20)), undefined);
  b.escalated(A[1], at(20));
  b.update(at(20));
  assert.deepEqual(b.states(at(20)), [], "all released: forgotten");
  assert.equal(b.pacing(A[3], at(20.1)), undefined);
});

Deno.test("a held node whose alerts are gone waits for nothing", () => {
  const b = opened();
  b.heldBack(A[0]);
  b.resolved("a1", "f1");
  b.update(at(5));
  assert.deepEqual(b.states(at(5))[0].held, []);
});

function holds(entries: Record<string, { since: string; seen?: string }>): Record<string, string> {
  const named = Object.fromEntries(
    Object.entries(entries).map(([fp, h]) => [fp, { alertname: "NodeDown", ...h }]),
  );
  return {
    [ANNOTATIONS.cordonedBy]: "node-heal",
    [ANNOTATIONS.cordonedAt]: at(0).toISOString(),
    [ANNOTATIONS.step]: "cordoned",
    [ANNOTATIONS.alerts]: JSON.stringify(named),
  };
}

Deno.test("seed() learns the alerts from node-heal's holds, as a new leader does", () => {
  const iso = (m: number) => at(m).toISOString();
  const nodes = [
    node("a1", "a", holds({ f1: { since: iso(0), seen: iso(9) } })),
    node("a2", "a", holds({ f1: { since: iso(2), seen: iso(9) } })),
    node("a3", "a", holds({ f1: { since: iso(4) } })),
  ];
  const b = breakers();
  b.seed(nodes, at(10));
  const [change] = b.update(at(10));
  assert.equal(change?.change, "opened");
  assert.deepEqual(change.state.nodes, ["a1", "a2", "a3"]);
  // Holds not node-heal's (no cordoned-by) teach nothing.
  const foreign = nodes.map((n) => {
    const annotations = { ...n.metadata.annotations };
    delete annotations[ANNOTATIONS.cordonedBy];
    return { ...n, metadata: { ...n.metadata, annotations } };
  });
  const c = breakers();
  c.seed(foreign, at(10));
  assert.deepEqual(c.update(at(10)), []);
});

Deno.test("seed() never throws on hostile holds, and a hold seen longer ago than the TTL is gone", () => {
  const iso = (m: number) => at(m).toISOString();
  const hostile = [
    node("g1", "a", { ...holds({}), [ANNOTATIONS.alerts]: "{not json" }),
    node("g2", "a", { ...holds({}), [ANNOTATIONS.alerts]: "null" }),
    node("g3", "a", { ...holds({}), [ANNOTATIONS.alerts]: '{"f":null}' }),
    node("g4", "a", { ...holds({}), [ANNOTATIONS.alerts]: '{"f":{"since":7}}' }),
    node("g5", "a", { ...holds({}), [ANNOTATIONS.alerts]: '["a","b"]' }),
    node("g6", "a", holds({ f: { since: "yesterday" } })),
    node("g7", "a", holds({ f: { since: iso(0), seen: "x".repeat(10_000) } })),
    node("g8", "a", holds({ f: { since: "9999-12-31T23:59:59Z" } })),
    node("g9", "a", { ...holds({}), [ANNOTATIONS.alerts]: "x".repeat(300_000) }),
    node("old", "a", holds({ f: { since: iso(-600), seen: iso(-500) } })),
  ];
  const b = breakers();
  b.seed(hostile, at(10));
  // Whatever was read, no three of these began together within 5m of a live alert.
  assert.deepEqual(b.update(at(10)), []);
  const many = Object.fromEntries(
    Array.from({ length: 1000 }, (_, i) => [`f${i}`, { since: iso(0), seen: iso(9) }]),
  );
  const c = breakers();
  c.seed([node("m1", "a", holds(many))], at(10));
  assert.deepEqual(c.update(at(10)), [], "one node is one node, however many holds it shows");
});

Deno.test("10,000 alerts on one node count as one node, quickly", () => {
  const b = breakers();
  const started = performance.now();
  for (let i = 0; i < 10_000; i++) b.seen(A[0], `f${i}`, at(0));
  b.seen(A[1], "f", at(0));
  assert.deepEqual(b.update(at(0)), []);
  assert.ok(performance.now() - started < 2000);
  b.seen(A[2], "f", at(1));
  const [change] = b.update(at(1));
  assert.equal(change.state.count, 3);
  // Resolving the fingerprints still followed empties a1; those past the cap were never followed.
  for (let i = 0; i < 10_000; i++) b.resolved("a1", `f${i}`);
  b.resolved("a2", "f");
  assert.deepEqual(b.update(at(15.99)), []);
  assert.equal(b.update(at(16))[0]?.change, "closed");
});

Deno.test("under() keeps the breakers when the key is the same and starts fresh otherwise", () => {
  const b = opened();
  const retuned = b.under({ ...POLICY, quietMs: 60_000 }, [], at(5));
  assert.ok(retuned.holding(A[0], at(5)), "same key: still open");
  assert.equal(retuned.policy?.quietMs, 60_000);
  const pools = b.under({ ...POLICY, key: "karpenter.sh/nodepool" }, A, at(5));
  assert.equal(pools.holding(A[0], at(5)), undefined, "another key: fresh");
  assert.deepEqual(pools.states(at(5)), []);
  const none = b.under(undefined, A, at(5));
  assert.equal(none.holding(A[0], at(5)), undefined);
});

Deno.test("a reload that drops an open breaker (another key, or none) tells it closed at the next update", () => {
  for (const next of [{ ...POLICY, key: "karpenter.sh/nodepool" }, undefined]) {
    const fresh = opened().under(next, [], at(5));
    const changes = fresh.update(at(5));
    assert.deepEqual(changes.map((c) => [c.change, c.state.domain, c.state.open]), [
      ["closed", "zone a", false],
    ]);
    assert.match(changes[0].message, /the policy in force no longer has it/);
    assert.deepEqual(fresh.update(at(6)), [], "told once");
  }
});

Deno.test("seed() takes no hold dated beyond the clock's skew: a forged future hold opens nothing", () => {
  const b = breakers();
  const future = new Date(at(0).getTime() + 24 * 3_600_000).toISOString();
  b.seed(
    ["a1", "a2", "a3"].map((n) => node(n, "a", holds({ f: { since: future, seen: future } }))),
    at(0),
  );
  assert.deepEqual(b.update(at(0)), []);
});

Deno.test("without a breaker policy everything is a no-op", () => {
  const b = new Breakers(undefined, { holdTtlMs: HOLD_TTL });
  b.seen(A[0], "f", at(0));
  b.seen(A[1], "f", at(0));
  b.seen(A[2], "f", at(0));
  b.seed([node("a9", "a", holds({ f: { since: at(0).toISOString() } }))], at(0));
  b.heldBack(A[0]);
  b.escalated(A[0], at(0));
  b.resolved("a1", "f");
  assert.deepEqual(b.update(at(0)), []);
  assert.equal(b.holding(A[0], at(0)), undefined);
  assert.equal(b.pacing(A[0], at(0)), undefined);
  assert.deepEqual(b.states(at(0)), []);
  assert.equal(b.valueOf(A[0]), "");
});

Deno.test("the cap on one node's alerts keeps the most recent ones", () => {
  const b = opened();
  b.heldBack(A[0]);
  for (let i = 0; i < 1000; i++) b.seen(A[0], `s${i}`, at(5 + i / 1000));
  // Only the 32 most recent are followed: their resolution ends a1's alerting (until repeats).
  for (let i = 1000 - 32; i < 1000; i++) b.resolved("a1", `s${i}`);
  b.update(at(6));
  assert.deepEqual(b.states(at(6))[0].held, []);
});

Deno.test("a clock stepped back counts quiet and release from the new now, not from its future", () => {
  const b = opened();
  for (const n of A.slice(0, 3)) b.seen(n, "f1", at(30));
  b.update(at(30));
  for (const n of ["a1", "a2", "a3"]) b.resolved(n, "f1");
  // The clock steps back an hour (an NTP correction): quiet starts now, by this clock.
  assert.deepEqual(b.update(at(-30)), []);
  assert.equal(b.states(at(-29))[0].closesAt, at(-15).toISOString());
  assert.deepEqual(b.update(at(-15.01)), []);
  assert.equal(b.update(at(-15))[0]?.change, "closed", "closed 15m after, not 75m");
  // Release: an escalation stamped before a step back paces from now, not an hour on.
  const c = opened();
  c.heldBack(A[0]);
  c.heldBack(A[1]);
  c.resolved("a3", "f1");
  for (const n of A.slice(0, 2)) c.seen(n, "f1", at(10));
  assert.equal(c.update(at(19))[0].change, "closed");
  c.escalated(A[0], at(19));
  c.update(at(-41));
  assert.match(c.pacing(A[1], at(-41))!, /a2 starts in 60s at the earliest$/);
  assert.equal(c.pacing(A[1], at(-40)), undefined);
  // Sightings from before the step are not "in the future": three nodes alerting now correlate.
  const d = breakers();
  d.seen(A[0], "f1", at(60));
  d.seen(A[1], "f1", at(61));
  d.update(at(61));
  d.seen(A[2], "f1", at(0));
  assert.equal(d.update(at(0))[0]?.change, "opened");
});

Deno.test("a node alerting since long ago that fails again with its zone counts at its new alert's onset", () => {
  const b = breakers();
  b.seen(A[0], "chronic", at(0)); // a1 has alerted for an hour, skipped by the gates
  for (let m = 10; m <= 60; m += 10) b.seen(A[0], "chronic", at(m)); // repeats keep it live
  assert.deepEqual(b.update(at(60)), []);
  // The zone fails: a new alert on a1, a2 and a3 within a minute.
  b.seen(A[0], "zone-down", at(60));
  b.seen(A[1], "zone-down", at(60.5));
  b.seen(A[2], "zone-down", at(61));
  const [opened] = b.update(at(61));
  assert.equal(opened?.change, "opened");
  assert.deepEqual([...opened.state.nodes].sort(), ["a1", "a2", "a3"]);
  assert.equal(opened.state.count, 3, "a node counts once, however many of its alerts fit");
});

Deno.test("while its nodes still alert together an open breaker has no closing time; it gets one once they stop", () => {
  const b = opened();
  assert.equal(b.states(at(4))[0].closesAt, undefined);
  assert.equal(
    b.states(at(10))[0].closesAt,
    undefined,
    "read later, still above at the last update",
  );
  b.resolved("a1", "f1");
  b.update(at(10));
  assert.equal(
    b.states(at(10))[0].closesAt,
    at(19).toISOString(),
    "quiet counts from the last update that saw them together",
  );
});

Deno.test("a node that opened a breaker stays held if it relabels itself into another zone", () => {
  const b = opened();
  const moved = node("a1", "b");
  assert.match(b.holding(moved, at(5))!, /the breaker of zone a is open/);
  assert.equal(b.holding(B1, at(5)), undefined, "zone b's own nodes are not held");
});
