// The counts of each topology domain (DomainTally) as Nodes come, change and go, and what each
// domain budget says of a take-out, a drain and a replacement, in the words the skips carry.
import assert from "node:assert/strict";
import {
  type DomainBudget,
  type DomainCounts,
  domainDrain,
  domainReplace,
  domainTakeOut,
  DomainTally,
} from "../../../lib/decide/domains.ts";
import type { DomainGate } from "../../../lib/decide/domain_policy.ts";
import { Tally } from "../../../lib/decide/tally.ts";
import { DEFAULT_POLICY, type Gates } from "../../../lib/decide/policy.ts";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import type { Node } from "../../../lib/base/node.ts";

const ZONE = "topology.kubernetes.io/zone";
const POOL = "karpenter.sh/nodepool";

interface Spec {
  zone?: string;
  pool?: string;
  notReady?: boolean;
  cordoned?: boolean;
  /** Cordoned by node-heal, at this step. */
  ours?: string;
}

function node(name: string, o: Spec = {}): Node {
  const labels: Record<string, string> = {};
  if (o.zone !== undefined) labels[ZONE] = o.zone;
  if (o.pool !== undefined) labels[POOL] = o.pool;
  return {
    metadata: {
      name,
      resourceVersion: "1",
      labels,
      annotations: o.ours
        ? {
          [ANNOTATIONS.cordonedBy]: "node-heal",
          [ANNOTATIONS.cordonedAt]: "2026-12-06T09:00:00.000Z",
          [ANNOTATIONS.step]: o.ours,
        }
        : {},
    },
    spec: o.cordoned || o.ours ? { unschedulable: true } : {},
    status: { conditions: [{ type: "Ready", status: o.notReady ? "False" : "True" }] },
  };
}

const share = (s: Partial<Record<keyof DomainCounts, boolean>>) => ({
  selected: false,
  available: false,
  held: false,
  draining: false,
  ...s,
});

Deno.test("DomainTally counts each Node in one domain per entry as it is set, changed and removed", () => {
  const t = new DomainTally([{ key: ZONE, maxUnavailable: 1 }, { key: POOL, maxCordoned: 1 }]);
  const a = node("a", { zone: "z1", pool: "p" });
  assert.deepEqual(t.valuesOf(a), ["z1", "p"]);
  assert.deepEqual(t.valuesOf(node("bare")), ["", ""]);
  t.count("a", ["z1", "p"], share({ selected: true, available: true }), 1);
  t.count("b", ["z1", "p"], share({ selected: true, held: true, draining: true }), 1);
  t.count("c", ["z2", ""], share({ selected: true, available: true }), 1);
  assert.deepEqual(t.counts(0, "z1"), { selected: 2, available: 1, held: 1, draining: 1 });
  assert.deepEqual(t.counts(1, "p"), { selected: 2, available: 1, held: 1, draining: 1 });
  assert.deepEqual(t.counts(1, ""), { selected: 1, available: 1, held: 0, draining: 0 });
  assert.deepEqual(t.values("b"), ["z1", "p"]);
  // b moves to z2 (its label changed): taken out of z1 as it was counted, added to z2.
  t.count("b", ["z1", "p"], share({ selected: true, held: true, draining: true }), -1);
  t.count("b", ["z2", "p"], share({ selected: true, held: true }), 1);
  assert.deepEqual(t.counts(0, "z1"), { selected: 1, available: 1, held: 0, draining: 0 });
  assert.deepEqual(t.counts(0, "z2"), { selected: 2, available: 1, held: 1, draining: 0 });
  t.count("a", ["z1", "p"], share({ selected: true, available: true }), -1);
  assert.equal(t.values("a"), undefined);
  // An emptied domain is forgotten: /status does not list it, its counts read zero.
  assert.deepEqual(t.counts(0, "z1"), { selected: 0, available: 0, held: 0, draining: 0 });
  assert.deepEqual(t.all().list.map((d) => `${d.key}=${d.value}`).sort(), [
    `${POOL}=`,
    `${POOL}=p`,
    `${ZONE}=z2`,
  ]);
  // counts() is a copy: changing it changes nothing.
  t.counts(0, "z2").selected = 99;
  assert.equal(t.counts(0, "z2").selected, 2);
});

