// The node writer against an in-memory client: every write carries the resourceVersion it was
// decided on, a conflict is decided again on a fresh read, and failures become outcomes.
import assert from "node:assert/strict";
import { NodeWriter } from "../../../lib/act/node_writer.ts";
import { act, type Decision, skip } from "../../../lib/decide/decision.ts";
import type { Node } from "../../../lib/base/node.ts";
import { Metrics } from "../../../lib/report/metrics.ts";
import { NodeIndex } from "../../../lib/resolve/node_index.ts";
import { FakeClient, workerNode } from "../../fakes/fake_client.ts";

const NOW = new Date("2026-11-28T12:00:00Z");

function setup(client = new FakeClient({ nodes: [workerNode("w1")] })) {
  const index = new NodeIndex();
  for (const n of client.nodes.values()) index.upsert(structuredClone(n));
  const metrics = new Metrics();
  const writer = new NodeWriter({ client, index, metrics, now: () => NOW });
  return { client, index, metrics, writer };
}

/** Cordons with a note of the resourceVersion it decided on. */
function cordon(node: Node): Decision {
  return act("cordon", node, {
    message: `cordon ${node.metadata.name}`,
    annotations: { "test/decided-on": node.metadata.resourceVersion ?? "" },
    spec: { unschedulable: true },
  });
}

