// The embedded cluster plays a Karpenter cluster: every worker has a karpenter.sh/v1 NodeClaim,
// and deleting one replaces its Node with a fresh, Ready one of the same NodePool. Through the
// real client library's CustomObjectsApi (as node-heal's Karpenter provider uses it) and kubectl.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import {
  expectStatus,
  KUBECTL,
  kubectlFor,
  kubectlVersion,
  waitFor,
  withCluster,
} from "../../support/helpers.ts";

const CLAIMS = { group: "karpenter.sh", version: "v1", plural: "nodeclaims" };
const POOL = "karpenter.sh/nodepool";

interface NodeClaim {
  metadata: {
    name: string;
    uid: string;
    labels: Record<string, string>;
    deletionTimestamp?: string;
    finalizers?: string[];
  };
  spec: { nodeClassRef: { group: string; kind: string; name: string } };
  status: {
    nodeName: string;
    providerID: string;
    conditions: { type: string; status: string }[];
  };
}

async function listClaims(custom: k8s.CustomObjectsApi): Promise<NodeClaim[]> {
  const list = await custom.listClusterCustomObject(CLAIMS) as { items: NodeClaim[] };
  return list.items;
}

function ready(node: k8s.V1Node): boolean {
  return node.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
}

Deno.test("every worker has a NodeClaim naming it, its providerID and its NodePool", async () => {
  await using f = await withCluster({ workers: 5 });
  const custom = f.kc.makeApiClient(k8s.CustomObjectsApi);
  const claims = await listClaims(custom);
  const nodes = (await f.core.listNode()).items;
  const workers = nodes.filter((n) =>
    !("node-role.kubernetes.io/control-plane" in (n.metadata?.labels ?? {}))
  );
  assert.equal(workers.length, 5);
  assert.deepEqual(
    claims.map((c) => c.status.nodeName).sort(),
    workers.map((n) => n.metadata!.name!).sort(),
  );
  for (const claim of claims) {
    const node = workers.find((n) => n.metadata!.name === claim.status.nodeName)!;
    const pool = node.metadata!.labels![POOL];
    assert.ok(pool, `${node.metadata!.name} has a ${POOL} label`);
    assert.equal(claim.metadata.labels[POOL], pool);
    assert.ok(claim.metadata.name.startsWith(`${pool}-`), claim.metadata.name);
    assert.equal(claim.status.providerID, node.spec!.providerID);
    assert.equal(node.metadata!.labels!["karpenter.sh/registered"], "true");
    assert.equal(node.metadata!.labels!["karpenter.sh/initialized"], "true");
    assert.deepEqual(
      claim.status.conditions.map((c) => `${c.type}=${c.status}`),
      ["Launched=True", "Registered=True", "Initialized=True", "Ready=True"],
    );
    assert.equal(claim.spec.nodeClassRef.kind, "EC2NodeClass");
    const got = await custom.getClusterCustomObject({ ...CLAIMS, name: claim.metadata.name });
    assert.equal((got as NodeClaim).metadata.uid, claim.metadata.uid);
  }
  const control = nodes.find((n) => n.metadata!.name === "heal-control-plane")!;
  assert.equal(control.metadata!.labels![POOL], undefined);
  await expectStatus(404, () => custom.getClusterCustomObject({ ...CLAIMS, name: "no-such" }));
});

