// Hostile objects written with kubectl against the embedded cluster, then the whole ladder run by
// node-heal over HTTP (issue 26): a stale NodeClaim naming the sick node with another machine's
// providerID, a NodeClaim of the sick node carrying another machine's providerID, a Node whose
// Machine annotation points at another node's Machine, and a forged `requested` ledger record for
// a node that never existed. Each is read back afterwards: what must stay is still there, not
// Terminating; no long-Ready node is named a successor.
import assert from "node:assert/strict";
import { kubectlFor, waitFor, withCluster, withService } from "../../support/helpers.ts";
import { ended, ladderPolicy, ledger, postReplace } from "../../support/ladder.ts";

interface Claim {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  status?: { nodeName?: string; providerID?: string };
}

type Kubectl = Awaited<ReturnType<typeof kubectlFor>>;

async function claims(kubectl: Kubectl): Promise<Claim[]> {
  return JSON.parse(await kubectl.run("get", "nodeclaims", "-o", "json")).items;
}

async function providerIDOf(kubectl: Kubectl, node: string): Promise<string> {
  return await kubectl.run("get", "node", node, "-o", "jsonpath={.spec.providerID}");
}

/** `kubectl create -f` of `object`, then its status set through the status subresource. */
async function createWithStatus(kubectl: Kubectl, object: Record<string, unknown>) {
  const { status, ...rest } = object;
  const path = `${kubectl.dir}/object.json`;
  await Deno.writeTextFile(path, JSON.stringify(rest));
  await kubectl.run("create", "-f", path);
  const meta = rest.metadata as { name: string };
  await kubectl.run(
    "patch",
    "nodeclaim",
    meta.name,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status }),
  );
}

async function metrics(url: string): Promise<string> {
  return await (await fetch(`${url}/metrics`)).text();
}

const CLAIM_DELETES = (f: { cluster: { api: { traffic: { requests: unknown[] } } } }) =>
  (f.cluster.api.traffic.requests as { method: string; resource?: string; name?: string }[])
    .filter((r) => r.method === "DELETE" && r.resource === "nodeclaims").map((r) => r.name);

Deno.test("karpenter: a stale NodeClaim naming heal-worker with another machine's providerID is never deleted, and heal-worker's own claim is", async () => {
  await using f = await withService({
    policy: ladderPolicy("provider: karpenter"),
    clusterOptions: { replaceDelayMs: 300, nodeClaimTerminationMs: 100 },
  });
  await using kubectl = await kubectlFor(f.cluster.kubeconfig());
  const before = await claims(kubectl);
  const own = before.find((c) => c.status?.nodeName === "heal-worker")!;
  const other = await providerIDOf(kubectl, "heal-worker2");
  // Named to sort first: the claim a first match by status.nodeName would take.
  await createWithStatus(kubectl, {
    apiVersion: "karpenter.sh/v1",
    kind: "NodeClaim",
    metadata: { name: "aaa-stale", labels: { "karpenter.sh/nodepool": "general-purpose" } },
    spec: { nodeClassRef: { group: "karpenter.k8s.aws", kind: "EC2NodeClass", name: "default" } },
    status: { nodeName: "heal-worker", providerID: other },
  });

  await postReplace(f);
  const done = await ended(f);
  assert.equal(done.phase, "replaced", String(done.message));
  assert.deepEqual(CLAIM_DELETES(f), [own.metadata.name], "only heal-worker's own claim deleted");
  const after = await claims(kubectl);
  const stale = after.find((c) => c.metadata.name === "aaa-stale");
  assert.ok(stale, "the stale claim is still there");
  assert.equal(stale.metadata.deletionTimestamp, undefined, "and not Terminating");
  assert.equal(after.some((c) => c.metadata.name === own.metadata.name), false);
  assert.match(
    await metrics(f.service.url),
    /nodeheal_untrusted_state_total\{kind="nodeclaim",reason="identity"\} 1/,
  );
});

