// The pipeline against an in-memory client: resolve → decide → act → report, the Node's turn
// and the take-out turn, the drain lifecycle through the node writer, failures for Alertmanager
// to retry. Integration tests run the same over HTTP against the embedded API server.
import assert from "node:assert/strict";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import { parsePolicy, type Policy } from "../../../lib/decide/policy.ts";
import type { Alert } from "../../../lib/intake/alertmanager.ts";
import { alertOf, parsedNotification } from "../../support/alerts.ts";
import { FakeClient, podOn, workerNode } from "../../fakes/fake_client.ts";
import { pipelineOver } from "../../support/unit_pipeline.ts";
import { waitFor } from "../../support/wait.ts";

function setup(
  options: { policy?: Policy; workers?: number; paused?: () => boolean; leading?: () => boolean } =
    {},
) {
  const nodes = Array.from(
    { length: options.workers ?? 4 },
    (_, i) => workerNode(`w${i + 1}`, `10.0.0.${i + 1}`),
  );
  const client = new FakeClient({ nodes });
  const { metrics, events, pipeline } = pipelineOver(client, {
    policy: options.policy ??
      parsePolicy("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }"),
    drainRetryMs: 5,
    paused: options.paused,
    leading: options.leading,
  });
  return {
    client,
    pipeline,
    metrics,
    [Symbol.asyncDispose]: async () => {
      await pipeline.stopDrains();
      await events.flush();
    },
  };
}

function alert(ip: string, status: Alert["status"] = "firing", fingerprint = `fp-${ip}`): Alert {
  return alertOf({ alertname: "NodeDown", instance: `${ip}:9100`, heal: "true" }, {
    fingerprint,
    status,
  });
}

Deno.test("a firing alert cordons its Node through the writer, records an Event and the decision", async () => {
  await using f = setup();
  const result = await f.pipeline.handle(parsedNotification([alert("10.0.0.2")]));
  assert.equal(result.retry, false);
  assert.equal(result.alerts[0].node, "w2");
  assert.equal(result.alerts[0].outcome, "cordon");
  const w2 = f.client.nodes.get("w2")!;
  assert.equal(w2.spec?.unschedulable, true);
  assert.equal(w2.metadata.annotations?.[ANNOTATIONS.cordonedBy], "node-heal");
  const events = [...f.client.events.values()];
  assert.deepEqual(events.map((e) => [e.involvedObject.name, e.reason]), [[
    "w2",
    "NodeHealCordoned",
  ]]);
  const [decision] = f.pipeline.recentDecisions();
  assert.equal(decision.node, "w2");
  assert.equal(decision.outcome, "cordon");
  // The resolution uncordons and clears node-heal's state.
  const resolved = await f.pipeline.handle(parsedNotification([alert("10.0.0.2", "resolved")]));
  assert.equal(resolved.alerts[0].outcome, "uncordon");
  assert.equal(f.client.nodes.get("w2")!.spec?.unschedulable, undefined);
  assert.equal(f.client.nodes.get("w2")!.metadata.annotations?.[ANNOTATIONS.cordonedBy], undefined);
});

Deno.test("an alert that matches no Node is unresolved, and nothing is written", async () => {
  await using f = setup();
  const result = await f.pipeline.handle(parsedNotification([alert("10.9.9.9")]));
  assert.equal(result.alerts[0].outcome, "unresolved");
  assert.equal(result.retry, false);
  assert.equal(f.client.patches.length, 0);
  assert.equal(f.pipeline.recentDecisions()[0].outcome, "unresolved");
});

