// The embedded cluster plays a Cluster API cluster (nodeManager "cluster-api"): every worker has a
// Machine of MachineSet heal-md-0-<5>, and deleting one replaces its Node with a fresh, Ready one.
// Also ConfigMaps (node-heal's replacement ledger) and deleting a managed Node directly, in both
// modes. Through the real client library and kubectl.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import {
  type ClusterFixture,
  expectStatus,
  KUBECTL,
  kubectlFor,
  kubectlVersion,
  waitFor,
  withCluster,
} from "../../support/helpers.ts";

const CAPI = { group: "cluster.x-k8s.io", version: "v1beta1" };
const MACHINES = { ...CAPI, plural: "machines" };
const NS = "default";

interface Machine {
  metadata: {
    name: string;
    uid: string;
    labels: Record<string, string>;
    deletionTimestamp?: string;
    finalizers?: string[];
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
  };
  spec: {
    clusterName: string;
    providerID: string;
    bootstrap: { configRef: { kind: string } };
    infrastructureRef: { kind: string };
  };
  status: {
    phase: string;
    nodeRef: { kind: string; name: string };
    conditions: { type: string; status: string }[];
  };
}

async function listMachines(custom: k8s.CustomObjectsApi): Promise<Machine[]> {
  const list = await custom.listNamespacedCustomObject({ ...MACHINES, namespace: NS });
  return (list as { items: Machine[] }).items;
}

function ready(node: k8s.V1Node): boolean {
  return node.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
}

async function nodeNames(f: ClusterFixture): Promise<string[]> {
  return (await f.core.listNode()).items.map((n) => n.metadata!.name!);
}

Deno.test("every worker has a Machine of MachineSet heal-md-0-<5>, and CAPI's Node annotations", async () => {
  await using f = await withCluster({ nodeManager: "cluster-api", workers: 4 });
  const custom = f.kc.makeApiClient(k8s.CustomObjectsApi);
  const [deployment] = (await custom.listNamespacedCustomObject({
    ...CAPI,
    plural: "machinedeployments",
    namespace: NS,
  }) as { items: { metadata: { name: string; uid: string } }[] }).items;
  assert.equal(deployment.metadata.name, "heal-md-0");
  const [set] = (await custom.listNamespacedCustomObject({
    ...CAPI,
    plural: "machinesets",
    namespace: NS,
  }) as { items: Machine[] }).items;
  assert.match(set.metadata.name, /^heal-md-0-[a-z0-9]{5}$/);
  assert.deepEqual(
    set.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
    [["MachineDeployment", "heal-md-0", deployment.metadata.uid, true]],
  );

  const machines = await listMachines(custom);
  const nodes = (await f.core.listNode()).items;
  const workers = nodes.filter((n) => n.metadata!.name !== "heal-control-plane");
  assert.equal(machines.length, 4);
  for (const m of machines) {
    assert.match(m.metadata.name, new RegExp(`^${set.metadata.name}-[a-z0-9]{5}$`));
    assert.deepEqual(
      m.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
      [["MachineSet", set.metadata.name, set.metadata.uid, true]],
    );
    assert.deepEqual(m.metadata.finalizers, ["machine.cluster.x-k8s.io"]);
    assert.equal(m.spec.clusterName, "heal");
    assert.equal(m.spec.bootstrap.configRef.kind, "KubeadmConfig");
    assert.equal(m.spec.infrastructureRef.kind, "AWSMachine");
    assert.equal(m.status.phase, "Running");
    assert.equal(m.status.nodeRef.kind, "Node");
    assert.ok(m.status.conditions.some((c) => c.type === "Ready" && c.status === "True"));
    const node = workers.find((n) => n.metadata!.name === m.status.nodeRef.name)!;
    assert.equal(m.spec.providerID, node.spec!.providerID);
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(node.metadata!.annotations!).filter(([k]) =>
          k.startsWith("cluster.x-k8s.io/")
        ),
      ),
      {
        "cluster.x-k8s.io/cluster-name": "heal",
        "cluster.x-k8s.io/cluster-namespace": NS,
        "cluster.x-k8s.io/machine": m.metadata.name,
        "cluster.x-k8s.io/owner-kind": "MachineSet",
        "cluster.x-k8s.io/owner-name": set.metadata.name,
      },
    );
    assert.ok(
      !Object.keys(node.metadata!.labels!).some((k) => k.startsWith("karpenter.")),
      "no Karpenter labels",
    );
  }
  const claims = await custom.listClusterCustomObject({
    group: "karpenter.sh",
    version: "v1",
    plural: "nodeclaims",
  }) as { items: unknown[] };
  assert.deepEqual(claims.items, [], "no NodeClaims");
});

