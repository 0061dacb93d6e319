// Drains and the escalation ladder through real interfaces: notifications over HTTP, evictions
// through the embedded cluster's Eviction API, state read back with the real client library.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { DEFAULT_DRAIN, planDrain } from "../../../lib/decide/drain_plan.ts";
import type { Pod } from "../../../lib/base/pod.ts";
import {
  KUBECTL,
  kubectlVersion,
  notification,
  type ServiceFixture,
  waitFor,
  withService,
} from "../../support/helpers.ts";

const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
const IPS: Record<string, string> = {
  "heal-worker": "172.18.0.3",
  "heal-worker2": "172.18.0.4",
  "heal-worker3": "172.18.0.5",
};

function drainAlert(node: string, status: "firing" | "resolved" = "firing") {
  return notification(status, [{
    labels: {
      alertname: "NodeDiskFull",
      heal: "true",
      heal_action: "drain",
      instance: `${IPS[node]}:9100`,
    },
    fingerprint: `drain-${node}`,
  }]);
}

async function podsOn(f: { core: k8s.CoreV1Api }, node: string): Promise<string[]> {
  const list = await f.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
  return list.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).sort();
}

async function annotations(f: ServiceFixture, node: string): Promise<Record<string, string>> {
  return (await f.core.readNode({ name: node })).metadata?.annotations ?? {};
}

async function events(f: ServiceFixture, node: string): Promise<string[]> {
  const list = await f.core.listEventForAllNamespaces({
    fieldSelector: `involvedObject.name=${node}`,
  });
  return list.items.map((e) => `${e.reason}: ${e.message}`);
}

function evictions(f: ServiceFixture): Map<string, number> {
  const count = new Map<string, number>();
  for (const r of f.cluster.api.traffic.requests) {
    if (r.subresource === "eviction" && r.code === 201) {
      count.set(r.name, (count.get(r.name) ?? 0) + 1);
    }
  }
  return count;
}

