// The bench's floors make what they claim: the requests floor the cluster requests node-heal's
// cordon makes (so that `ratio_*_to_requests_floor` is node-heal's own share), the one-PATCH
// floor one PATCH. Both against the embedded cluster over HTTP, read back from its request record.
import assert from "node:assert/strict";
import { connect } from "../../../lib/act/kube/client.ts";
import type { EmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { workerName } from "../../../lib/embedded/seed/topology.ts";
import { floorCordons } from "../../bench/floor_cordons.ts";
import { notification } from "../../bench/load.ts";
import { withService } from "../../support/helpers.ts";
import { waitFor } from "../../support/wait.ts";

/**
 * The cluster's requests since its record was reset, bar the pause poll (node-heal's namespace)
 * and the watches (kept open beside the calls, counted by {@link nodeWatches}).
 */
function calls(cluster: EmbeddedCluster): string[] {
  return cluster.api.traffic.requests
    .filter((r) => r.resource !== "namespaces" && r.verb !== "watch")
    .map((r) => `${r.verb} ${r.resource}`).sort();
}

/** The Node watches the cluster has been asked for since its record was reset. */
function nodeWatches(cluster: EmbeddedCluster): number {
  return cluster.api.traffic.requests.filter((r) => r.verb === "watch" && r.resource === "nodes")
    .length;
}

function unschedulable(cluster: EmbeddedCluster, name: string): boolean {
  const node = cluster.api.readAll("Node").find((n) => n.metadata?.name === name);
  return (node?.spec as { unschedulable?: boolean } | undefined)?.unschedulable === true;
}

Deno.test("the requests floor makes the cluster requests of node-heal's cordon, and nothing more", async () => {
  // node-heal's cordon of worker 1, until its Event is written.
  await using f = await withService({ workers: 3 });
  await waitFor("node-heal's watch", () => nodeWatches(f.cluster) > 0);
  assert.equal(nodeWatches(f.cluster), 1, "node-heal keeps one Node watch");
  f.cluster.api.traffic.reset();
  assert.equal((await f.post(notification(1))).status, 200);
  await waitFor("node-heal's Event", () => calls(f.cluster).includes("create events"));
  await new Promise((r) => setTimeout(r, 200));
  const heal = calls(f.cluster);
  assert.deepEqual(heal, ["create events", "patch nodes"]);

  await using cluster = await startEmbeddedCluster({ workers: 3 });
  const { client } = connect({ kubeconfigYaml: cluster.kubeconfig() });
  const floor = await floorCordons(client, "same");
  try {
    // It keeps a Node watch, as node-heal does.
    await waitFor("the floor's watch", () => nodeWatches(cluster) > 0);
    assert.equal(nodeWatches(cluster), 1);
    cluster.api.traffic.reset();
    await floor.cordon(JSON.parse(notification(1)));
    assert.deepEqual(calls(cluster), heal);
    assert.ok(unschedulable(cluster, workerName(1)));
    assert.ok(!unschedulable(cluster, workerName(2)));
  } finally {
    await floor.stop();
    await client.close?.();
  }
});

Deno.test("the one-PATCH floor makes one PATCH of the alert's Node and keeps no watch", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 3 });
  const { client } = connect({ kubeconfigYaml: cluster.kubeconfig() });
  cluster.api.traffic.reset();
  const floor = await floorCordons(client, "patch");
  try {
    await floor.cordon(JSON.parse(notification(2)));
    assert.deepEqual(calls(cluster), ["patch nodes"]);
    assert.equal(nodeWatches(cluster), 0);
    assert.ok(unschedulable(cluster, workerName(2)));
    assert.ok(!unschedulable(cluster, workerName(1)));
  } finally {
    await floor.stop();
    await client.close?.();
  }
});