Deno.test(
  "deleting a Machine removes its Node, then its MachineSet brings a fresh Ready Node",
  async () => {
    await using f = await withCluster({
      nodeManager: "cluster-api",
      machineDeletionMs: 50,
      replaceDelayMs: 100,
    });
    const custom = f.kc.makeApiClient(k8s.CustomObjectsApi);
    const before = await listMachines(custom);
    const victim = before.find((m) => m.status.nodeRef.name === "heal-worker3")!;
    const old = await f.core.readNode({ name: "heal-worker3" });
    const addresses = new Set(
      (await f.core.listNode()).items.map((n) => n.status!.addresses![0].address),
    );

    const deleted = await custom.deleteNamespacedCustomObject({
      ...MACHINES,
      namespace: NS,
      name: victim.metadata.name,
    }) as Machine;
    assert.ok(deleted.metadata.deletionTimestamp, "the Machine is deleting");
    assert.equal(deleted.status.phase, "Deleting");

    await waitFor("the Node to go", async () => !(await nodeNames(f)).includes("heal-worker3"));
    const pods = await f.core.listPodForAllNamespaces({
      fieldSelector: "spec.nodeName=heal-worker3",
    });
    assert.deepEqual(pods.items, []);
    assert.equal(f.cluster.api.read("Lease", "heal-worker3", "kube-node-lease"), undefined);
    await waitFor(
      "the Machine to go",
      async () =>
        !(await listMachines(custom)).some((m) => m.metadata.name === victim.metadata.name),
    );

    const fresh = await waitFor(
      "a fresh Machine",
      async () =>
        (await listMachines(custom)).find((m) =>
          !before.some((b) => b.metadata.name === m.metadata.name)
        ),
    );
    assert.equal(fresh.metadata.ownerReferences![0].name, victim.metadata.ownerReferences![0].name);
    assert.equal(fresh.metadata.ownerReferences![0].controller, true);
    const node = await f.core.readNode({ name: fresh.status.nodeRef.name });
    assert.notEqual(node.metadata!.name, "heal-worker3");
    assert.ok(ready(node), "the new Node is Ready");
    assert.equal(node.spec!.providerID, fresh.spec.providerID);
    assert.notEqual(node.spec!.providerID, victim.spec.providerID);
    const { "kubernetes.io/hostname": _a, ...labels } = node.metadata!.labels!;
    const { "kubernetes.io/hostname": _b, ...oldLabels } = old.metadata!.labels!;
    assert.deepEqual(labels, oldLabels, "the old Node's labels, as a template's");
    assert.equal(node.metadata!.annotations!["cluster.x-k8s.io/machine"], fresh.metadata.name);
    const ip = node.status!.addresses!.find((a) => a.type === "InternalIP")!.address;
    assert.ok(!addresses.has(ip), `${ip} is a fresh address`);
  },
);