/** A PodDisruptionBudget over the `web` Deployment's pods; returns the policy client. */
/** An embedded cluster that outlives the node-heal processes of a test, and its kubeconfig file. */
async function lastingCluster() {
  const cluster = await startEmbeddedCluster();
  const dir = await Deno.makeTempDir({ prefix: "node-heal-drain-" });
  const kubeconfig = `${dir}/kubeconfig`;
  await Deno.writeTextFile(kubeconfig, cluster.kubeconfig());
  const kc = new k8s.KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  return {
    cluster,
    kubeconfig,
    kc,
    async [Symbol.asyncDispose]() {
      await cluster.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function webBudget(kc: k8s.KubeConfig, minAvailable: number): Promise<k8s.PolicyV1Api> {
  const policy = kc.makeApiClient(k8s.PolicyV1Api);
  await policy.createNamespacedPodDisruptionBudget({
    namespace: "default",
    body: {
      metadata: { name: "web" },
      spec: { minAvailable, selector: { matchLabels: { app: "web" } } },
    },
  });
  return policy;
}

function pod(
  name: string,
  extra: Partial<Pod["metadata"]> = {},
  spec: Pod["spec"] = {},
  phase = "Running",
): Pod {
  return { metadata: { name, namespace: "default", ...extra }, spec, status: { phase } };
}

Deno.test("planDrain() sorts pods as kubectl drain --ignore-daemonsets --delete-emptydir-data does", () => {
  const rs = { kind: "ReplicaSet", name: "web-1", controller: true };
  const ds = { kind: "DaemonSet", name: "proxy", controller: true };
  const pods = [
    pod("web", { ownerReferences: [rs] }),
    pod("proxy-a", { ownerReferences: [ds] }),
    pod("orphan-ds", { ownerReferences: [{ kind: "DaemonSet", name: "gone", controller: true }] }),
    pod("etcd", { annotations: { "kubernetes.io/config.mirror": "x" } }),
    pod("cache", { ownerReferences: [rs] }, { volumes: [{ name: "s", emptyDir: {} }] }),
    pod("standalone"),
    pod("done", {}, {}, "Succeeded"),
    pod("precious", {
      ownerReferences: [rs],
      annotations: { "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" },
    }),
  ];
  const plan = planDrain(pods, DEFAULT_DRAIN, new Set(["default/proxy"]));
  assert.deepEqual(plan.evict.map((p) => p.metadata.name).sort(), ["cache", "done", "web"]);
  assert.deepEqual(plan.skip.map((s) => s.pod).sort(), ["default/etcd", "default/proxy-a"]);
  assert.deepEqual(plan.refuse.map((r) => r.pod).sort(), [
    "default/orphan-ds",
    "default/precious",
    "default/standalone",
  ]);
  const forced = planDrain(
    pods,
    { ...DEFAULT_DRAIN, evictStandalone: true, evictUnsafe: true },
    new Set(["default/proxy"]),
  );
  assert.deepEqual(forced.refuse, []);
  const keepData = planDrain([pods[4]], { ...DEFAULT_DRAIN, deleteEmptyDirData: false }, new Set());
  assert.match(keepData.refuse[0].why, /emptyDir/);
});

Deno.test(
  "heal_action=drain empties heal-worker but for its DaemonSet and mirror pods, and records each step",
  async () => {
    await using f = await withService();
    // A static pod's mirror on the worker, as kubelet would create it.
    await f.core.createNamespacedPod({
      namespace: "kube-system",
      body: {
        metadata: {
          name: "node-problem-detector-heal-worker",
          annotations: {
            "kubernetes.io/config.mirror": "abc",
            "kubernetes.io/config.source": "file",
          },
          ownerReferences: [{
            apiVersion: "v1",
            kind: "Node",
            name: "heal-worker",
            uid: "heal-worker",
            controller: true,
          }],
        },
        spec: { nodeName: "heal-worker", containers: [{ name: "npd", image: "npd:1" }] },
        status: { phase: "Running" },
      },
    });
    const res = await f.post(drainAlert("heal-worker"));
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await waitFor(
      "the drain to finish",
      async () => (await annotations(f, "heal-worker"))["node-heal.io/step"] === "drained",
    );
    const left = await podsOn(f, "heal-worker");
    assert.equal(left.length, 2);
    assert.match(left[0], /^kube-system\/kube-proxy-/);
    assert.equal(left[1], "kube-system/node-problem-detector-heal-worker");
    assert.equal((await f.core.readNode({ name: "heal-worker" })).spec?.unschedulable, true);
    await waitFor(
      "the Events",
      async () => (await events(f, "heal-worker")).some((e) => e.startsWith("NodeHealDrained")),
    );
    const reasons = (await events(f, "heal-worker")).map((e) => e.split(":")[0]).sort();
    assert.deepEqual(reasons, ["NodeHealCordoned", "NodeHealDrainStarted", "NodeHealDrained"]);
    const metrics = await (await fetch(`${f.service.url}/metrics`)).text();
    assert.match(metrics, /nodeheal_evictions_total\{result="evicted"\} 1/);
    assert.match(metrics, /nodeheal_drain_duration_seconds_count\{outcome="drained"\} 1/);

    // Resolution uncordons a drained node (uncordonAfterDrain defaults to true).
    const resolved = await f.post(drainAlert("heal-worker", "resolved"));
    assert.equal((await resolved.json()).alerts[0].outcome, "uncordon");
    assert.equal((await f.core.readNode({ name: "heal-worker" })).spec?.unschedulable, undefined);
  },
);

Deno.test(
  "on heal-worker3 the default rule refuses the standalone pod, evicts nothing, and says so",
  async () => {
    await using f = await withService();
    const before = await podsOn(f, "heal-worker3");
    await (await f.post(drainAlert("heal-worker3"))).body?.cancel();
    await waitFor(
      "the drain to fail",
      async () => (await annotations(f, "heal-worker3"))["node-heal.io/step"] === "drain-failed",
    );
    assert.deepEqual(await podsOn(f, "heal-worker3"), before);
    assert.equal(
      (await f.core.readNode({ name: "heal-worker3" })).spec?.unschedulable,
      true,
      "it stays cordoned",
    );
    await waitFor(
      "the Event",
      async () =>
        (await events(f, "heal-worker3")).some((e) => e.startsWith("NodeHealDrainFailed")),
    );
    const failed = (await events(f, "heal-worker3")).find((e) =>
      e.startsWith("NodeHealDrainFailed")
    )!;
    assert.match(failed, /default\/standalone \(no controller would recreate it\)/);
    assert.match(failed, /nothing was evicted/);
  },
);

Deno.test(
  "a PodDisruptionBudget with no disruption allowed blocks the drain until its timeout, then NodeHealDrainFailed names the pod and budget",
  async () => {
    await using f = await withService({
      policy: parsePolicy(
        "rules: [{ name: heal, match: ['heal=\"true\"'], actions: [cordon, drain], drain: { timeout: 1s } }]",
      ),
    });
    await webBudget(f.kc, 3);
    await (await f.post(drainAlert("heal-worker"))).body?.cancel();
    await waitFor(
      "the drain to fail",
      async () => (await annotations(f, "heal-worker"))["node-heal.io/step"] === "drain-failed",
      10_000,
    );
    await waitFor(
      "the Event",
      async () => (await events(f, "heal-worker")).some((e) => e.startsWith("NodeHealDrainFailed")),
    );
    const failed = (await events(f, "heal-worker")).find((e) =>
      e.startsWith("NodeHealDrainFailed")
    )!;
    assert.match(
      failed,
      /default\/web-\S+ \(The disruption budget web needs 3 healthy pods and has 3 currently\)/,
    );
    assert.match(failed, /within 1s/);
    assert.equal((await f.core.readNode({ name: "heal-worker" })).spec?.unschedulable, true);
    assert.equal((await podsOn(f, "heal-worker")).length, 2, "nothing was force-deleted");
    const status = await (await fetch(`${f.service.url}/status`)).json();
    assert.equal(
      status.nodes.find((n: { node: string }) => n.node === "heal-worker").step,
      "drain-failed",
    );
  },
);

Deno.test("when the budget allows, the drain completes", async () => {
  await using f = await withService();
  await webBudget(f.kc, 2);
  await (await f.post(drainAlert("heal-worker"))).body?.cancel();
  await waitFor(
    "the drain to finish",
    async () => (await annotations(f, "heal-worker"))["node-heal.io/step"] === "drained",
  );
  assert.equal((await podsOn(f, "heal-worker")).length, 1);
});

Deno.test(
  "a node-heal killed mid-drain and started again completes the same drain without evicting twice",
  async () => {
    await using lasting = await lastingCluster();
    const { cluster, kubeconfig, kc: core } = lasting;
    const pdb = await webBudget(core, 3);
    {
      await using first = await withService({ kubeconfig, cluster });
      await (await first.post(drainAlert("heal-worker"))).body?.cancel();
      await waitFor(
        "the drain to start and be blocked",
        async () =>
          (await annotations(first, "heal-worker"))["node-heal.io/step"] === "draining" &&
          first.cluster.api.traffic.requests.some((r) =>
            r.subresource === "eviction" && r.code === 429
          ),
      );
    }
    // The first process is gone mid-drain; the claim stays. Now the budget allows it.
    assert.equal(
      (await core.makeApiClient(k8s.CoreV1Api).readNode({ name: "heal-worker" })).metadata
        ?.annotations?.["node-heal.io/step"],
      "draining",
    );
    await pdb.patchNamespacedPodDisruptionBudget({
      name: "web",
      namespace: "default",
      body: { spec: { minAvailable: 2 } },
    }, merge);
    cluster.api.traffic.reset();
    await using second = await withService({ kubeconfig, cluster });
    await waitFor(
      "the resumed drain to finish",
      async () => (await annotations(second, "heal-worker"))["node-heal.io/step"] === "drained",
    );
    assert.equal((await podsOn(second, "heal-worker")).length, 1);
    const counts = evictions(second);
    assert.equal(counts.size, 1);
    assert.ok(
      [...counts.values()].every((n) => n === 1),
      "every pod evicted once",
    );
  },
);

Deno.test(
  "a resumed drain's Event and metric count the pods evicted before the restart too",
  async () => {
    await using lasting = await lastingCluster();
    const { cluster, kubeconfig, kc } = lasting;
    const core = kc.makeApiClient(k8s.CoreV1Api);
    // Six batch pods on heal-worker3 under a budget that lets the first process evict only some.
    for (let i = 0; i < 6; i++) {
      await core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: { name: `batch-${i}`, labels: { app: "batch" } },
          spec: { nodeName: "heal-worker3", containers: [{ name: "c", image: "busybox" }] },
          status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
        },
      });
    }
    const policy = kc.makeApiClient(k8s.PolicyV1Api);
    await policy.createNamespacedPodDisruptionBudget({
      namespace: "default",
      body: {
        metadata: { name: "batch" },
        spec: { minAvailable: 3, selector: { matchLabels: { app: "batch" } } },
      },
    });
    const evictAll = parsePolicy(
      "rules: [{ name: heal, match: ['heal=\"true\"'], actions: [drain], drain: { evictStandalone: true } }]\nacknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }",
    );
    let before = 0;
    {
      await using first = await withService({ kubeconfig, cluster, policy: evictAll });
      await (await first.post(drainAlert("heal-worker3"))).body?.cancel();
      before = await waitFor("some pods evicted, the rest blocked", async () => {
        const a = await annotations(first, "heal-worker3");
        const blocked = first.cluster.api.traffic.requests.some((r) =>
          r.subresource === "eviction" && r.code === 429
        );
        const evicted = Number(a["node-heal.io/drain-evicted"] ?? 0);
        return blocked && evicted >= 3 ? evicted : undefined;
      });
    }
    await policy.patchNamespacedPodDisruptionBudget({
      name: "batch",
      namespace: "default",
      body: { spec: { minAvailable: 0 } },
    }, merge);
    await using second = await withService({ kubeconfig, cluster, policy: evictAll });
    await waitFor(
      "the resumed drain to finish",
      async () => (await annotations(second, "heal-worker3"))["node-heal.io/step"] === "drained",
    );
    const total = [...evictions(second).values()].reduce((a, b) => a + b, 0);
    assert.ok(total > before, "the second process evicted the rest");
    const drained = await waitFor(
      "NodeHealDrained",
      async () =>
        (await events(second, "heal-worker3")).find((e) => e.startsWith("NodeHealDrained")),
    );
    assert.match(drained, new RegExp(`evicted ${total} pods: ${before} before it was resumed`));
    assert.equal(
      (await annotations(second, "heal-worker3"))["node-heal.io/drain-evicted"],
      String(total),
    );
    const metrics = await (await fetch(`${second.service.url}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(`nodeheal_drain_evicted_pods_sum\\{outcome="drained"\\} ${total}\\b`),
    );
  },
);

const KUBECTL_VERSION = await kubectlVersion();

Deno.test({
  name:
    "node-heal's drain leaves the same pods as kubectl drain --ignore-daemonsets --delete-emptydir-data on an identical cluster",
  ignore: !KUBECTL_VERSION,
  fn: async () => {
    await using f = await withService({
      policy: parsePolicy("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }"),
    });
    await using twin = await startEmbeddedCluster();
    const dir = await Deno.makeTempDir({ prefix: "node-heal-twin-" });
    await Deno.writeTextFile(`${dir}/kubeconfig`, twin.kubeconfig());
    const kubectl = (...args: string[]) =>
      new Deno.Command(KUBECTL, {
        args: ["--kubeconfig", `${dir}/kubeconfig`, "--cache-dir", `${dir}/cache`, ...args],
        stdout: "piped",
        stderr: "piped",
        env: { HOME: dir },
      }).output();
    const twinKc = new k8s.KubeConfig();
    twinKc.loadFromString(twin.kubeconfig());
    const twinCore = { core: twinKc.makeApiClient(k8s.CoreV1Api) };
    for (const node of ["heal-worker", "heal-worker3"]) {
      await (await f.post(drainAlert(node))).body?.cancel();
      await waitFor(
        `node-heal's drain of ${node}`,
        async () =>
          ["drained", "drain-failed"].includes((await annotations(f, node))["node-heal.io/step"]),
      );
      await kubectl(
        "drain",
        node,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=20s",
      );
      assert.deepEqual(
        await podsOn(f, node),
        await podsOn(twinCore, node),
        `the pods left on ${node}`,
      );
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test(
  "the ladder: cordon first, drain after drainAfter if the alert still fires; resolved before that, just uncordon",
  async () => {
    await using f = await withService({
      policy: parsePolicy(
        "rules: [{ name: heal, match: ['heal=\"true\"'], actions: [drain], drainAfter: 1s }]\nacknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }",
      ),
    });
    await (await f.post(drainAlert("heal-worker"))).body?.cancel();
    assert.equal((await annotations(f, "heal-worker"))["node-heal.io/step"], "cordoned");
    assert.equal((await podsOn(f, "heal-worker")).length, 2, "no drain before drainAfter");
    await waitFor(
      "the drain after drainAfter",
      async () => (await annotations(f, "heal-worker"))["node-heal.io/step"] === "drained",
      10_000,
    );

    await (await f.post(drainAlert("heal-worker2"))).body?.cancel();
    const resolved = await f.post(drainAlert("heal-worker2", "resolved"));
    assert.equal((await resolved.json()).alerts[0].outcome, "uncordon");
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(
      (await podsOn(f, "heal-worker2")).length,
      2,
      "a resolved alert's drain never starts",
    );
    assert.equal((await f.core.readNode({ name: "heal-worker2" })).spec?.unschedulable, undefined);
  },
);

Deno.test("maxConcurrent holds a second drain until the first ends", async () => {
  await using f = await withService({
    policy: parsePolicy(
      "rules: [{ name: heal, match: ['heal=\"true\"'], actions: [drain], drain: { timeout: 2s } }]\nacknowledge: [minHealthyZero]\ngates: { minHealthy: 0, maxConcurrent: 1 }",
    ),
  });
  await webBudget(f.kc, 3);
  await (await f.post(drainAlert("heal-worker"))).body?.cancel();
  await waitFor(
    "the first drain",
    async () => (await annotations(f, "heal-worker"))["node-heal.io/step"] === "draining",
  );
  await (await f.post(drainAlert("heal-worker2"))).body?.cancel();
  await waitFor(
    "the maxConcurrent Event",
    async () => (await events(f, "heal-worker2")).some((e) => /gate maxConcurrent/.test(e)),
  );
  assert.equal((await annotations(f, "heal-worker2"))["node-heal.io/step"], "cordoned");
});

Deno.test("a drain waits for evicted pods to finish terminating", async () => {
  // Pods take their grace period (30 s) times 0.02 to go: 0.6 s.
  await using g = await startEmbeddedCluster({ podGraceScale: 0.02 });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-grace-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, g.kubeconfig());
  await using svc = await withService({ kubeconfig: `${dir}/kubeconfig`, cluster: g });
  await (await svc.post(drainAlert("heal-worker"))).body?.cancel();
  await waitFor("a Terminating pod", async () => {
    const list = await svc.core.listPodForAllNamespaces({
      fieldSelector: "spec.nodeName=heal-worker",
    });
    return list.items.some((p) => p.metadata?.deletionTimestamp);
  });
  assert.equal((await annotations(svc, "heal-worker"))["node-heal.io/step"], "draining");
  await waitFor(
    "the drain to finish",
    async () => (await annotations(svc, "heal-worker"))["node-heal.io/step"] === "drained",
  );
  assert.equal((await podsOn(svc, "heal-worker")).length, 1);
  await Deno.remove(dir, { recursive: true });
});
