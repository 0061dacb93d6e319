import assert from "node:assert/strict";
import { patched, SimCluster, untouched } from "../../../lib/backtest/sim_cluster.ts";
import { ANNOTATIONS, OWNER } from "../../../lib/decide/node_state.ts";
import { DEFAULT_POLICY } from "../../../lib/decide/policy.ts";
import { workerNode } from "../../fake_client.ts";

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
