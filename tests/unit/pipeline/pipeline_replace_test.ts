// The whole ladder through the pipeline against an in-memory client, with the real karpenter
// provider: cordon, drain, replace (its NodeClaim deleted), the successor Ready; the replacement
// gates' skips; a resolution during a replacement; a failed one written on its Node.
import assert from "node:assert/strict";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import { parsePolicy, type Policy } from "../../../lib/decide/policy.ts";
import type { Alert } from "../../../lib/intake/alertmanager.ts";
import { loadProviders } from "../../../lib/act/replace/providers.ts";
import { NODE_CLAIMS } from "../../../lib/act/replace/karpenter.ts";
import type { Node } from "../../../lib/base/node.ts";
import type { ReplaceProvider } from "../../../lib/act/replace/provider.ts";
import { alertOf, parsedNotification } from "../../support/alerts.ts";
import { FakeClient, workerNode } from "../../fakes/fake_client.ts";
import { pipelineOver } from "../../support/unit_pipeline.ts";
import { waitFor } from "../../support/wait.ts";

const POLICY = parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { provider: karpenter, timeout: 1s }
acknowledge: [minHealthyZero]
gates: { minHealthy: 0, maxReplacing: 1 }
`);

function node(name: string, ip: string, created = new Date().toISOString()): Node {
  const n = workerNode(name, ip);
  n.metadata.uid = `uid-${name}`;
  n.metadata.creationTimestamp = created;
  n.metadata.labels = { ...n.metadata.labels, "karpenter.sh/nodepool": "general" };
  n.spec = { ...n.spec, providerID: providerID(name) };
  return n;
}

/** The providerID of Node `name`'s instance. */
function providerID(name: string): string {
  return `aws:///us-east-1a/i-0000000${name.replace(/\D/g, "").padStart(3, "0")}`;
}

async function setup(
  policy: Policy = POLICY,
  providers?: ReadonlyMap<string, ReplaceProvider>,
) {
  const client = new FakeClient({
    nodes: [1, 2, 3, 4].map((i) => node(`w${i}`, `10.0.0.${i}`, "2026-01-01T00:00:00Z")),
  });
  for (const i of [1, 2, 3, 4]) {
    client.putObject(NODE_CLAIMS, {
      metadata: { name: `general-${i}`, labels: { "karpenter.sh/nodepool": "general" } },
      status: { nodeName: `w${i}`, providerID: providerID(`w${i}`) },
    });
  }
  const { events, pipeline } = pipelineOver(client, {
    policy,
    drainRetryMs: 5,
    replacePollMs: 5,
    providers: providers ?? await loadProviders(policy, { client }),
  });
  await pipeline.resumeReplacements();
  return {
    client,
    pipeline,
    events,
    [Symbol.asyncDispose]: async () => {
      await pipeline.stopDrains();
      await events.flush();
    },
  };
}

function replaceAlert(ip: string, status: Alert["status"] = "firing"): Alert {
  return alertOf(
    { alertname: "NodeBroken", instance: `${ip}:9100`, heal: "true", heal_action: "replace" },
    { fingerprint: `fp-${ip}`, status },
  );
}

const reasons = (client: FakeClient, node: string) =>
  [...client.events.values()].filter((e) => e.involvedObject.name === node).map((e) => e.reason);

Deno.test('heal_action="replace" cordons, drains, deletes the NodeClaim, and ends when a successor is Ready', async () => {
  await using f = await setup();
  const result = await f.pipeline.handle(parsedNotification([replaceAlert("10.0.0.2")]));
  assert.equal(result.alerts[0].outcome, "cordon");
  await waitFor(
    "the NodeClaim of w2 to be deleted",
    () => !f.client.objects.has(FakeClient.key(NODE_CLAIMS, "general-2")),
  );
  const w2 = f.client.nodes.get("w2")!;
  assert.equal(w2.metadata.annotations?.[ANNOTATIONS.step], "replacing");
  // Karpenter's part: the Node goes, a successor of the pool comes up.
  await f.client.deleteObject({ group: "", version: "v1", plural: "nodes" }, "w2");
  f.client.putNode(node("w5", "10.0.0.5"));
  await waitFor(
    "the replacement's end",
    () => reasons(f.client, "w2").includes("NodeHealReplaced"),
  );
  await f.events.flush();
  assert.deepEqual(
    reasons(f.client, "w2").filter((r) => r !== "NodeHealDrained"),
    ["NodeHealCordoned", "NodeHealDrainStarted", "NodeHealReplaceStarted", "NodeHealReplaced"],
  );
  const r = f.pipeline.replacements().entries[0];
  assert.equal(r.phase, "replaced");
  assert.equal(r.successor, "w5");
  // One NodeClaim deleted, one only.
  assert.equal(f.client.calls.filter((c) => c.method === "deleteObject").length, 2); // claim + the test's Node
});

