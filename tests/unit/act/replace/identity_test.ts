// Which NodeClaim or Machine is a Node's: by providerID and, where the object names its Node, by
// that name and uid; never by name alone. The pure rules, then the karpenter, cluster-api and
// delete-node providers against an in-memory client: what does not match is never deleted, is
// refused by name, and is reported untrusted.
import assert from "node:assert/strict";
import { claimsOf, isDistrusted, machineOf } from "../../../../lib/act/replace/identity.ts";
import { create as karpenter, NODE_CLAIMS } from "../../../../lib/act/replace/karpenter.ts";
import { create as clusterApi, MACHINES } from "../../../../lib/act/replace/cluster_api.ts";
import { create as deleteNode } from "../../../../lib/act/replace/delete_node.ts";
import {
  ReplaceRefused,
  type ReplaceTarget,
  type UntrustedSink,
} from "../../../../lib/act/replace/provider.ts";
import type { KubeObject } from "../../../../lib/act/kube/types.ts";
import { FakeClient, workerNode } from "../../../fakes/fake_client.ts";

const OPTIONS = { provider: "karpenter" as const, timeoutMs: 60_000 };
const MINE = "aws:///us-east-1a/i-0aaaaaaaaaaaaaaaa";
const THEIRS = "aws:///us-east-1b/i-0bbbbbbbbbbbbbbbb";
const ID = { node: "heal-worker", uid: "uid-heal-worker", providerID: MINE };

function claim(name: string, status: Record<string, unknown>): KubeObject {
  return {
    metadata: { name, uid: `uid-${name}`, resourceVersion: "7" },
    status,
  } as KubeObject;
}

function machine(
  name: string,
  options: { providerID?: string; nodeRef?: { name?: string; uid?: string } } = {},
): KubeObject {
  return {
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      resourceVersion: "7",
      ownerReferences: [{
        apiVersion: "cluster.x-k8s.io/v1beta1",
        kind: "MachineSet",
        name: "heal-md-0-abcde",
        uid: "uid-set",
        controller: true,
      }],
    },
    spec: options.providerID ? { providerID: options.providerID } : {},
    status: options.nodeRef ? { nodeRef: options.nodeRef } : {},
  } as KubeObject;
}

/** An UntrustedSink that keeps what it is told. */
function recorder() {
  const told: Parameters<UntrustedSink["report"]>[0][] = [];
  return { told, report: (f: (typeof told)[number]) => void told.push(f) };
}

Deno.test("claimsOf() matches a NodeClaim by the Node's providerID, and distrusts one naming the Node with another", () => {
  const { matches, distrusted } = claimsOf(ID, [
    claim("aaa-stale", { nodeName: "heal-worker", providerID: THEIRS }),
    claim("general-1", { nodeName: "heal-worker", providerID: MINE }),
    claim("general-2", { nodeName: "heal-worker2", providerID: THEIRS }),
    claim("launching", {}),
  ]);
  assert.deepEqual(matches.map((c) => c.metadata.name), ["general-1"]);
  assert.deepEqual(distrusted, [{
    object: "aaa-stale",
    reason: "identity",
    message:
      `NodeClaim "aaa-stale" names heal-worker but carries providerID ${THEIRS}, not the node's ${MINE}`,
  }]);
});

Deno.test("claimsOf() takes a claim with the providerID that names no Node yet, not one naming another Node", () => {
  const { matches, distrusted } = claimsOf(ID, [
    claim("unregistered", { providerID: MINE }),
    claim("elsewhere", { nodeName: "heal-worker9", providerID: MINE }),
    claim("bare", { nodeName: "heal-worker" }),
  ]);
  assert.deepEqual(matches.map((c) => c.metadata.name), ["unregistered"]);
  assert.deepEqual(distrusted.map((d) => d.message), [
    `NodeClaim "elsewhere" carries heal-worker's providerID ${MINE} but names heal-worker9`,
    `NodeClaim "bare" names heal-worker but carries no providerID, not the node's ${MINE}`,
  ]);
});

