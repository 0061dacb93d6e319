// The safety gates through real interfaces: notifications over HTTP, the embedded cluster,
// state and Events read back with the real client library, /status read over HTTP.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { notification, type ServiceFixture, waitFor, withService } from "../../support/helpers.ts";

const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
const strategic = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch);

const IPS: Record<string, string> = {
  "heal-worker": "172.18.0.3",
  "heal-worker2": "172.18.0.4",
  "heal-worker3": "172.18.0.5",
};

function fire(node: string, fingerprint = `fp-${node}`, status: "firing" | "resolved" = "firing") {
  return notification(status, [{
    labels: { alertname: "NodeHighCPU", heal: "true", instance: `${IPS[node]}:9100` },
    fingerprint,
  }]);
}

async function cordoned(f: ServiceFixture): Promise<string[]> {
  const nodes = await f.core.listNode();
  return nodes.items.filter((n) => n.spec?.unschedulable).map((n) => n.metadata!.name!).sort();
}

async function skipped(f: ServiceFixture, node: string): Promise<string[]> {
  const list = await f.core.listEventForAllNamespaces({
    fieldSelector: `involvedObject.name=${node},reason=NodeHealSkipped`,
  });
  return list.items.map((e) => e.message ?? "");
}

async function status(f: ServiceFixture) {
  return await (await fetch(`${f.service.url}/status`)).json();
}

/** Resource versions of every Node: unchanged means nothing was written to any Node. */
async function nodeVersions(f: ServiceFixture): Promise<string[]> {
  return (await f.core.listNode()).items.map((n) =>
    `${n.metadata?.name}@${n.metadata?.resourceVersion}`
  );
}

Deno.test(
  "with the default gates, alerts for all three workers at once cordon exactly one; the others are skipped by minHealthy",
  async () => {
    await using f = await withService();
    const answers = await Promise.all(Object.keys(IPS).map((n) => f.post(fire(n))));
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200]);
    const outcomes = (await Promise.all(answers.map((r) => r.json())))
      .map((b) => b.alerts[0].gate ?? b.alerts[0].outcome).sort();
    assert.deepEqual(outcomes, ["cordon", "minHealthy", "minHealthy"]);
    const out = await cordoned(f);
    assert.equal(out.length, 1);
    for (const node of Object.keys(IPS).filter((n) => !out.includes(n))) {
      const messages = await skipped(f, node);
      assert.equal(messages.length, 1, node);
      assert.match(messages[0], /minHealthy 51%/);
    }
    const s = await status(f);
    assert.deepEqual(s.budgets.minHealthy, { required: 2, canTakeOut: 0, heldByNodeHeal: 1 });
    assert.equal(s.budgets.selected, 3);
    assert.equal(s.budgets.available, 2);
    assert.deepEqual(s.nodes.map((n: { node: string }) => n.node), out);
    const gates = s.decisions.map((d: { gate?: string; outcome: string }) => d.gate ?? d.outcome)
      .sort();
    assert.deepEqual(gates, ["cordon", "minHealthy", "minHealthy"]);
    const metrics = await (await fetch(`${f.service.url}/metrics`)).text();
    assert.match(metrics, /nodeheal_decisions_total\{outcome="skip",gate="minHealthy"\} 2/);
  },
);

Deno.test("a node cordoned by hand counts as unavailable for minHealthy", async () => {
  await using f = await withService();
  await f.core.patchNode(
    { name: "heal-worker3", body: { spec: { unschedulable: true } } },
    strategic,
  );
  await waitFor(
    "the watch to see it",
    () => f.service.index.get("heal-worker3")?.spec?.unschedulable,
  );
  const res = await f.post(fire("heal-worker"));
  assert.equal((await res.json()).alerts[0].gate, "minHealthy");
  assert.deepEqual(await cordoned(f), ["heal-worker3"]);
});