Deno.test("DomainTally lists at most `limit` domains per entry, those node-heal holds first, and counts the rest", () => {
  const t = new DomainTally([{ key: ZONE, maxUnavailable: 1 }]);
  for (let i = 0; i < 5000; i++) t.count(`n${i}`, [`z${i}`], share({ selected: true }), 1);
  // The last zone of all holds node-heal's cordon: it is listed first, whatever its place.
  t.count("held", ["z4999"], share({ selected: true, held: true }), 1);
  assert.equal(t.all().list.length, 100);
  assert.equal(t.all().list[0].value, "z4999");
  assert.equal(t.all().notListed, 4900);
  assert.equal(t.all(7).list.length, 7);
  t.count("held", ["z4999"], share({ selected: true, held: true }), -1);
  for (let i = 0; i < 5000; i++) t.count(`n${i}`, [`z${i}`], share({ selected: true }), -1);
  assert.deepEqual(t.all(), { list: [], notListed: 0 });
});

/** The budget of `gate` in the domain of `target`, counted by a Tally from `nodes`. */
function budgetOf(gate: DomainGate, nodes: Node[], target: Node): DomainBudget {
  const gates: Gates = { ...DEFAULT_POLICY.gates, domains: [gate] };
  return new Tally(gates, { nodes }).domainBudgets(target)[0];
}

/** Four workers of zone us-east-1a (heal-worker1..4) as `specs` say, and one of us-east-1b. */
function zone(specs: Spec[] = []): Node[] {
  return [
    ...[0, 1, 2, 3].map((i) => node(`heal-worker${i + 1}`, { zone: "us-east-1a", ...specs[i] })),
    node("heal-worker5", { zone: "us-east-1b" }),
  ];
}

function takeOut(gate: Omit<DomainGate, "key">, nodes: Node[], name: string, key = ZONE) {
  const target = nodes.find((n) => n.metadata.name === name)!;
  const available = target.status!.conditions![0].status === "True" && !target.spec?.unschedulable;
  return domainTakeOut({ name, available }, budgetOf({ key, ...gate }, nodes, target));
}

Deno.test("domainTakeOut() maxUnavailable counts whatever is out in the zone, rounded down", () => {
  const all = zone();
  assert.equal(takeOut({ maxUnavailable: 1 }, all, "heal-worker4"), undefined);
  // One already NotReady (not node-heal's doing): a second one out would be two.
  const one = zone([{ notReady: true }]);
  assert.equal(
    takeOut({ maxUnavailable: 1 }, one, "heal-worker4"),
    "taking heal-worker4 out would leave zone us-east-1a with 2 of 4 nodes; maxUnavailable 1",
  );
  // Cordoned by someone else counts the same.
  assert.match(
    takeOut({ maxUnavailable: 1 }, zone([{ cordoned: true }]), "heal-worker4")!,
    /2 of 4/,
  );
  // "34%" of 4 is 1.36, rounded down to 1; "50%" allows 2.
  assert.match(takeOut({ maxUnavailable: "34%" }, one, "heal-worker4")!, /maxUnavailable 34%$/);
  assert.equal(takeOut({ maxUnavailable: "50%" }, one, "heal-worker4"), undefined);
  // The other zone's Node is not in this domain: its budget is its own.
  assert.equal(takeOut({ maxUnavailable: 1 }, one, "heal-worker5"), undefined);
});

Deno.test("domainTakeOut() of a NotReady Node costs no availability, but node-heal's cordon counts", () => {
  // heal-worker1 is NotReady and nothing else is out: taking it out leaves it the only one out.
  const one = zone([{ notReady: true }]);
  assert.equal(takeOut({ maxUnavailable: 1 }, one, "heal-worker1"), undefined);
  assert.equal(takeOut({ minHealthy: 3 }, one, "heal-worker1"), undefined);
  // node-heal holds heal-worker2 (NotReady too): its cordon counts even if it is NotReady, and
  // the second take-out makes two of node-heal's out.
  const held = zone([{ notReady: true }, { notReady: true, ours: "cordoned" }]);
  assert.equal(
    takeOut({ maxUnavailable: 1 }, held, "heal-worker1"),
    "taking heal-worker1 out would leave zone us-east-1a with 2 of 4 nodes; maxUnavailable 1",
  );
  assert.equal(takeOut({ maxUnavailable: 2 }, held, "heal-worker1"), undefined);
  // As the global minHealthy: two of four NotReady, 3 must stay; cordoning one of those two takes
  // nothing more away (it is asked only what node-heal would hold once they are Ready again).
  const two = zone([{ notReady: true }, { notReady: true }]);
  assert.equal(takeOut({ minHealthy: 3 }, two, "heal-worker1"), undefined);
  assert.match(takeOut({ minHealthy: 3 }, two, "heal-worker4")!, /with 1 of 4 nodes; at least 3/);
});