Deno.test("a Machine no MachineSet owns goes with its Node and is not replaced", async () => {
  await using f = await withCluster({
    nodeManager: "cluster-api",
    machineDeletionMs: 0,
    replaceDelayMs: 20,
  });
  const custom = f.kc.makeApiClient(k8s.CustomObjectsApi);
  const [victim] = await listMachines(custom);
  await custom.patchNamespacedCustomObject(
    {
      ...MACHINES,
      namespace: NS,
      name: victim.metadata.name,
      body: { metadata: { ownerReferences: null } },
    },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  );
  await custom.deleteNamespacedCustomObject({
    ...MACHINES,
    namespace: NS,
    name: victim.metadata.name,
  });
  await waitFor(
    "the Node to go",
    async () => !(await nodeNames(f)).includes(victim.status.nodeRef.name),
  );
  await waitFor("the Machine to go", async () => (await listMachines(custom)).length === 2);
  // Well past the replacement delay, nothing came back.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await listMachines(custom)).length, 2);
  assert.equal((await nodeNames(f)).length, 3);
});

Deno.test("a ConfigMap in namespace node-heal is created, read and updated; a stale update is 409", async () => {
  await using f = await withCluster();
  const namespace = "node-heal";
  const name = "node-heal-replacements";
  const created = await f.core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name }, data: { "heal-worker2": '{"state":"replacing"}' } },
  });
  assert.ok(created.metadata!.resourceVersion);
  const read = await f.core.readNamespacedConfigMap({ namespace, name });
  assert.deepEqual(read.data, { "heal-worker2": '{"state":"replacing"}' });
  const updated = await f.core.replaceNamespacedConfigMap({
    namespace,
    name,
    body: { ...read, data: { "heal-worker2": '{"state":"done"}' } },
  });
  assert.notEqual(updated.metadata!.resourceVersion, read.metadata!.resourceVersion);
  const stale = await expectStatus(
    409,
    () => f.core.replaceNamespacedConfigMap({ namespace, name, body: { ...read, data: {} } }),
  );
  assert.equal(stale.reason, "Conflict");
  assert.deepEqual(
    (await f.core.readNamespacedConfigMap({ namespace, name })).data,
    { "heal-worker2": '{"state":"done"}' },
  );
  await expectStatus(
    409,
    () => f.core.createNamespacedConfigMap({ namespace, body: { metadata: { name } } }),
  );
  await expectStatus(
    404,
    () => f.core.createNamespacedConfigMap({ namespace: "no-such", body: { metadata: { name } } }),
  );
  await f.core.deleteNamespacedConfigMap({ namespace, name });
  await expectStatus(404, () => f.core.readNamespacedConfigMap({ namespace, name }));
});

Deno.test("deleting a Karpenter Node directly terminates it through its NodeClaim, which is replaced", async () => {
  await using f = await withCluster({ replaceDelayMs: 50, nodeClaimTerminationMs: 50 });
  await f.core.deleteNode({ name: "heal-worker2" });
  // The client reads the answer as a Status; the stored Node tells.
  const terminating = f.cluster.api.read("Node", "heal-worker2")!;
  assert.ok(terminating.metadata!.deletionTimestamp, "held by Karpenter's finalizer");
  assert.deepEqual(terminating.metadata!.finalizers, ["karpenter.sh/termination"]);
  await waitFor("the Node to go", async () => !(await nodeNames(f)).includes("heal-worker2"));
  const custom = f.kc.makeApiClient(k8s.CustomObjectsApi);
  await waitFor("a replacement Node and NodeClaim", async () => {
    const claims = await custom.listClusterCustomObject({
      group: "karpenter.sh",
      version: "v1",
      plural: "nodeclaims",
    }) as { items: { status: { nodeName: string } }[] };
    const names = await nodeNames(f);
    return names.includes("heal-worker-r1") &&
      claims.items.some((c) => c.status.nodeName === "heal-worker-r1") &&
      !claims.items.some((c) => c.status.nodeName === "heal-worker2");
  });
  assert.ok(ready(await f.core.readNode({ name: "heal-worker-r1" })));
});

