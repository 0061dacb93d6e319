// The whole ladder against the embedded cluster's Karpenter, over HTTP with the real client
// library: cordon, drain, the NodeClaim deleted, a new worker Ready; the gates under a second
// request and under a storm; a replacement whose successor never comes; and one node-heal killed
// mid-replacement, its successor resuming without a second replacement.
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { notification, waitFor, withService } from "../../support/helpers.ts";
import { readyReplica, startServe, stop, watched } from "../../support/processes.ts";
import { ledger, reasons } from "../../support/ladder.ts";

const policy = (gates = "minHealthy: 0, maxReplacing: 1", timeout = "1m") =>
  parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { provider: karpenter, timeout: ${timeout} }
gates: { ${gates} }
acknowledge: [minHealthyZero]
`);

function replaceAlert(ip: string, fingerprint = `fp-${ip}`) {
  return {
    labels: {
      alertname: "NodeBroken",
      heal: "true",
      heal_action: "replace",
      instance: `${ip}:9100`,
    },
    fingerprint,
  };
}

function claimDeletes(
  cluster: { api: { traffic: { requests: { verb: string; resource?: string }[] } } },
) {
  return cluster.api.traffic.requests.filter((r) =>
    r.verb === "delete" && r.resource === "nodeclaims"
  )
    .length;
}

Deno.test('heal_action="replace" cordons, drains, deletes the NodeClaim, and a new worker becomes Ready', async () => {
  await using f = await withService({
    policy: policy(),
    clusterOptions: { replaceDelayMs: 300, nodeClaimTerminationMs: 100 },
  });
  const custom = f.kc.makeApiClient(k8s.CustomObjectsApi);
  const claims = await custom.listClusterCustomObject({
    group: "karpenter.sh",
    version: "v1",
    plural: "nodeclaims",
  }) as { items: { metadata: { name: string }; status: { nodeName: string } }[] };
  const claim = claims.items.find((c) => c.status.nodeName === "heal-worker")!;
  const res = await f.post(notification("firing", [replaceAlert("172.18.0.3")]));
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const done = await waitFor("the replacement's end", async () => {
    const [r] = await ledger(f.core);
    return r?.phase === "replaced" && r;
  }, 20_000);
  assert.equal(done.node, "heal-worker");
  assert.equal(done.provider, "karpenter");
  const nodes = (await f.core.listNode()).items;
  assert.equal(
    nodes.some((n) => n.metadata?.name === "heal-worker"),
    false,
    "the old node is gone",
  );
  const successor = nodes.find((n) => n.metadata?.name === done.successor)!;
  assert.ok(successor, `${done.successor} exists`);
  assert.equal(
    successor.status?.conditions?.find((c) => c.type === "Ready")?.status,
    "True",
  );
  assert.equal(successor.metadata?.labels?.["karpenter.sh/nodepool"], done.pool?.value);
  const left = await custom.listClusterCustomObject({
    group: "karpenter.sh",
    version: "v1",
    plural: "nodeclaims",
  }) as { items: { metadata: { name: string } }[] };
  assert.equal(left.items.some((c) => c.metadata.name === claim.metadata.name), false);
  assert.equal(claimDeletes(f.cluster), 1, "one NodeClaim deleted");
  await waitFor(
    "the Events",
    async () => (await reasons(f.core, "heal-worker")).includes("NodeHealReplaced"),
  );
  assert.deepEqual((await reasons(f.core, "heal-worker")).sort(), [
    "NodeHealCordoned",
    "NodeHealDrainStarted",
    "NodeHealDrained",
    "NodeHealReplaceStarted",
    "NodeHealReplaced",
  ]);
  const metrics = await (await fetch(`${f.service.url}/metrics`)).text();
  assert.match(metrics, /nodeheal_replacements_total\{provider="karpenter",outcome="replaced"\} 1/);
});

Deno.test("with maxReplacing 1 a second replace request waits, its skip naming the gate, then goes", async () => {
  await using f = await withService({
    policy: policy(),
    clusterOptions: { replaceDelayMs: 2000, nodeClaimTerminationMs: 100 },
  });
  for (const ip of ["172.18.0.3", "172.18.0.4"]) {
    await (await f.post(notification("firing", [replaceAlert(ip)]))).body?.cancel();
  }
  const skipped = await waitFor("the skip of heal-worker2", async () => {
    const events = await f.core.listNamespacedEvent({
      namespace: "default",
      fieldSelector: "involvedObject.name=heal-worker2,reason=NodeHealSkipped",
    });
    return events.items.find((e) => /Waiting to replace/.test(e.message ?? ""));
  }, 15_000);
  assert.match(skipped.message!, /Waiting to replace heal-worker2: .*\(gate maxReplacing\)/);
  const status = await (await fetch(`${f.service.url}/status`)).json();
  assert.equal(status.replaceBudgets.maxReplacing.inFlight, 1);
  await waitFor("both replaced", async () => {
    const entries = await ledger(f.core);
    return entries.length === 2 && entries.every((r) => r.phase === "replaced");
  }, 30_000);
  assert.equal(claimDeletes(f.cluster), 2);
});

Deno.test("a storm of replace requests never has more than maxReplacing in flight, nor more than replaceRate started", async () => {
  await using f = await withService({
    workers: 8,
    policy: policy("minHealthy: 0, maxReplacing: 2, replaceRate: { max: 3, window: 1h }"),
    clusterOptions: { replaceDelayMs: 800, nodeClaimTerminationMs: 100 },
  });
  const ips = Array.from({ length: 8 }, (_, i) => `172.18.0.${i + 3}`);
  let most = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const flying = (await ledger(f.core)).filter((r) =>
        r.phase === "starting" || r.phase === "requested"
      );
      most = Math.max(most, flying.length);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  // Every alert, three times over, at once.
  await Promise.all(
    [0, 1, 2].flatMap(() =>
      ips.map(async (ip) =>
        await (await f.post(notification("firing", [replaceAlert(ip)]))).body?.cancel()
      )
    ),
  );
  await waitFor("three replacements ended", async () => {
    const entries = await ledger(f.core);
    return entries.length === 3 && entries.every((r) => r.phase === "replaced");
  }, 40_000);
  // Nodes still asking keep being told no by the rate.
  await waitFor("a skip naming replaceRate", async () => {
    const events = await f.core.listNamespacedEvent({
      namespace: "default",
      fieldSelector: "reason=NodeHealSkipped",
    });
    return events.items.some((e) => /\(gate replaceRate\)/.test(e.message ?? ""));
  }, 15_000);
  watching = false;
  await watcher;
  assert.ok(most <= 2, `at most 2 in flight, saw ${most}`);
  assert.equal(claimDeletes(f.cluster), 3, "three NodeClaims deleted, no more");
  assert.equal((await ledger(f.core)).length, 3);
});

Deno.test("a replacement whose node is gone and whose successor never comes fails after its timeout, and keeps its place", async () => {
  await using f = await withService({
    policy: policy("minHealthy: 0, maxReplacing: 1", "2s"),
    // Karpenter terminates, but brings nothing up within the test.
    clusterOptions: { replaceDelayMs: 600_000, nodeClaimTerminationMs: 100 },
  });
  await (await f.post(notification("firing", [replaceAlert("172.18.0.3")]))).body?.cancel();
  const failed = await waitFor("the failure", async () => {
    const [r] = await ledger(f.core);
    return r?.phase === "failed" && r;
  }, 20_000);
  assert.match(failed.message!, /not replaced within 2s .*the node is gone and no successor/);
  assert.equal(failed.unsettled, true);
  await waitFor(
    "NodeHealReplaceFailed",
    async () => (await reasons(f.core, "heal-worker")).includes("NodeHealReplaceFailed"),
  );
  const status = await (await fetch(`${f.service.url}/status`)).json();
  assert.equal(status.replaceBudgets.maxReplacing.inFlight, 1, "its place stays taken");
  assert.equal(status.replaceBudgets.replaceRate.used, 1);
  // The next request waits: a machine may still be going away.
  await (await f.post(notification("firing", [replaceAlert("172.18.0.4")]))).body?.cancel();
  const skipped = await waitFor("heal-worker2 waiting", async () => {
    const events = await f.core.listNamespacedEvent({
      namespace: "default",
      fieldSelector: "involvedObject.name=heal-worker2,reason=NodeHealSkipped",
    });
    return events.items.find((e) => /Waiting to replace/.test(e.message ?? ""));
  }, 15_000);
  assert.match(skipped.message!, /\(gate maxReplacing\)/);
  assert.equal(claimDeletes(f.cluster), 1);
});

Deno.test("a replacement whose node stays fails after its timeout: the node stays cordoned, and the place is free", async () => {
  await using f = await withService({
    policy: policy("minHealthy: 0, maxReplacing: 1", "2s"),
    // Karpenter's termination never ends within the test: the Node stays.
    clusterOptions: { replaceDelayMs: 600_000, nodeClaimTerminationMs: 600_000 },
  });
  await (await f.post(notification("firing", [replaceAlert("172.18.0.3")]))).body?.cancel();
  const failed = await waitFor("the failure", async () => {
    const [r] = await ledger(f.core);
    return r?.phase === "failed" && r;
  }, 20_000);
  assert.match(failed.message!, /the node still exists; it stays cordoned/);
  const node = await waitFor("replace-failed on heal-worker", async () => {
    const n = await f.core.readNode({ name: "heal-worker" });
    return n.metadata?.annotations?.["node-heal.io/step"] === "replace-failed" && n;
  });
  assert.equal(node.spec?.unschedulable, true);
  const status = await (await fetch(`${f.service.url}/status`)).json();
  assert.equal(status.replaceBudgets.maxReplacing.inFlight, 0);
  assert.equal(status.replaceBudgets.replaceRate.used, 1);
  // The free place is used by the next request.
  await (await f.post(notification("firing", [replaceAlert("172.18.0.4")]))).body?.cancel();
  await waitFor(
    "heal-worker2's replacement to start",
    async () => (await ledger(f.core)).some((r) => r.node === "heal-worker2"),
    15_000,
  );
});

Deno.test("node-heal killed mid-replacement: the next one resumes it from the ledger, and the node is replaced once", async () => {
  await using cluster = await startEmbeddedCluster({
    replaceDelayMs: 4000,
    nodeClaimTerminationMs: 100,
  });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-replace-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  await Deno.writeTextFile(
    `${dir}/policy.yaml`,
    `rules: [{ name: heal, match: ['heal="true"'], actions: [cordon, drain, replace], replace: { provider: karpenter } }]