async function counter(metrics: Metrics, labels: string): Promise<number> {
  const text = await metrics.registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`nodeheal_actions_total{${labels}}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

Deno.test("the node writer writes a decision with the resourceVersion it was decided on", async () => {
  const { client, index, metrics, writer } = setup();
  const rv = client.nodes.get("w1")!.metadata.resourceVersion;
  const applied = await writer.apply("w1", cordon);
  assert.equal(applied.kind, "written");
  assert.equal(client.patches.length, 1);
  assert.equal(client.patches[0].patch.metadata.resourceVersion, rv);
  const stored = client.nodes.get("w1")!;
  assert.equal(stored.spec?.unschedulable, true);
  assert.equal(stored.metadata.annotations?.["test/decided-on"], rv);
  // The index holds the write at once, before any watch event.
  assert.equal(index.get("w1")?.metadata.resourceVersion, stored.metadata.resourceVersion);
  assert.equal(await counter(metrics, 'action="cordon",result="success"'), 1);
});

Deno.test("a conflict (409) is decided again on a fresh read, and written with the new resourceVersion", async () => {
  const { client, metrics, writer } = setup();
  // Someone else changes the Node; the index has not seen it.
  const theirs = client.putNode({
    ...client.nodes.get("w1")!,
    metadata: { ...client.nodes.get("w1")!.metadata, annotations: { "someone/else": "x" } },
  });
  const seen: (string | undefined)[] = [];
  const applied = await writer.apply("w1", (node) => {
    seen.push(node.metadata.resourceVersion);
    return cordon(node);
  });
  assert.equal(applied.kind, "written");
  assert.equal(seen.length, 2, "decided twice: on the cached Node, then on the fresh one");
  assert.equal(seen[1], theirs.metadata.resourceVersion);
  const stored = client.nodes.get("w1")!;
  assert.equal(stored.metadata.annotations?.["someone/else"], "x", "their change is kept");
  assert.equal(stored.metadata.annotations?.["test/decided-on"], theirs.metadata.resourceVersion);
  assert.equal(await counter(metrics, 'action="cordon",result="conflict"'), 1);
  assert.equal(await counter(metrics, 'action="cordon",result="success"'), 1);
});

Deno.test("a Node that keeps changing gives up after the conflict retries, writing nothing", async () => {
  const { client, writer } = setup();
  const original = client.patchNode.bind(client);
  // Another writer wins every race: each patch meets a newer Node.
  client.patchNode = (name, patch) => {
    client.putNode(client.nodes.get(name)!);
    return original(name, patch);
  };
  const applied = await writer.apply("w1", cordon);
  assert.equal(applied.kind, "conflicts");
  assert.equal(client.patches.length, 6);
  assert.equal(client.nodes.get("w1")!.spec?.unschedulable, undefined);
});

Deno.test("a passing failure is retried at once; a lasting one fails for Alertmanager to retry", async () => {
  {
    const { client, writer } = setup();
    client.fail("patchNode", 503);
    assert.equal((await writer.apply("w1", cordon)).kind, "written");
    assert.equal(client.patches.length, 2);
  }
  {
    const { client, metrics, writer } = setup();
    client.fail("patchNode", 500, 503, 429);
    const applied = await writer.apply("w1", cordon);
    assert.equal(applied.kind, "failed");
    assert.equal(applied.kind === "failed" && applied.permanent, false);
    assert.equal(client.patches.length, 3);
    assert.equal(client.nodes.get("w1")!.spec?.unschedulable, undefined);
    assert.equal(await counter(metrics, 'action="cordon",result="failure"'), 1);
  }
});

Deno.test("a write the API server refuses for good is permanent and not retried", async () => {
  const { client, writer } = setup();
  client.fail("patchNode", 403);
  const applied = await writer.apply("w1", cordon);
  assert.equal(applied.kind, "failed");
  assert.equal(applied.kind === "failed" && applied.permanent, true);
  assert.equal(client.patches.length, 1);
});

Deno.test("a Node gone from the cluster (404 on write, or absent) is gone", async () => {
  const { client, index, writer } = setup();
  client.nodes.delete("w1");
  assert.equal((await writer.apply("w1", cordon)).kind, "gone");
  assert.equal(index.get("w1"), undefined);
  assert.equal((await writer.apply("w1", cordon)).kind, "gone");
  assert.equal(client.patches.length, 1, "a Node the index does not know is not written");
});

Deno.test("a skip to confirm is decided again on a fresh read, once per set of fresh reads", async () => {
  const { client, writer } = setup();
  // The cache says nothing to do; the cluster (another replica's write) says otherwise.
  client.putNode({
    ...client.nodes.get("w1")!,
    metadata: { ...client.nodes.get("w1")!.metadata, annotations: { "test/act": "yes" } },
  });
  const choose = (node: Node) =>
    node.metadata.annotations?.["test/act"]
      ? cordon(node)
      : skip("notHeld", "w1", { message: "nothing", withEvent: false });
  assert.equal((await writer.apply("w1", choose)).kind, "skip", "unconfirmed: the cache decides");
  const freshlyRead = new Set<string>();
  assert.equal(
    (await writer.apply("w1", choose, { confirmSkip: true, freshlyRead })).kind,
    "written",
  );
  assert.deepEqual([...freshlyRead], ["w1"]);
  const reads = client.calls.filter((c) => c.method === "getNode").length;
  await writer.apply("w1", () => skip("notHeld", "w1", { message: "x", withEvent: false }), {
    confirmSkip: true,
    freshlyRead,
  });
  assert.equal(client.calls.filter((c) => c.method === "getNode").length, reads, "no second read");
});

Deno.test("the before hook runs before the write, and a dry run writes nothing", async () => {
  const { client, writer } = setup(new FakeClient({ nodes: [workerNode("w1")], dryRun: true }));
  const order: string[] = [];
  const applied = await writer.apply("w1", cordon, {
    before: () => {
      order.push(`before, ${client.patches.length} patches`);
      return Promise.resolve();
    },
  });
  assert.equal(applied.kind, "written");
  assert.deepEqual(order, ["before, 0 patches"]);
  assert.equal(client.nodes.get("w1")!.spec?.unschedulable, undefined);
});

Deno.test("a conflict is decided again on the Node as the index admits it, never on annotations as read: node-heal's state someone else wrote counts for nothing", async () => {
  const client = new FakeClient({ nodes: [workerNode("w1")] });
  // The index admits node-heal's state only where its seal holds: here, none.
  const strip = (node: Node): Node => {
    const annotations = Object.fromEntries(
      Object.entries(node.metadata.annotations ?? {}).filter(([k]) =>
        !k.startsWith("node-heal.io/")
      ),
    );
    return { ...node, metadata: { ...node.metadata, annotations } };
  };
  const index = new NodeIndex({ admit: strip });
  for (const n of client.nodes.values()) index.upsert(structuredClone(n));
  const writer = new NodeWriter({ client, index, metrics: new Metrics(), now: () => NOW });
  // A kubelet writes history node-heal never wrote, and so makes node-heal's patch conflict.
  const forged = client.nodes.get("w1")!;
  client.putNode({
    ...forged,
    metadata: {
      ...forged.metadata,
      annotations: { "node-heal.io/remediated-at": JSON.stringify([NOW.toISOString()]) },
    },
  });
  const seen: (string | undefined)[] = [];
  const applied = await writer.apply("w1", (node) => {
    seen.push(node.metadata.annotations?.["node-heal.io/remediated-at"]);
    return cordon(node);
  });
  assert.equal(applied.kind, "written");
  assert.equal(seen.length, 2, "decided again after the conflict");
  assert.deepEqual(seen, [undefined, undefined], "the forged history was never decided on");
});