Deno.test("deleting a Cluster API Node directly deletes its Machine, which is replaced", async () => {
  await using f = await withCluster({
    nodeManager: "cluster-api",
    machineDeletionMs: 50,
    replaceDelayMs: 50,
  });
  const custom = f.kc.makeApiClient(k8s.CustomObjectsApi);
  const victim = (await listMachines(custom)).find((m) =>
    m.status.nodeRef.name === "heal-worker2"
  )!;
  const old = await f.core.readNode({ name: "heal-worker2" });
  await f.core.deleteNode({ name: "heal-worker2" });
  assert.ok(!(await nodeNames(f)).includes("heal-worker2"), "the Node goes at once");
  await waitFor("the replacement", async () => {
    const machines = await listMachines(custom);
    return !machines.some((m) => m.metadata.name === victim.metadata.name) &&
      machines.some((m) => m.status.nodeRef.name === "heal-worker-r1") &&
      (await nodeNames(f)).includes("heal-worker-r1");
  });
  const fresh = await f.core.readNode({ name: "heal-worker-r1" });
  assert.ok(ready(fresh));
  assert.equal(
    fresh.metadata!.labels!["node.kubernetes.io/instance-type"],
    old.metadata!.labels!["node.kubernetes.io/instance-type"],
    "labelled as the deleted Node",
  );
});

Deno.test("a Node no NodeClaim nor Machine manages is just deleted", async () => {
  await using f = await withCluster({ nodeManager: "cluster-api", replaceDelayMs: 10 });
  await f.core.deleteNode({ name: "heal-control-plane" });
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual((await nodeNames(f)).sort(), ["heal-worker", "heal-worker2", "heal-worker3"]);
});

const version = await kubectlVersion();
if (!version) {
  console.warn(`SKIPPED kubectl Machine tests: "${KUBECTL}" was not found on PATH`);
}

Deno.test(
  `kubectl ${version ?? ""} gets Machines and ConfigMaps with their columns and deletes a Machine`,
  { ignore: !version },
  async () => {
    await using f = await withCluster({
      nodeManager: "cluster-api",
      machineDeletionMs: 20,
      replaceDelayMs: 50,
    });
    await using kubectl = await kubectlFor(f.cluster.kubeconfig());
    const text = await kubectl.run("get", "machines");
    const [header, ...rows] = text.trimEnd().split("\n");
    assert.match(header, /^NAME\s+CLUSTER\s+NODENAME\s+PROVIDERID\s+PHASE\s+AGE\s+VERSION$/);
    assert.equal(rows.length, 3);
    assert.ok(rows.every((r) => / heal .* Running /.test(r)), rows.join("\n"));
    assert.match(await kubectl.run("get", "ms"), /^NAME\s+CLUSTER\s+DESIRED\s+REPLICAS\s+READY/);
    assert.match(await kubectl.run("get", "md"), /heal-md-0\s+heal\s+3\s+3/);
    const victim = rows.find((r) => / heal-worker2 /.test(r))!.split(/\s+/)[0];
    assert.match(
      await kubectl.run("delete", "machine", victim),
      new RegExp(`machine.cluster.x-k8s.io "${victim}" deleted`),
    );
    // kubectl waits for the finalizer: by then the Node is gone.
    const nodes = await kubectl.run("get", "nodes", "-o", "name");
    assert.ok(!nodes.includes("node/heal-worker2\n"), nodes);
    await waitFor("the replacement Node", async () => {
      const out = await kubectl.run("get", "machines", "-o", "name");
      return out.trimEnd().split("\n").length === 3 &&
        (await kubectl.run("get", "nodes", "-o", "name")).includes("heal-worker-r1");
    });

    await kubectl.run(
      "-n",
      "node-heal",
      "create",
      "configmap",
      "node-heal-replacements",
      "--from-literal=a=1",
      "--from-literal=b=2",
    );
    const cm = await kubectl.run("-n", "node-heal", "get", "cm");
    assert.match(cm, /^NAME\s+DATA\s+AGE\nnode-heal-replacements\s+2\s+/);
  },
);