Deno.test("karpenter: heal-worker's NodeClaim carrying another machine's providerID is refused, named, and left alone", async () => {
  await using f = await withService({
    policy: ladderPolicy("provider: karpenter"),
    clusterOptions: { replaceDelayMs: 300, nodeClaimTerminationMs: 100 },
  });
  await using kubectl = await kubectlFor(f.cluster.kubeconfig());
  const own = (await claims(kubectl)).find((c) => c.status?.nodeName === "heal-worker")!;
  const mine = await providerIDOf(kubectl, "heal-worker");
  const other = await providerIDOf(kubectl, "heal-worker2");
  await kubectl.run(
    "patch",
    "nodeclaim",
    own.metadata.name,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status: { providerID: other } }),
  );

  await postReplace(f);
  const done = await ended(f);
  assert.equal(done.phase, "failed");
  assert.equal(
    done.message,
    `karpenter refused: NodeClaim "${own.metadata.name}" names heal-worker but carries ` +
      `providerID ${other}, not the node's ${mine}`,
  );
  assert.equal(done.successor, undefined);
  assert.deepEqual(CLAIM_DELETES(f), [], "no NodeClaim deleted");
  const left = (await claims(kubectl)).find((c) => c.metadata.name === own.metadata.name);
  assert.equal(left?.metadata.deletionTimestamp, undefined, "the claim is there, not Terminating");
  assert.ok(await kubectl.run("get", "node", "heal-worker", "-o", "name"), "heal-worker stays");
  assert.match(
    await metrics(f.service.url),
    /nodeheal_untrusted_state_total\{kind="nodeclaim",reason="identity"\} 1/,
  );
});

Deno.test("cluster-api: a Node whose Machine annotation names another node's Machine is refused; that Machine is never deleted", async () => {
  await using f = await withService({
    policy: ladderPolicy("provider: cluster-api"),
    clusterOptions: { nodeManager: "cluster-api", machineDeletionMs: 100, replaceDelayMs: 300 },
  });
  await using kubectl = await kubectlFor(f.cluster.kubeconfig());
  const annotation = "cluster.x-k8s.io/machine";
  const theirs = await kubectl.run(
    "get",
    "node",
    "heal-worker2",
    "-o",
    `jsonpath={.metadata.annotations.cluster\\.x-k8s\\.io/machine}`,
  );
  const mine = await providerIDOf(kubectl, "heal-worker");
  const other = await providerIDOf(kubectl, "heal-worker2");
  // What heal-worker's own kubelet may write: annotations of its Node.
  await kubectl.run("annotate", "node", "heal-worker", `${annotation}=${theirs}`, "--overwrite");

  await postReplace(f);
  const done = await ended(f);
  assert.equal(done.phase, "failed");
  assert.equal(
    done.message,
    `cluster-api refused: Machine "default/${theirs}" carries providerID ${other}, not the ` +
      `node's ${mine}`,
  );
  const machine = JSON.parse(
    await kubectl.run("get", "machines.cluster.x-k8s.io", theirs, "-n", "default", "-o", "json"),
  );
  assert.equal(machine.metadata.deletionTimestamp, undefined, "heal-worker2's Machine stays");
  assert.equal(
    f.cluster.api.traffic.requests.filter((r) => r.method === "DELETE").length,
    0,
    "nothing deleted",
  );
  assert.match(
    await metrics(f.service.url),
    /nodeheal_untrusted_state_total\{kind="machine",reason="identity"\} 1/,
  );
});

Deno.test("a forged `requested` ledger record for a node that never existed never ends replaced and names no successor", async () => {
  await using cluster = await withCluster({ replaceDelayMs: 300, nodeClaimTerminationMs: 100 });
  await using kubectl = await kubectlFor(cluster.cluster.kubeconfig());
  // Older than every Node of the cluster (made an hour ago): any Ready one is "made after it".
  const started = new Date(Date.now() - 2 * 3_600_000);
  const forged = [{
    id: "ghost-worker@forged",
    node: "ghost-worker",
    uid: "00000000-0000-4000-8000-000000000001",
    providerID: "aws:///us-east-1a/i-0123456789abcdef0",
    provider: "karpenter",
    rule: "heal",
    startedAt: started.toISOString(),
    deadline: new Date(started.getTime() + 60_000).toISOString(),
    by: "node-heal-elsewhere",
    phase: "requested",
    operation: "forged",
  }];
  const path = `${kubectl.dir}/replacements.json`;
  await Deno.writeTextFile(path, JSON.stringify(forged));
  await kubectl.run("get", "namespace", "node-heal");
  await kubectl.run(
    "create",
    "configmap",
    "node-heal-replacements",
    "-n",
    "node-heal",
    `--from-file=replacements.json=${path}`,
  );
  await using f = await withService({
    cluster: cluster.cluster,
    policy: ladderPolicy("provider: karpenter"),
  });

  const looked = await waitFor("the record looked at", async () => {
    const [r] = await ledger(f.core);
    return r?.phase !== "requested" && r;
  }, 10_000);
  // Unsettled records are looked at every 5 polls (0.5 s here): a few of them.
  await new Promise((r) => setTimeout(r, 2000));
  const [r] = await ledger(f.core);
  assert.notEqual(r.phase, "replaced", `ended ${r.phase}, successor ${r.successor}`);
  assert.equal(r.successor, undefined, "no successor named");
  assert.equal(looked.phase, "failed");
  assert.equal(CLAIM_DELETES(f).length, 0, "no NodeClaim deleted");
});