Deno.test("domainTakeOut() minHealthy: what must stay available, percentages rounded up", () => {
  const all = zone();
  assert.equal(takeOut({ minHealthy: 3 }, all, "heal-worker4"), undefined);
  assert.equal(
    takeOut({ minHealthy: 4 }, all, "heal-worker4"),
    "taking heal-worker4 out would leave zone us-east-1a with 3 of 4 nodes; at least 4 must stay (minHealthy 4)",
  );
  // "51%" of 4 is 2.04, rounded up to 3: with one out already, a second leaves 2.
  const one = zone([{ notReady: true }]);
  assert.equal(
    takeOut({ minHealthy: "51%" }, one, "heal-worker4"),
    "taking heal-worker4 out would leave zone us-east-1a with 2 of 4 nodes; at least 3 must stay (minHealthy 51%)",
  );
  assert.equal(takeOut({ minHealthy: "50%" }, one, "heal-worker4"), undefined);
  // node-heal's held Node counts as out even once Ready again.
  const held = zone([{ ours: "cordoned" }]);
  assert.match(takeOut({ minHealthy: 3 }, held, "heal-worker4")!, /with 2 of 4 nodes; at least 3/);
});

Deno.test("domainTakeOut() maxCordoned counts only node-heal's cordons in the domain", () => {
  const someone = zone([{ cordoned: true }, { notReady: true }]);
  assert.equal(takeOut({ maxCordoned: 1 }, someone, "heal-worker4"), undefined);
  const ours = zone([{ ours: "draining" }]);
  assert.equal(
    takeOut({ maxCordoned: 1 }, ours, "heal-worker4"),
    "node-heal already holds 1 of 4 nodes of zone us-east-1a cordoned; maxCordoned 1",
  );
  // "25%" of 4 is 1: the same; "49%" is 1.96, rounded down to 1.
  assert.match(takeOut({ maxCordoned: "49%" }, ours, "heal-worker4")!, /maxCordoned 49%$/);
  assert.equal(takeOut({ maxCordoned: "50%" }, ours, "heal-worker4"), undefined);
  // maxCordoned 0: node-heal never cordons in the domain.
  assert.match(takeOut({ maxCordoned: 0 }, zone(), "heal-worker4")!, /holds 0 of 4/);
});

Deno.test("domainTakeOut() names Nodes without the label one domain, (unlabelled)", () => {
  const nodes = [node("u1"), node("u2", { notReady: true }), node("a1", { zone: "a" })];
  assert.equal(
    takeOut({ maxUnavailable: 1 }, nodes, "u1"),
    "taking u1 out would leave zone (unlabelled) with 0 of 2 nodes; maxUnavailable 1",
  );
  assert.equal(takeOut({ maxUnavailable: 1 }, nodes, "a1"), undefined);
  // A label value with a newline is quoted, never written raw into the message.
  const odd = [node("o1", { zone: "a\nb", notReady: true }), node("o2", { zone: "a\nb" })];
  assert.match(takeOut({ maxUnavailable: 1 }, odd, "o2")!, /zone a\\nb with 0 of 2/);
});

Deno.test("domainDrain() and domainReplace() hold at maxConcurrent and maxReplacing", () => {
  const gate = { key: ZONE, maxConcurrent: 1, maxReplacing: 2 };
  const counts = { selected: 4, available: 2, held: 2, draining: 1 };
  assert.equal(
    domainDrain({ gate, value: "us-east-1a", counts }),
    "1 node of zone us-east-1a is draining, maxConcurrent is 1 there",
  );
  assert.equal(
    domainDrain({ gate, value: "us-east-1a", counts: { ...counts, draining: 0 } }),
    undefined,
  );
  assert.equal(
    domainDrain({ gate: { key: ZONE, maxUnavailable: 1 }, value: "a", counts }),
    undefined,
  );
  assert.equal(domainReplace(gate, "us-east-1a", ["w1"]), undefined);
  assert.equal(
    domainReplace(gate, "us-east-1a", ["w1", "w2"]),
    "2 replacements are under way in zone us-east-1a (w1, w2); maxReplacing is 2 there",
  );
  assert.equal(
    domainReplace({ key: ZONE, maxReplacing: 1 }, "", ["w1"]),
    "1 replacement is under way in zone (unlabelled) (w1); maxReplacing is 1 there",
  );
  const many = Array.from({ length: 9 }, (_, i) => `w${i}`);
  assert.match(domainReplace(gate, "a", many)!, /^9 replacements .*\(w0, w1, w2, w3, w4\);/);
});