Deno.test("another cluster's alert is skipped before it is resolved: no read, no write, no Event", async () => {
  await using f = setup({
    policy: parsePolicy(
      "cluster: { cluster: prod }\nacknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }",
    ),
  });
  const labels = { alertname: "NodeDown", instance: "10.0.0.2:9100", heal: "true" };
  const reads = f.client.calls.length;
  const result = await f.pipeline.handle(parsedNotification([
    alertOf({ ...labels, cluster: "staging" }, { fingerprint: "staging" }),
    alertOf(labels, { fingerprint: "none" }),
  ]));
  assert.equal(result.retry, false);
  assert.deepEqual(result.alerts.map((a) => [a.outcome, a.gate, a.node]), [
    ["otherCluster", "cluster", undefined],
    ["otherCluster", "cluster", undefined],
  ]);
  assert.match(result.alerts[0].message, /cluster="staging"/);
  assert.equal(f.client.calls.length, reads, "nothing asked of the cluster");
  assert.equal(f.client.patches.length, 0);
  assert.equal(f.client.events.size, 0);
  assert.deepEqual(f.pipeline.recentDecisions().map((d) => [d.outcome, d.gate, d.node]), [
    ["otherCluster", "cluster", ""],
    ["otherCluster", "cluster", ""],
  ]);
  const counted = await f.metrics.alerts.get();
  assert.equal(counted.values.find((v) => v.labels.outcome === "otherCluster")?.value, 2);
  // This cluster's alert is acted on.
  const ours = await f.pipeline.handle(
    parsedNotification([alertOf({ ...labels, cluster: "prod" })]),
  );
  assert.deepEqual([ours.alerts[0].outcome, ours.alerts[0].node], ["cordon", "w2"]);
});

Deno.test("a write that keeps failing asks Alertmanager to retry, and changes nothing", async () => {
  await using f = setup();
  f.client.fail("patchNode", 500, 500, 500);
  const result = await f.pipeline.handle(parsedNotification([alert("10.0.0.1")]));
  assert.equal(result.retry, true);
  assert.equal(result.alerts[0].outcome, "failed");
  assert.equal(f.client.nodes.get("w1")!.spec?.unschedulable, undefined);
  // Alertmanager's retry then succeeds.
  const again = await f.pipeline.handle(parsedNotification([alert("10.0.0.1")]));
  assert.equal(again.alerts[0].outcome, "cordon");
});

