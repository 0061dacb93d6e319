// The whole ladder through the providers that act through the Kubernetes API, cluster-api and
// delete-node, against the embedded cluster over HTTP, read back with the real client library:
// cordon, drain, the provider asked once, the old Node gone, the ledger ending `replaced` with the
// provider's operation and a Ready successor. (Karpenter's ladder: replace_karpenter_test.ts; the
// cloud providers': replace_ladder_cloud_test.ts.)
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { withService } from "../../support/helpers.ts";
import {
  assertReadySuccessor,
  ended,
  ladderPolicy,
  postReplace,
  reasonsUntil,
  REPLACED_REASONS,
} from "../../support/ladder.ts";

/** The DELETE requests of `resource` the embedded cluster served. */
function deletes(f: { cluster: { api: { traffic: { requests: unknown[] } } } }, resource: string) {
  return (f.cluster.api.traffic.requests as { method: string; resource: string; name: string }[])
    .filter((r) => r.method === "DELETE" && r.resource === resource);
}

Deno.test("cluster-api: the ladder deletes heal-worker's Machine once, and its MachineSet's new Node is Ready", async () => {
  await using f = await withService({
    policy: ladderPolicy("provider: cluster-api"),
    clusterOptions: { nodeManager: "cluster-api", machineDeletionMs: 100, replaceDelayMs: 300 },
  });
  const custom = f.kc.makeApiClient(k8s.CustomObjectsApi);
  const old = await f.core.readNode({ name: "heal-worker" });
  const machineName = old.metadata!.annotations!["cluster.x-k8s.io/machine"];
  const namespace = old.metadata!.annotations!["cluster.x-k8s.io/cluster-namespace"];
  const machine = await custom.getNamespacedCustomObject({
    group: "cluster.x-k8s.io",
    version: "v1beta1",
    namespace,
    plural: "machines",
    name: machineName,
  }) as { metadata: { uid: string } };

  await postReplace(f);
  const done = await ended(f);
  assert.equal(done.phase, "replaced", String(done.message));
  assert.equal(done.node, "heal-worker");
  assert.equal(done.provider, "cluster-api");
  assert.equal(done.operation, machine.metadata.uid, "the operation is the deleted Machine's uid");
  const successor = await assertReadySuccessor(f.core, done.successor, done.startedAt);
  assert.notEqual(successor.metadata?.name, "heal-worker");
  assert.notEqual(
    successor.metadata?.annotations?.["cluster.x-k8s.io/machine"],
    machineName,
    "the successor is another Machine's",
  );
  assert.equal(
    (await f.core.listNode()).items.some((n) => n.metadata?.name === "heal-worker"),
    false,
    "the old Node is gone",
  );
  assert.deepEqual(
    deletes(f, "machines").map((r) => r.name),
    [machineName],
    "one Machine deleted",
  );
  assert.deepEqual(deletes(f, "nodes"), [], "no Node deleted by node-heal");
  assert.deepEqual(await reasonsUntil(f.core, "heal-worker", "NodeHealReplaced"), REPLACED_REASONS);
});

Deno.test("delete-node: the ladder deletes heal-worker once, and the autoscaler's new Node is Ready", async () => {
  // The default embedded cluster plays Karpenter: a deleted Node goes through its NodeClaim, and
  // a new Node of the same NodePool comes up.
  await using f = await withService({
    policy: ladderPolicy("provider: delete-node"),
    clusterOptions: { nodeClaimTerminationMs: 100, replaceDelayMs: 300 },
  });
  const old = await f.core.readNode({ name: "heal-worker" });

  await postReplace(f);
  const done = await ended(f);
  assert.equal(done.phase, "replaced", String(done.message));
  assert.equal(done.node, "heal-worker");
  assert.equal(done.provider, "delete-node");
  assert.equal(done.operation, old.metadata!.uid, "the operation is the deleted Node's uid");
  const successor = await assertReadySuccessor(f.core, done.successor, done.startedAt);
  assert.notEqual(successor.metadata?.name, "heal-worker");
  assert.equal(
    successor.metadata?.labels?.["karpenter.sh/nodepool"],
    old.metadata?.labels?.["karpenter.sh/nodepool"],
    "of the same pool",
  );
  assert.equal(
    (await f.core.listNode()).items.some((n) => n.metadata?.name === "heal-worker"),
    false,
    "the old Node is gone",
  );
  const nodeDeletes = deletes(f, "nodes");
  assert.deepEqual(nodeDeletes.map((r) => r.name), ["heal-worker"], "one Node deleted");
  assert.deepEqual(await reasonsUntil(f.core, "heal-worker", "NodeHealReplaced"), REPLACED_REASONS);
});
