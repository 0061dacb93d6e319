// Unit tests of the embedded Karpenter's pure parts: NodeClaims built from Nodes, their names,
// node addresses, node selectors and the server's timers.
import assert from "node:assert/strict";
import { defaultTopology, nodeAddress } from "../../../lib/embedded/seed/topology.ts";
import {
  cloudOfProviderID,
  nodeClaimFor,
  nodeClaimName,
  seedNodeClaims,
} from "../../../lib/embedded/seed/karpenter_claims.ts";
import { indexOfAddress, matchesLabels } from "../../../lib/embedded/controllers/node_lifecycle.ts";
import { NODE_CLOUDS } from "../../../lib/embedded/nodes/clouds.ts";
import { Timers } from "../../../lib/embedded/controllers/timers.ts";
import type { KubeObject } from "../../../lib/embedded/store/objects.ts";

const NOW = Date.UTC(2024, 4, 1);
const POOL = "karpenter.sh/nodepool";

function claimsOf(objects: KubeObject[]) {
  return objects.filter((o) => o.kind === "NodeClaim") as unknown as {
    metadata: { name: string; labels: Record<string, string> };
    spec: { nodeClassRef: { kind: string } };
    status: { nodeName: string; providerID: string };
  }[];
}

Deno.test("the seed has one NodeClaim per worker, in the Node's pool, in every cloud style", () => {
  for (const cloud of NODE_CLOUDS) {
    const objects = defaultTopology({ workers: 40, now: NOW, cloud });
    const nodes = objects.filter((o) => o.kind === "Node");
    const claims = claimsOf(objects);
    assert.equal(claims.length, 40, cloud);
    for (const claim of claims) {
      const node = nodes.find((n) => n.metadata?.name === claim.status.nodeName)!;
      const labels = node.metadata!.labels!;
      assert.equal(claim.metadata.labels[POOL], labels[POOL], cloud);
      assert.equal(labels["karpenter.sh/registered"], "true");
      assert.equal(labels["karpenter.sh/initialized"], "true");
      assert.match(claim.metadata.name, new RegExp(`^${labels[POOL]}-[a-z0-9]{5}$`));
      assert.equal(claim.status.providerID, (node.spec as { providerID: string }).providerID);
    }
    assert.ok(!claims.some((c) => c.status.nodeName === "heal-control-plane"));
    assert.equal(nodes[0].metadata!.labels![POOL], undefined, `${cloud}: control plane`);
  }
});

Deno.test("5,000 workers get 5,000 NodeClaims with distinct names, cheaply", () => {
  const objects: KubeObject[] = Array.from({ length: 5000 }, (_, i) => ({
    kind: "Node",
    metadata: { name: `heal-worker${i + 1}`, labels: { [POOL]: ["general", "memory"][i % 2] } },
    spec: { providerID: `aws:///us-east-1a/i-${i}` },
  }));
  const started = performance.now();
  const claims = seedNodeClaims(objects, "2024-05-01T00:00:00Z");
  const ms = performance.now() - started;
  assert.equal(claims.length, 5000);
  assert.equal(new Set(claims.map((c) => c.metadata!.name)).size, 5000);
  assert.ok(ms < 500, `${ms} ms`);
});

Deno.test("nodeClaimName() draws again on a clash; nodeClaimFor() needs a pool label", () => {
  const first = nodeClaimName("general", "seed", () => false);
  assert.match(first, /^general-[a-z0-9]{5}$/);
  const second = nodeClaimName("general", "seed", (n) => n === first);
  assert.notEqual(second, first);
  assert.match(second, /^general-/);
  assert.throws(
    () =>
      nodeClaimFor({ kind: "Node", metadata: { name: "x", labels: {} } }, { name: "a", at: "" }),
    /no karpenter.sh\/nodepool label/,
  );
});

Deno.test("cloudOfProviderID() picks the NodeClass of each provider", () => {
  assert.equal(cloudOfProviderID("aws:///us-east-1a/i-0abc"), "aws");
  assert.equal(cloudOfProviderID("gce://p/z/n"), "gcp");
  assert.equal(cloudOfProviderID("azure:///subscriptions/x"), "azure");
  assert.equal(cloudOfProviderID("kind://docker/heal/n"), "kind");
  const kinds = NODE_CLOUDS.map((cloud) =>
    claimsOf(defaultTopology({ workers: 1, now: NOW, cloud }))[0].spec.nodeClassRef.kind
  );
  assert.deepEqual(kinds, ["EC2NodeClass", "GCENodeClass", "AKSNodeClass", "KWOKNodeClass"]);
});

Deno.test("indexOfAddress() inverts nodeAddress(); matchesLabels() needs every pair", () => {
  for (const i of [0, 1, 253, 254, 5000]) assert.equal(indexOfAddress(nodeAddress(i)), i);
  assert.equal(indexOfAddress(""), -1);
  assert.equal(indexOfAddress("not.an.ip.x"), -1);
  assert.ok(matchesLabels(undefined, { a: "1" }));
  assert.ok(matchesLabels({ a: "1" }, { a: "1", b: "2" }));
  assert.ok(!matchesLabels({ a: "1", c: "3" }, { a: "1" }));
});

Deno.test("Timers: clear() cancels what is pending and refuses what comes after", async () => {
  const timers = new Timers();
  const fired: string[] = [];
  timers.schedule(() => fired.push("soon"), 0);
  timers.schedule(() => fired.push("late"), 60_000);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(fired, ["soon"]);
  assert.equal(timers.size, 1);
  timers.clear();
  timers.schedule(() => fired.push("after"), 0);
  assert.equal(timers.size, 0);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(fired, ["soon"]);
});