Deno.test("claimsOf() skips a NodeClaim that fails the schema, naming the field, never the value", () => {
  const long = "x".repeat(10_000);
  const { matches, distrusted } = claimsOf(ID, [
    claim("numeric", { nodeName: "heal-worker", providerID: 42 }),
    claim("huge", { nodeName: "heal-worker", providerID: long }),
    { metadata: { name: "no-uid", resourceVersion: "1" }, status: { providerID: MINE } },
  ]);
  assert.equal(matches.length, 0, "none of them is ever deleted");
  assert.deepEqual(distrusted.map((d) => [d.object, d.reason]), [
    ["numeric", "schema"],
    ["huge", "schema"],
    ["no-uid", "schema"],
  ]);
  assert.match(
    distrusted[0].message,
    /^NodeClaim "numeric" cannot be read \(field "status\.providerID"/,
  );
  assert.ok(distrusted.every((d) => !d.message.includes(long)));
});

Deno.test("machineOf() wants the Node's providerID, and its nodeRef's name and uid where set", () => {
  assert.equal(isDistrusted(machineOf(ID, machine("m", { providerID: MINE }))), false);
  assert.equal(
    isDistrusted(
      machineOf(
        ID,
        machine("m", { providerID: MINE, nodeRef: { name: "heal-worker", uid: ID.uid } }),
      ),
    ),
    false,
  );
  const cases: [KubeObject, string][] = [
    [
      machine("m", { providerID: THEIRS }),
      `Machine "default/m" carries providerID ${THEIRS}, not the node's ${MINE}`,
    ],
    [machine("m"), `Machine "default/m" carries no providerID, not the node's ${MINE}`],
    [
      machine("m", { providerID: MINE, nodeRef: { name: "heal-worker2" } }),
      `Machine "default/m" is Node heal-worker2's (status.nodeRef), not heal-worker's`,
    ],
    [
      machine("m", { providerID: MINE, nodeRef: { name: "heal-worker", uid: "uid-older" } }),
      `Machine "default/m" names a Node heal-worker of uid uid-older (status.nodeRef), not the node's uid-heal-worker`,
    ],
  ];
  for (const [obj, message] of cases) {
    const found = machineOf(ID, obj);
    assert.ok(isDistrusted(found));
    assert.deepEqual(found, { object: "default/m", reason: "identity", message });
  }
  const bad = machine("m", { providerID: MINE });
  (bad.metadata as { ownerReferences: unknown[] }).ownerReferences = Array(40).fill({});
  const found = machineOf(ID, bad);
  assert.ok(isDistrusted(found) && found.reason === "schema");
});

function karpenterSetup(claims: KubeObject[]) {
  const node = workerNode("heal-worker");
  node.metadata.uid = ID.uid;
  node.spec = { providerID: MINE };
  const client = new FakeClient({ nodes: [node] });
  for (const c of claims) client.putObject(NODE_CLAIMS, c);
  const target: ReplaceTarget = {
    node: "heal-worker",
    uid: ID.uid,
    providerID: MINE,
    labels: {},
    annotations: {},
  };
  const deletes = () =>
    client.calls.filter((c) => c.method === "deleteObject").map((c) => c.arg as string);
  return { client, target, deletes };
}

Deno.test("karpenter deletes the Node's own claim, never a stale one naming the Node with another providerID, and reports the stale one", async () => {
  const f = karpenterSetup([
    claim("aaa-stale", { nodeName: "heal-worker", providerID: THEIRS }),
    claim("general-1", { nodeName: "heal-worker", providerID: MINE }),
  ]);
  const provider = await karpenter(OPTIONS, { client: f.client }, "rules[0].replace");
  const untrusted = recorder();
  const op = await provider.start(f.target, { untrusted });
  assert.deepEqual(f.deletes(), ["nodeclaims/general-1"]);
  assert.ok(
    f.client.objects.has(FakeClient.key(NODE_CLAIMS, "aaa-stale")),
    "the stale claim stays",
  );
  assert.equal(op.id, "uid-general-1");
  assert.deepEqual(untrusted.told.map((t) => [t.kind, t.object, t.reason, t.node]), [
    ["nodeclaim", "aaa-stale", "identity", "heal-worker"],
  ]);
});

Deno.test("karpenter refuses when only a mismatching claim names the Node, naming the mismatch", async () => {
  const f = karpenterSetup([claim("general-1", { nodeName: "heal-worker", providerID: THEIRS })]);
  const provider = await karpenter(OPTIONS, { client: f.client }, "rules[0].replace");
  const untrusted = recorder();
  await assert.rejects(
    provider.start(f.target, { untrusted }),
    (err: Error) =>
      err instanceof ReplaceRefused &&
      err.message ===
        `NodeClaim "general-1" names heal-worker but carries providerID ${THEIRS}, not the node's ${MINE}`,
  );
  assert.deepEqual(f.deletes(), []);
  assert.equal(untrusted.told.length, 1);
});

Deno.test("karpenter refuses a Node without a providerID, and two claims carrying its providerID", async () => {
  const f = karpenterSetup([
    claim("general-1", { nodeName: "heal-worker", providerID: MINE }),
    claim("general-2", { providerID: MINE }),
  ]);
  const provider = await karpenter(OPTIONS, { client: f.client }, "rules[0].replace");
  await assert.rejects(
    provider.start({ ...f.target, providerID: undefined }),
    (err: Error) =>
      err instanceof ReplaceRefused &&
      err.message ===
        'Cannot replace Node "heal-worker" through Karpenter: it has no spec.providerID recorded, so no NodeClaim can be matched to it',
  );
  await assert.rejects(
    provider.start(f.target),
    (err: Error) =>
      err instanceof ReplaceRefused &&
      /NodeClaims "general-1", "general-2" all carry heal-worker's providerID/.test(err.message),
  );
  assert.deepEqual(f.deletes(), []);
});

Deno.test("karpenter deletes with the claim's uid and resourceVersion as read: a claim changed since is not deleted", async () => {
  const f = karpenterSetup([claim("general-1", { nodeName: "heal-worker", providerID: MINE })]);
  // Someone rewrites the claim between the provider's read and its delete.
  const list = f.client.listObjects.bind(f.client);
  f.client.listObjects = async (kind, options) => {
    const read = await list(kind, options);
    const stored = f.client.objects.get(FakeClient.key(NODE_CLAIMS, "general-1"))!;
    f.client.putObject(NODE_CLAIMS, {
      ...stored,
      status: { ...stored.status, providerID: THEIRS },
    });
    return read;
  };
  const provider = await karpenter(OPTIONS, { client: f.client }, "rules[0].replace");
  await assert.rejects(provider.start(f.target), /Precondition failed: ResourceVersion/);
  assert.ok(f.client.objects.has(FakeClient.key(NODE_CLAIMS, "general-1")), "not deleted");
});

Deno.test("karpenter: no claim and the Node gone is the same replacement (asked before a restart), not a refusal", async () => {
  const f = karpenterSetup([]);
  f.client.nodes.delete("heal-worker");
  const provider = await karpenter(OPTIONS, { client: f.client }, "rules[0].replace");
  assert.equal((await provider.start(f.target)).id, "gone:heal-worker");
});

function capiSetup(stored: KubeObject) {
  const client = new FakeClient();
  client.putObject(MACHINES, stored);
  const target: ReplaceTarget = {
    node: "heal-worker",
    uid: ID.uid,
    providerID: MINE,
    labels: {},
    annotations: {
      "cluster.x-k8s.io/machine": "m",
      "cluster.x-k8s.io/cluster-namespace": "default",
    },
  };
  return { client, target };
}

Deno.test("cluster-api deletes the annotated Machine only when it is the Node's, with its uid and resourceVersion", async () => {
  const ok = capiSetup(
    machine("m", { providerID: MINE, nodeRef: { name: "heal-worker", uid: ID.uid } }),
  );
  const provider = await clusterApi(OPTIONS, { client: ok.client }, "rules[0].replace");
  const op = await provider.start(ok.target);
  assert.equal(op.id, "uid-m");
  assert.equal(ok.client.objects.has(FakeClient.key(MACHINES, "m", "default")), false);

  const theirs = capiSetup(machine("m", { providerID: THEIRS, nodeRef: { name: "heal-worker2" } }));
  const other = await clusterApi(OPTIONS, { client: theirs.client }, "rules[0].replace");
  const untrusted = recorder();
  await assert.rejects(
    other.start(theirs.target, { untrusted }),
    (err: Error) =>
      err instanceof ReplaceRefused &&
      err.message === `Machine "default/m" carries providerID ${THEIRS}, not the node's ${MINE}`,
  );
  assert.ok(theirs.client.objects.has(FakeClient.key(MACHINES, "m", "default")), "never deleted");
  assert.deepEqual(untrusted.told.map((t) => [t.kind, t.object, t.reason, t.node]), [
    ["machine", "default/m", "identity", "heal-worker"],
  ]);
  await assert.rejects(
    other.start({ ...theirs.target, providerID: undefined }),
    /it has no spec\.providerID recorded, so no Machine can be matched to it/,
  );
});

Deno.test("delete-node refuses a target without a uid: another Node of that name could go", async () => {
  const client = new FakeClient({ nodes: [workerNode("heal-worker")] });
  const provider = await deleteNode(OPTIONS, { client }, "rules[0].replace");
  await assert.rejects(
    provider.start({ node: "heal-worker", labels: {}, annotations: {} }),
    (err: Error) => err instanceof ReplaceRefused && /no uid is recorded/.test(err.message),
  );
  assert.ok(client.nodes.has("heal-worker"));
});