Deno.test("firing alerts about several Nodes at once take turns: the gates count each take-out", async () => {
  await using f = setup({ policy: parsePolicy("gates: { minHealthy: 2 }") });
  const result = await f.pipeline.handle(
    parsedNotification(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"].map((ip) => alert(ip))),
  );
  const outcomes = result.alerts.map((a) => a.outcome).sort();
  assert.deepEqual(outcomes, ["cordon", "cordon", "skipped", "skipped"]);
  assert.ok(
    result.alerts.filter((a) => a.outcome === "skipped").every((a) => a.gate === "minHealthy"),
  );
  const cordoned = [...f.client.nodes.values()].filter((n) => n.spec?.unschedulable);
  assert.equal(cordoned.length, 2);
});

Deno.test("take-outs decided while earlier writes are in flight count them: the gates hold", async () => {
  await using f = setup({ policy: parsePolicy("gates: { minHealthy: 3 }"), workers: 6 });
  // Every write takes a while, so later decisions are made before earlier writes land.
  const patch = f.client.patchNode.bind(f.client);
  f.client.patchNode = async (name, p) => {
    await new Promise((r) => setTimeout(r, 20));
    return patch(name, p);
  };
  const ips = [1, 2, 3, 4, 5, 6].map((i) => `10.0.0.${i}`);
  const result = await f.pipeline.handle(parsedNotification(ips.map((ip) => alert(ip))));
  assert.equal(result.alerts.filter((a) => a.outcome === "cordon").length, 3);
  assert.equal([...f.client.nodes.values()].filter((n) => n.spec?.unschedulable).length, 3);
  assert.ok(
    result.alerts.filter((a) => a.outcome === "skipped").every((a) => a.gate === "minHealthy"),
  );
});

Deno.test("a take-out whose write timed out keeps its place in the budget: it may still land", async () => {
  await using f = setup({ policy: parsePolicy("gates: { minHealthy: 3 }"), workers: 4 });
  // No answer three times (0: no status, as a timeout): the write may have reached the server.
  f.client.fail("patchNode", 0, 0, 0);
  const first = await f.pipeline.handle(parsedNotification([alert("10.0.0.1")]));
  assert.equal(first.alerts[0].outcome, "failed");
  assert.equal(first.retry, true);
  const second = await f.pipeline.handle(parsedNotification([alert("10.0.0.2")]));
  assert.equal(second.alerts[0].outcome, "skipped");
  assert.equal(second.alerts[0].gate, "minHealthy");
  // A refusal (a status) gives the place back at once.
  await using g = setup({ policy: parsePolicy("gates: { minHealthy: 3 }"), workers: 4 });
  g.client.fail("patchNode", 403);
  assert.equal(
    (await g.pipeline.handle(parsedNotification([alert("10.0.0.1")]))).alerts[0].outcome,
    "rejected",
  );
  assert.equal(
    (await g.pipeline.handle(parsedNotification([alert("10.0.0.2")]))).alerts[0].outcome,
    "cordon",
  );
});

Deno.test("a drain runs through the writer: every Node write carries its resourceVersion, and the end is recorded", async () => {
  await using f = setup({
    policy: parsePolicy(
      "rules: [{ name: heal, match: ['heal=\"true\"'], actions: [drain] }]\nacknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }",
    ),
  });
  for (const p of [podOn("w3", "a"), podOn("w3", "b"), podOn("w1", "elsewhere")]) {
    f.client.pods.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
  }
  await f.pipeline.handle(parsedNotification([alert("10.0.0.3")]));
  await waitFor(
    "the drain of w3 to end",
    () => f.client.nodes.get("w3")!.metadata.annotations?.[ANNOTATIONS.step] === "drained",
  );
  const w3 = f.client.nodes.get("w3")!;
  assert.equal(w3.metadata.annotations?.[ANNOTATIONS.drainEvicted], "2");
  assert.equal(w3.metadata.annotations?.[ANNOTATIONS.drainer], undefined);
  assert.deepEqual([...f.client.pods.keys()], ["default/elsewhere"]);
  await waitFor(
    "the NodeHealDrained Event",
    () => [...f.client.events.values()].some((e) => e.reason === "NodeHealDrained"),
  );
  assert.ok(f.client.patches.length >= 3, "cordon, drain claim, end");
  for (const { patch } of f.client.patches) {
    assert.ok(
      patch.metadata.resourceVersion,
      `a write without resourceVersion: ${JSON.stringify(patch)}`,
    );
  }
  assert.equal(f.pipeline.recentDecisions().at(-1)?.outcome, "drained");
});

Deno.test("a resolution stops a running drain before it uncordons, and the drain's end is not written", async () => {
  await using f = setup({
    policy: parsePolicy(
      "rules: [{ name: heal, match: ['heal=\"true\"'], actions: [drain] }]\nacknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }",
    ),
  });
  const pod = podOn("w4", "guarded");
  f.client.pods.set("default/guarded", pod);
  f.client.blocked.add("default/guarded");
  await f.pipeline.handle(parsedNotification([alert("10.0.0.4")]));
  await waitFor(
    "the drain to try the guarded pod",
    () => f.client.calls.some((c) => c.method === "evictPod"),
  );
  const result = await f.pipeline.handle(parsedNotification([alert("10.0.0.4", "resolved")]));
  assert.equal(result.alerts[0].outcome, "uncordon");
  const w4 = f.client.nodes.get("w4")!;
  assert.equal(w4.spec?.unschedulable, undefined);
  assert.equal(w4.metadata.annotations?.[ANNOTATIONS.step], undefined);
  assert.ok(f.client.pods.has("default/guarded"), "the pod stays");
  const evictions = f.client.calls.filter((c) => c.method === "evictPod").length;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(f.client.calls.filter((c) => c.method === "evictPod").length, evictions, "stopped");
  assert.ok(![...f.client.events.values()].some((e) => e.reason === "NodeHealDrainFailed"));
});

const DRAIN = parsePolicy(
  "rules: [{ name: heal, match: ['heal=\"true\"'], actions: [drain] }]\nacknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }",
);

/** A drain of w4 running, round after round, on a pod a budget guards. */
async function guardedDrain(f: ReturnType<typeof setup>) {
  f.client.pods.set("default/guarded", podOn("w4", "guarded"));
  f.client.blocked.add("default/guarded");
  await f.pipeline.handle(parsedNotification([alert("10.0.0.4")]));
  await waitFor("the drain to try the guarded pod", () => evictions(f) > 0);
}

const evictions = (f: ReturnType<typeof setup>) =>
  f.client.calls.filter((c) => c.method === "evictPod").length;

Deno.test("a running drain is halted when node-heal is paused: nothing more is evicted, the node stays cordoned and says why", async () => {
  let paused = false;
  await using f = setup({ policy: DRAIN, paused: () => paused });
  await guardedDrain(f);
  paused = true;
  await waitFor(
    "the halt written",
    () => f.client.nodes.get("w4")!.metadata.annotations?.[ANNOTATIONS.step] === "cordoned",
  );
  const tried = evictions(f);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(evictions(f), tried, "no eviction after the halt");
  const w4 = f.client.nodes.get("w4")!;
  assert.equal(w4.spec?.unschedulable, true);
  assert.equal(w4.metadata.annotations?.[ANNOTATIONS.drainer], undefined);
  const halted = [...f.client.events.values()].find((e) => e.reason === "NodeHealDrainHalted");
  assert.equal(
    halted?.message,
    "Stopped draining w4: node-heal is paused; it stays cordoned (gate paused)",
  );
  assert.equal(halted?.type, "Warning");
  // The pause lifted, the drain is due again and goes on.
  paused = false;
  await f.pipeline.reconcile("w4");
  await waitFor("the drain again", () => evictions(f) > tried);
});

Deno.test("a running drain whose rule a reload renamed stops, and never goes on under the other rule's settings", async () => {
  await using f = setup({ policy: DRAIN });
  await guardedDrain(f);
  const standalone = podOn("w4", "standalone");
  standalone.metadata.ownerReferences = undefined;
  f.client.pods.set("default/standalone", standalone);
  await f.pipeline.applyPolicy({
    policy: parsePolicy(`
rules:
  - { name: heal-v2, match: ['heal="true"'], actions: [drain] }
  - { name: other, match: ['team="batch"'], actions: [drain], drain: { evictStandalone: true } }
acknowledge: [noHealOptIn, minHealthyZero]
gates: { minHealthy: 0 }
`),
    providers: new Map(),
  });
  await waitFor(
    "the halt written",
    () => f.client.nodes.get("w4")!.metadata.annotations?.[ANNOTATIONS.target] === "cordon",
  );
  const w4 = f.client.nodes.get("w4")!;
  assert.equal(w4.metadata.annotations?.[ANNOTATIONS.step], "cordoned");
  assert.equal(w4.spec?.unschedulable, true);
  await f.pipeline.reconcile("w4");
  await new Promise((r) => setTimeout(r, 30));
  assert.ok(f.client.pods.has("default/standalone"), "the bare pod is never evicted");
  assert.ok(
    [...f.client.events.values()].some((e) =>
      e.reason === "NodeHealDrainHalted" && e.message.includes('its rule "heal" is no longer')
    ),
  );
});

Deno.test("a drain of a replica that stops leading stops quietly: no eviction, no halt written, its claim left for the next leader", async () => {
  let leading = true;
  await using f = setup({ policy: DRAIN, leading: () => leading });
  await guardedDrain(f);
  leading = false;
  const tried = evictions(f);
  await new Promise((r) => setTimeout(r, 60));
  assert.ok(evictions(f) <= tried + 1, "at most the eviction under way when it stopped");
  const settled = evictions(f);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(evictions(f), settled);
  const w4 = f.client.nodes.get("w4")!;
  assert.equal(w4.metadata.annotations?.[ANNOTATIONS.step], "draining", "the claim stays");
  assert.ok(![...f.client.events.values()].some((e) => e.reason === "NodeHealDrainHalted"));
});