Deno.test(
  "deleting a NodeClaim removes its Node and pods, then a fresh Ready Node joins the same pool",
  async () => {
    await using f = await withCluster({ replaceDelayMs: 150, nodeClaimTerminationMs: 50 });
    const custom = f.kc.makeApiClient(k8s.CustomObjectsApi);
    const before = await listClaims(custom);
    const victim = before.find((c) => c.status.nodeName === "heal-worker3")!;
    const pool = victim.metadata.labels[POOL];
    const addresses = new Set(
      (await f.core.listNode()).items.map((n) => n.status!.addresses![0].address),
    );

    const events: string[] = [];
    const watch = new k8s.Watch(f.kc);
    const { resourceVersion } = (await f.core.listNode()).metadata!;
    const req = await watch.watch(
      "/api/v1/nodes",
      { resourceVersion },
      (type, obj) => events.push(`${type} ${obj.metadata?.name}`),
      () => {},
    );
    try {
      const deleted = await custom.deleteClusterCustomObject({
        ...CLAIMS,
        name: victim.metadata.name,
      }) as NodeClaim;
      // Karpenter's termination finalizer holds the claim until its Node is gone.
      assert.ok(deleted.metadata.deletionTimestamp, "the claim is Terminating");
      assert.deepEqual(deleted.metadata.finalizers, ["karpenter.sh/termination"]);

      await waitFor("the Node to go", async () => {
        const names = (await f.core.listNode()).items.map((n) => n.metadata!.name);
        return !names.includes("heal-worker3");
      });
      const pods = await f.core.listPodForAllNamespaces({
        fieldSelector: "spec.nodeName=heal-worker3",
      });
      assert.deepEqual(pods.items.map((p) => p.metadata!.name), []);
      await expectStatus(
        404,
        () => custom.getClusterCustomObject({ ...CLAIMS, name: victim.metadata.name }),
      );

      const fresh = await waitFor("a fresh NodeClaim", async () => {
        const claims = await listClaims(custom);
        return claims.find((c) => !before.some((b) => b.metadata.name === c.metadata.name));
      });
      assert.equal(fresh.metadata.labels[POOL], pool);
      assert.ok(fresh.metadata.name.startsWith(`${pool}-`));
      const node = await f.core.readNode({ name: fresh.status.nodeName });
      assert.notEqual(node.metadata!.name, "heal-worker3");
      assert.ok(ready(node), "the new Node is Ready");
      assert.equal(node.metadata!.labels![POOL], pool);
      assert.equal(node.spec!.providerID, fresh.status.providerID);
      assert.notEqual(node.spec!.providerID, victim.status.providerID);
      const ip = node.status!.addresses!.find((a) => a.type === "InternalIP")!.address;
      assert.ok(!addresses.has(ip), `${ip} is a fresh address`);
      const proxy = await f.core.listPodForAllNamespaces({
        fieldSelector: `spec.nodeName=${node.metadata!.name}`,
      });
      assert.deepEqual(proxy.items.map((p) => p.metadata!.labels!["k8s-app"]), ["kube-proxy"]);
      assert.equal(proxy.items[0].status!.podIP, ip, "kube-proxy runs on the host network");

      await waitFor("the watch to see both", () => events.length >= 2);
      assert.deepEqual(events, ["DELETED heal-worker3", `ADDED ${node.metadata!.name}`]);
    } finally {
      req.abort();
    }
  },
);

Deno.test("each replacement gets a new name and address; closing the server clears its timers", async () => {
  await using f = await withCluster({ workers: 2, replaceDelayMs: 20, nodeClaimTerminationMs: 0 });
  const custom = f.kc.makeApiClient(k8s.CustomObjectsApi);
  const seen = new Set<string>();
  for (let round = 0; round < 3; round++) {
    const [claim] = await listClaims(custom);
    seen.add(claim.status.nodeName);
    await custom.deleteClusterCustomObject({ ...CLAIMS, name: claim.metadata.name });
    await waitFor("the replacement", async () => {
      const claims = await listClaims(custom);
      return claims.length === 2 && claims.every((c) => !c.metadata.deletionTimestamp) &&
        !claims.some((c) => c.metadata.name === claim.metadata.name);
    });
  }
  const nodes = (await f.core.listNode()).items;
  const names = nodes.map((n) => n.metadata!.name!);
  const ips = nodes.map((n) => n.status!.addresses![0].address);
  assert.equal(new Set(ips).size, ips.length, "no two Nodes share an InternalIP");
  assert.equal(names.length, 3);
  assert.ok(names.includes("heal-worker-r3"), names.join(","));
  for (const gone of seen) assert.ok(!names.includes(gone), `${gone} is gone`);
  assert.equal(seen.size, 3, "each round replaced another Node");
  // A deletion pending at close time leaves no timer behind (the test's sanitizers check it).
  const [last] = await listClaims(custom);
  await custom.deleteClusterCustomObject({ ...CLAIMS, name: last.metadata.name });
});

const version = await kubectlVersion();
if (!version) {
  console.warn(`SKIPPED kubectl NodeClaim tests: "${KUBECTL}" was not found on PATH`);
}

Deno.test(
  `kubectl ${version ?? ""} gets NodeClaims with Karpenter's columns and deletes one`,
  { ignore: !version },
  async () => {
    await using f = await withCluster({ replaceDelayMs: 50, nodeClaimTerminationMs: 20 });
    await using kubectl = await kubectlFor(f.cluster.kubeconfig());
    const text = await kubectl.run("get", "nodeclaims");
    const [header, ...rows] = text.trimEnd().split("\n");
    assert.match(header, /^NAME\s+TYPE\s+CAPACITY\s+ZONE\s+NODE\s+READY\s+AGE$/);
    assert.equal(rows.length, 3);
    const victim = rows.find((r) => / heal-worker2 /.test(r))!.split(/\s+/)[0];
    assert.match(await kubectl.run("get", "nodeclaim", victim, "-o", "name"), /^nodeclaim\./);
    assert.match(
      await kubectl.run("delete", "nodeclaim", victim),
      new RegExp(`nodeclaim.karpenter.sh "${victim}" deleted`),
    );
    // kubectl waits for the finalizer: by then the Node is gone.
    const nodes = await kubectl.run("get", "nodes", "-o", "name");
    assert.ok(!nodes.includes("node/heal-worker2\n"), nodes);
    await waitFor("the replacement Node", async () => {
      const out = await kubectl.run("get", "nodes", "-l", "karpenter.sh/nodepool", "-o", "name");
      return out.trimEnd().split("\n").length === 3 && out.includes("heal-worker-r1");
    });
  },
);