Deno.test(
  "a restart keeps the rate budget, counted from node-heal's sealed history; a drain someone else wrote takes no slot",
  async () => {
    await using cluster = await startEmbeddedCluster();
    const dir = await Deno.makeTempDir({ prefix: "node-heal-restart-" });
    const kubeconfig = `${dir}/kubeconfig`;
    await Deno.writeTextFile(kubeconfig, cluster.kubeconfig());
    const policy = parsePolicy(
      "acknowledge: [minHealthyZero]\ngates: { minHealthy: 0, rate: { max: 1, window: 1h }, cooldown: 1s }",
    );
    {
      await using first = await withService({ kubeconfig, cluster, policy });
      assert.equal(
        (await (await first.post(fire("heal-worker"))).json()).alerts[0].outcome,
        "cordon",
      );
      const resolved = await first.post(fire("heal-worker", "fp-heal-worker", "resolved"));
      assert.equal((await resolved.json()).alerts[0].outcome, "uncordon");
    }
    // Someone writes a drain in progress on another Node, as node-heal would: not sealed by it.
    const core = new k8s.KubeConfig();
    core.loadFromString(cluster.kubeconfig());
    await core.makeApiClient(k8s.CoreV1Api).patchNode({
      name: "heal-worker3",
      body: { metadata: { annotations: { "node-heal.io/step": "draining" } } },
    }, merge);
    await using second = await withService({ kubeconfig, cluster, policy });
    const blocked = await (await second.post(fire("heal-worker2"))).json();
    assert.equal(blocked.alerts[0].gate, "rate");
    assert.deepEqual(await cordoned(second), []);
    const s = await status(second);
    assert.deepEqual(s.budgets.rate, { max: 1, windowMs: 3_600_000, used: 1, left: 0 });
    assert.deepEqual(s.budgets.maxConcurrent, { max: 1, inFlight: 0 });
    const metrics = await (await fetch(`${second.service.url}/metrics`)).text();
    assert.match(
      metrics,
      /nodeheal_untrusted_state_total\{kind="node-state",reason="unsealed"\} 1/,
    );
    await waitFor(
      "the Event on heal-worker3",
      async () =>
        (await second.core.listNamespacedEvent({ namespace: "default" })).items.some((e) =>
          e.reason === "NodeHealUntrustedState" && e.involvedObject.name === "heal-worker3"
        ),
    );
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test("a node node-heal released recently waits out the cooldown", async () => {
  await using f = await withService({
    policy: parsePolicy("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0, cooldown: 10m }"),
  });
  await f.post(fire("heal-worker"));
  await f.post(fire("heal-worker", "fp-heal-worker", "resolved"));
  const again = await (await f.post(fire("heal-worker", "second"))).json();
  assert.equal(again.alerts[0].gate, "cooldown");
  assert.deepEqual(await cordoned(f), []);
});

Deno.test("paused (flag) makes no write to any Node and says so", async () => {
  await using f = await withService({ paused: true });
  const before = await nodeVersions(f);
  f.cluster.api.traffic.reset();
  const res = await (await f.post(fire("heal-worker"))).json();
  assert.equal(res.alerts[0].gate, "paused");
  assert.deepEqual(await nodeVersions(f), before);
  const nodeWrites = f.cluster.api.traffic.requests.filter((r) =>
    r.resource === "nodes" && r.verb === "patch"
  );
  assert.deepEqual(nodeWrites, []);
  assert.match((await skipped(f, "heal-worker"))[0], /paused/);
  assert.equal((await status(f)).paused, true);
});

Deno.test(
  "the pause annotation on node-heal's namespace pauses and resumes node-heal",
  async () => {
    await using f = await withService();
    const annotate = (value: string | null) =>
      f.core.patchNamespace({
        name: "node-heal",
        body: { metadata: { annotations: { "node-heal.io/paused": value } } },
      }, merge);
    await annotate("true");
    await waitFor("the pause to be read", async () => (await status(f)).paused === true);
    assert.equal((await (await f.post(fire("heal-worker"))).json()).alerts[0].gate, "paused");
    assert.deepEqual(await cordoned(f), []);
    await annotate(null);
    await waitFor("the pause to be lifted", async () => (await status(f)).paused === false);
    assert.equal((await (await f.post(fire("heal-worker"))).json()).alerts[0].outcome, "cordon");
  },
);

Deno.test("dry-run decides and reports but makes no write to any Node", async () => {
  await using f = await withService({ dryRun: true });
  const before = await nodeVersions(f);
  const res = await (await f.post(fire("heal-worker"))).json();
  assert.equal(res.dryRun, true);
  assert.equal(res.alerts[0].outcome, "cordon");
  assert.deepEqual(await nodeVersions(f), before);
  assert.deepEqual(await cordoned(f), []);
});

Deno.test("nodes outside the policy's node selector are protected", async () => {
  await using f = await withService({
    policy: parsePolicy(
      "acknowledge: [minHealthyZero]\ngates: { minHealthy: 0, nodeSelector: { pool: general } }",
    ),
  });
  await f.core.patchNode({
    name: "heal-worker",
    body: { metadata: { labels: { pool: "general" } } },
  }, merge);
  await waitFor(
    "the label in the index",
    () => f.service.index.get("heal-worker")?.metadata.labels?.pool,
  );
  assert.equal((await (await f.post(fire("heal-worker2"))).json()).alerts[0].gate, "protected");
  assert.equal((await (await f.post(fire("heal-worker"))).json()).alerts[0].outcome, "cordon");
});

Deno.test(
  "a dry run skips what a real run would skip: the would-be cordons count",
  async () => {
    await using f = await withService({ dryRun: true });
    const answers = await Promise.all(Object.keys(IPS).map((n) => f.post(fire(n))));
    const outcomes = (await Promise.all(answers.map((r) => r.json())))
      .map((b) => b.alerts[0].gate ?? b.alerts[0].outcome).sort();
    assert.deepEqual(outcomes, ["cordon", "minHealthy", "minHealthy"]);
    assert.deepEqual(await cordoned(f), [], "nothing was written");
    const s = await status(f);
    assert.equal(s.dryRun, true);
    assert.ok(s.decisions.every((d: { dryRun?: boolean }) => d.dryRun === true));
  },
);