Deno.test("with maxReplacing 1 a second replacement waits, its skip naming the gate, and starts once the first ends", async () => {
  await using f = await setup();
  await f.pipeline.handle(parsedNotification([replaceAlert("10.0.0.2")]));
  await waitFor(
    "w2 replacing",
    () => f.client.nodes.get("w2")?.metadata.annotations?.[ANNOTATIONS.step] === "replacing",
  );
  await f.pipeline.handle(parsedNotification([replaceAlert("10.0.0.3")]));
  const skip = await waitFor(
    "the skip of w3",
    () =>
      [...f.client.events.values()].find((e) =>
        e.involvedObject.name === "w3" && e.reason === "NodeHealSkipped"
      ),
  );
  assert.match(
    skip!.message,
    /Waiting to replace w3: 1 replacement is under way \(w2\).*\(gate maxReplacing\)/,
  );
  assert.equal(f.client.objects.has(FakeClient.key(NODE_CLAIMS, "general-3")), true);
  // w2's replacement ends: w3's starts.
  await f.client.deleteObject({ group: "", version: "v1", plural: "nodes" }, "w2");
  f.client.putNode(node("w5", "10.0.0.5"));
  await waitFor(
    "the NodeClaim of w3 to be deleted",
    () => !f.client.objects.has(FakeClient.key(NODE_CLAIMS, "general-3")),
  );
});

Deno.test("a replacement without a successor fails after its timeout: NodeHealReplaceFailed, the Node stays cordoned as replace-failed", async () => {
  await using f = await setup();
  await f.pipeline.handle(parsedNotification([replaceAlert("10.0.0.2")]));
  await waitFor(
    "the failure",
    () => reasons(f.client, "w2").includes("NodeHealReplaceFailed"),
    5000,
  );
  await waitFor(
    "replace-failed on w2",
    () => f.client.nodes.get("w2")!.metadata.annotations?.[ANNOTATIONS.step] === "replace-failed",
  );
  assert.equal(f.client.nodes.get("w2")!.spec?.unschedulable, true);
  assert.equal(f.pipeline.replacements().budgets(new Date(), false).maxReplacing.inFlight, 0);
});

Deno.test("a resolution during a replacement keeps the Node cordoned", async () => {
  await using f = await setup();
  await f.pipeline.handle(parsedNotification([replaceAlert("10.0.0.2")]));
  await waitFor(
    "w2 replacing",
    () => f.client.nodes.get("w2")?.metadata.annotations?.[ANNOTATIONS.step] === "replacing",
  );
  const result = await f.pipeline.handle(
    parsedNotification([replaceAlert("10.0.0.2", "resolved")]),
  );
  assert.equal(result.alerts[0].outcome, "release");
  assert.match(result.alerts[0].message, /replacement is under way/);
  assert.equal(f.client.nodes.get("w2")!.spec?.unschedulable, true);
});

Deno.test("a Node marked replacing that the ledger does not hold is marked replace-failed on resume, not left waiting", async () => {
  await using f = await setup();
  const w3 = f.client.nodes.get("w3")!;
  f.client.putNode({
    ...w3,
    spec: { unschedulable: true },
    metadata: {
      ...w3.metadata,
      annotations: { [ANNOTATIONS.cordonedBy]: "node-heal", [ANNOTATIONS.step]: "replacing" },
    },
  });
  await f.pipeline.resumeReplacements();
  assert.equal(
    f.client.nodes.get("w3")!.metadata.annotations?.[ANNOTATIONS.step],
    "replace-failed",
  );
  assert.equal(f.client.nodes.get("w3")!.spec?.unschedulable, true);
});

Deno.test("a machine rebuilt under the same Node object: the Node, Ready again, is its own successor and is uncordoned", async () => {
  let done = false;
  await using f = await setup(
    POLICY,
    new Map([["heal", {
      name: "gcp-mig" as const,
      inPlace: true,
      start: () => Promise.resolve({ id: "operation-1", message: "recreating" }),
      progress: () =>
        Promise.resolve(done ? { state: "done" as const } : { state: "running" as const }),
    }]]),
  );
  const { client, pipeline } = f;
  await pipeline.handle(parsedNotification([replaceAlert("10.0.0.2")]));
  await waitFor(
    "w2 replacing",
    () => client.nodes.get("w2")?.metadata.annotations?.[ANNOTATIONS.step] === "replacing",
  );
  done = true;
  await waitFor("w2 released", () => client.nodes.get("w2")!.spec?.unschedulable !== true);
  assert.equal(pipeline.replacements().entries[0].successor, "w2");
  assert.equal(client.nodes.get("w2")!.metadata.annotations?.[ANNOTATIONS.step], undefined);
});
