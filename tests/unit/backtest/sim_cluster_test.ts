import assert from "node:assert/strict";
import fc from "fast-check";
import { patched, SimCluster, untouched } from "../../../lib/backtest/sim_cluster.ts";
import { ANNOTATIONS, OWNER } from "../../../lib/decide/node_state.ts";
import { decide } from "../../../lib/decide/decide.ts";
import { DEFAULT_POLICY, parsePolicy } from "../../../lib/decide/policy.ts";
import type { Alert } from "../../../lib/intake/alertmanager.ts";
import type { Node } from "../../../lib/base/node.ts";
import { workerNode } from "../../fakes/fake_client.ts";

const POLICY = parsePolicy(`
rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]
acknowledge: [highRate]
gates: { minHealthy: 1, rate: { max: 1000, window: 1h }, cooldown: 0s, nodeSelector: { pool: a } }
`);

/** Workers in pool a (selected) and b (outside the selector), a control plane, one NotReady, one cordoned by hand. */
function nodes(): Node[] {
  const out = Array.from({ length: 8 }, (_, i) => {
    const n = workerNode(`w${i}`, `10.0.0.${i + 1}`);
    n.metadata.labels!.pool = i < 6 ? "a" : "b";
    return n;
  });
  out[1].status!.conditions = [{ type: "Ready", status: "False" }];
  out[2].spec = { unschedulable: true };
  const cp = workerNode("cp", "10.0.9.1");
  cp.metadata.labels!["node-role.kubernetes.io/control-plane"] = "";
  cp.metadata.labels!.pool = "a";
  return [cp, ...out];
}

function alert(node: number, status: "firing" | "resolved"): Alert {
  return {
    fingerprint: `f${node}`,
    status,
    labels: { alertname: "NodeHighCPU", heal: "true", node: node < 0 ? "cp" : `w${node}` },
    annotations: {},
    startsAt: "2026-11-02T00:00:00Z",
    endsAt: "",
    generatorURL: "",
  };
}

Deno.test("SimCluster counts nodes out and held as the gates' tally does, through cordons, releases and replacements", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          node: fc.integer({ min: -1, max: 7 }),
          op: fc.constantFrom("firing", "resolved", "replace"),
        }),
        { maxLength: 40 },
      ),
      (steps) => {
        const cluster = new SimCluster(nodes(), POLICY.gates);
        const now = new Date("2026-11-02T00:00:00Z");
        for (const [i, { node, op }] of steps.entries()) {
          const at = new Date(now.getTime() + i * 60_000);
          const name = node < 0 ? "cp" : `w${node}`;
          if (op === "replace") {
            if (cluster.index.get(name)) cluster.replace(name, at);
          } else {
            const target = cluster.index.get(name);
            if (!target) continue;
            const d = decide(alert(node, op), target, {
              now: at,
              holdTtlMs: 3_600_000,
              policy: POLICY,
              tally: cluster.tally,
            });
            if (d.kind === "act") cluster.write(d);
          }
          const b = cluster.tally.budgets({ now: at, paused: false });
          assert.deepEqual(
            { out: cluster.out.out, held: cluster.out.heldByNodeHeal },
            { out: b.selected - b.available, held: b.minHealthy.heldByNodeHeal },
          );
        }
      },
    ),
  );
});

Deno.test("untouched() takes node-heal's marks and its own cordon off a Node, and keeps a person's cordon", () => {
  const ours = workerNode("w1");
  ours.spec = { unschedulable: true };
  ours.metadata.annotations = {
    [ANNOTATIONS.cordonedBy]: OWNER,
    [ANNOTATIONS.step]: "cordoned",
    "example.com/keep": "yes",
  };
  const theirs = workerNode("w2");
  theirs.spec = { unschedulable: true };
  assert.deepEqual(untouched(ours).metadata.annotations, { "example.com/keep": "yes" });
  assert.equal(untouched(ours).spec?.unschedulable, undefined);
  assert.equal(untouched(theirs).spec?.unschedulable, true);
});

Deno.test("patched() merges node-heal's patch as the API server would: null deletes, versions move on", () => {
  const node = workerNode("w1");
  node.metadata.annotations = { a: "1", b: "2" };
  const next = patched(node, {
    metadata: { resourceVersion: "1", annotations: { a: null, c: "3" } },
    spec: { unschedulable: true },
  }, "7");
  assert.deepEqual(next.metadata.annotations, { b: "2", c: "3" });
  assert.equal(next.metadata.resourceVersion, "7");
  assert.equal(next.spec?.unschedulable, true);
  assert.equal(
    patched(next, { metadata: {}, spec: { unschedulable: null } }, "8").spec?.unschedulable,
    undefined,
  );
  // The Node given is left as it was: decisions read it again.
  assert.deepEqual(node.metadata.annotations, { a: "1", b: "2" });
});

Deno.test("SimCluster.replace() brings a Ready successor into the pool of the Node it replaces", () => {
  const old = workerNode("w1", "10.0.0.9");
  old.metadata.labels!["karpenter.sh/nodepool"] = "general";
  const c = new SimCluster([old], DEFAULT_POLICY.gates);
  const successor = c.replace("w1", new Date("2026-11-02T00:00:00.500Z"))!;
  assert.equal(successor.metadata.name, "w1-r1");
  assert.equal(successor.metadata.labels?.["karpenter.sh/nodepool"], "general");
  assert.equal(successor.metadata.creationTimestamp, "2026-11-02T00:00:01.000Z");
  assert.equal(c.index.get("w1"), undefined);
  // The old address no longer resolves: alerts about it match no node.
  assert.deepEqual(c.index.lookup("10.0.0.9"), []);
});

Deno.test("SimLedger records a replacement's domain labels and counts it in its own domain's maxReplacing only", () => {
  const policy = parsePolicy(`
gates:
  domains: [{ key: topology.kubernetes.io/zone, maxReplacing: 1 }]
`);
  const zoned = (name: string, zone: string) => {
    const n = workerNode(name);
    n.metadata.labels!["topology.kubernetes.io/zone"] = zone;
    return n;
  };
  const [a1, a2, b1] = [zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b")];
  const c = new SimCluster([a1, a2, b1], policy.gates);
  const r = c.ledger.begin(a1, { rule: "heal", provider: "karpenter", now: new Date(0) });
  assert.deepEqual(r.labels, { "topology.kubernetes.io/zone": "a" });
  assert.deepEqual(c.ledger.inDomains(a2).map((d) => [d.value, d.inFlight]), [["a", ["a1"]]]);
  assert.deepEqual(c.ledger.inDomains(b1).map((d) => [d.value, d.inFlight]), [["b", []]]);
  c.ledger.end("a1", { now: new Date(1), successor: "a1-r1" });
  assert.deepEqual(c.ledger.inDomains(a2).map((d) => d.inFlight), [[]]);
});
