// The cluster-api provider against the embedded cluster playing Cluster API, over HTTP with the
// real LibraryClient: it deletes the Node's Machine once, follows it on a second call, and refuses
// what no MachineSet would replace.
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { connect } from "../../../lib/act/kube/client.ts";
import { create, MACHINES } from "../../../lib/act/replace/cluster_api.ts";
import { ReplaceRefused, type ReplaceTarget } from "../../../lib/act/replace/provider.ts";
import { DEFAULT_REPLACE_TIMEOUT_MS } from "../../../lib/decide/replace_policy.ts";
import { type ClusterFixture, waitFor, withCluster } from "../../support/helpers.ts";

const OPTIONS = { provider: "cluster-api" as const, timeoutMs: DEFAULT_REPLACE_TIMEOUT_MS };

async function providerFor(f: ClusterFixture) {
  const { client } = connect({ kubeconfigYaml: f.cluster.kubeconfig() });
  return { client, provider: await create(OPTIONS, { client }, "rules[0].replace") };
}

/** The target of a replacement of Node `name`, as the replacer makes it from the Node. */
async function targetOf(f: ClusterFixture, name: string): Promise<ReplaceTarget> {
  const node = await f.core.readNode({ name });
  return {
    node: name,
    uid: node.metadata!.uid,
    providerID: node.spec!.providerID,
    labels: node.metadata!.labels ?? {},
    annotations: node.metadata!.annotations ?? {},
  };
}

function machineDeletes(f: ClusterFixture) {
  return f.cluster.api.traffic.requests.filter((r) =>
    r.method === "DELETE" && r.resource === "machines"
  );
}

Deno.test("start() deletes the Node's Machine once; a second start() follows the same one", async () => {
  await using f = await withCluster({
    nodeManager: "cluster-api",
    machineDeletionMs: 200,
    replaceDelayMs: 50,
  });
  const { client, provider } = await providerFor(f);
  try {
    const target = await targetOf(f, "heal-worker2");
    const machineName = target.annotations["cluster.x-k8s.io/machine"];
    const machine = (await client.getObject(MACHINES, machineName, "default"))!;
    const set = machine.metadata.ownerReferences![0].name;
    f.cluster.api.traffic.reset();

    const first = await provider.start(target);
    assert.equal(first.id, machine.metadata.uid);
    assert.equal(first.message, `Deleted Machine default/${machineName} (MachineSet ${set})`);
    const again = await provider.start(target);
    assert.equal(again.id, first.id, "the same operation while the Machine is deleting");
    assert.equal(machineDeletes(f).length, 1);
    assert.deepEqual(
      machineDeletes(f).map((r) => `${r.namespace}/${r.name} ${r.code}`),
      [`default/${machineName} 200`],
    );

    await waitFor(
      "the Machine to go",
      async () => await client.getObject(MACHINES, machineName, "default") === undefined,
    );
    const afterwards = await provider.start(target);
    assert.equal(afterwards.id, `gone:default/${machineName}`);
    assert.equal(machineDeletes(f).length, 1, "no second DELETE");
  } finally {
    await client.close?.();
  }
});

Deno.test("start() refuses a Machine no MachineSet owns, and a Node without the annotations", async () => {
  await using f = await withCluster({ nodeManager: "cluster-api" });
  const { client, provider } = await providerFor(f);
  try {
    const custom = f.kc.makeApiClient(k8s.CustomObjectsApi);
    const target = await targetOf(f, "heal-worker");
    const name = target.annotations["cluster.x-k8s.io/machine"];
    // The same Machine, orphaned; then a control plane's.
    await custom.patchNamespacedCustomObject(
      { ...MACHINES, namespace: "default", name, body: { metadata: { ownerReferences: null } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    f.cluster.api.traffic.reset();
    await assert.rejects(
      () => provider.start(target),
      (err) =>
        err instanceof ReplaceRefused && /no MachineSet owns it/.test(err.message) &&
        err.message.includes(`default/${name}`),
    );
    await custom.patchNamespacedCustomObject(
      {
        ...MACHINES,
        namespace: "default",
        name,
        body: {
          metadata: {
            ownerReferences: [{
              apiVersion: "controlplane.cluster.x-k8s.io/v1beta1",
              kind: "KubeadmControlPlane",
              name: "heal-control-plane",
              uid: "9d1c7a4e-0000-4000-8000-000000000001",
              controller: true,
            }],
          },
        },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await assert.rejects(
      () => provider.start(target),
      (err) => err instanceof ReplaceRefused && /owned by KubeadmControlPlane/.test(err.message),
    );
    assert.equal(machineDeletes(f).length, 0);
    assert.ok(await client.getObject(MACHINES, name, "default"), "the Machine is still there");

    const plain = await targetOf(f, "heal-control-plane");
    await assert.rejects(
      () => provider.start(plain),
      (err) => err instanceof ReplaceRefused && err.message.includes('"cluster.x-k8s.io/machine"'),
    );
    const missing = {
      ...target,
      annotations: { ...target.annotations, "cluster.x-k8s.io/machine": "heal-md-0-nope-nope" },
    };
    await assert.rejects(
      () => provider.start(missing),
      (err) => err instanceof ReplaceRefused && /does not exist/.test(err.message),
    );
  } finally {
    await client.close?.();
  }
});