acknowledge: [minHealthyZero]
gates: { minHealthy: 0 }
`,
  );
  const kc = new k8s.KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const args = [
    "--kubeconfig",
    `${dir}/kubeconfig`,
    "--config",
    `${dir}/policy.yaml`,
    "--listen",
    "127.0.0.1:0",
    "--log-format",
    "json",
  ];
  const first = watched(startServe(args));
  const url = await readyReplica(first);
  await (await fetch(`${url}/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(notification("firing", [replaceAlert("172.18.0.3")])),
  })).body?.cancel();
  await waitFor("the NodeClaim deleted", async () => {
    const [r] = await ledger(core);
    return r?.phase === "requested";
  }, 20_000);
  first.child.kill("SIGKILL");
  await first.child.status;
  await first.out.done;
  const second = watched(startServe(args));
  await readyReplica(second);
  const done = await waitFor("the replacement's end", async () => {
    const [r] = await ledger(core);
    return r?.phase === "replaced" && r;
  }, 30_000);
  assert.equal(done.node, "heal-worker");
  assert.equal(claimDeletes(cluster), 1, "one NodeClaim deleted across both processes");
  assert.equal((await ledger(core)).length, 1, "one replacement in the ledger");
  assert.equal((await stop(second)).code, 0);
  await Deno.remove(dir, { recursive: true });
});
