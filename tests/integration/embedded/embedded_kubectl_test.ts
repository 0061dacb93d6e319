// The embedded API server held to the real API's behaviour through the real kubectl.
import assert from "node:assert/strict";
import { KUBECTL, kubectlFor, kubectlVersion, withCluster } from "../../support/helpers.ts";

const version = await kubectlVersion();
if (!version) {
  console.warn(
    `SKIPPED kubectl tests: "${KUBECTL}" was not found on PATH (install kubectl or set KUBECTL to run them)`,
  );
}
const opts = { ignore: !version };

/** Parses kubectl's column output into rows of named cells. */
function table(text: string): Record<string, string>[] {
  const lines = text.trimEnd().split("\n");
  const header = lines[0];
  const starts = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => m.index!);
  const names = starts.map((s, i) => header.slice(s, starts[i + 1]).trim());
  return lines.slice(1).map((line) =>
    Object.fromEntries(names.map((n, i) => [n, line.slice(starts[i], starts[i + 1]).trim()]))
  );
}

Deno.test(
  `kubectl ${version ?? ""} get nodes lists the four nodes with status, roles and version`,
  opts,
  async () => {
    await using f = await withCluster();
    await using kubectl = await kubectlFor(f.cluster.kubeconfig());
    const rows = table(await kubectl.run("get", "nodes"));
    assert.deepEqual(rows.map((r) => [r.NAME, r.STATUS, r.ROLES, r.VERSION]), [
      ["heal-control-plane", "Ready", "control-plane", "v1.29.2"],
      ["heal-worker", "Ready", "<none>", "v1.29.2"],
      ["heal-worker2", "Ready", "<none>", "v1.29.2"],
      ["heal-worker3", "Ready", "<none>", "v1.29.2"],
    ]);
    const wide = table(await kubectl.run("get", "nodes", "-o", "wide"));
    assert.deepEqual(wide.map((r) => r["INTERNAL-IP"]), [
      "172.18.0.2",
      "172.18.0.3",
      "172.18.0.4",
      "172.18.0.5",
    ]);
  },
);

Deno.test(
  "kubectl cordon makes a node Ready,SchedulingDisabled and uncordon reverts it",
  opts,
  async () => {
    await using f = await withCluster();
    await using kubectl = await kubectlFor(f.cluster.kubeconfig());
    assert.match(await kubectl.run("cordon", "heal-worker"), /node\/heal-worker cordoned/);
    const status = async () =>
      Object.fromEntries(table(await kubectl.run("get", "nodes")).map((r) => [r.NAME, r.STATUS]));
    assert.equal((await status())["heal-worker"], "Ready,SchedulingDisabled");
    assert.equal((await status())["heal-worker2"], "Ready");
    assert.equal(
      (f.cluster.api.read("Node", "heal-worker")?.spec as { unschedulable?: boolean })
        .unschedulable,
      true,
    );
    const patches = f.cluster.api.traffic.requests.filter((r) => r.verb === "patch");
    assert.equal(patches.length, 1);

    assert.match(await kubectl.run("uncordon", "heal-worker"), /node\/heal-worker uncordoned/);
    assert.equal((await status())["heal-worker"], "Ready");
    assert.equal(
      (f.cluster.api.read("Node", "heal-worker")?.spec as { unschedulable?: boolean })
        .unschedulable,
      undefined,
    );
  },
);

Deno.test("kubectl get pods -A -o wide shows every pod on its node", opts, async () => {
  await using f = await withCluster();
  await using kubectl = await kubectlFor(f.cluster.kubeconfig());
  const rows = table(await kubectl.run("get", "pods", "-A", "-o", "wide"));
  const stored = f.cluster.api.readAll("Pod");
  assert.equal(rows.length, stored.length);
  for (const pod of stored) {
    const row = rows.find((r) => r.NAME === pod.metadata?.name);
    assert.ok(row, `pod ${pod.metadata?.name} is listed`);
    assert.equal(row.NAMESPACE, pod.metadata?.namespace);
    assert.equal(row.NODE, (pod.spec as { nodeName: string }).nodeName);
    assert.equal(row.STATUS, "Running");
    assert.equal(row.READY, "1/1");
  }
  const onThird = rows.filter((r) => r.NODE === "heal-worker3").map((r) => r.NAME);
  assert.ok(onThird.includes("standalone"));
  assert.equal(onThird.length, 4);
});

Deno.test(
  "kubectl get events -A and describe node show an Event recorded on the node",
  opts,
  async () => {
    await using f = await withCluster();
    await using kubectl = await kubectlFor(f.cluster.kubeconfig());
    const now = new Date().toISOString();
    const res = await fetch(`${f.cluster.url}/api/v1/namespaces/default/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        metadata: { name: "heal-worker3.node-heal.1" },
        involvedObject: { kind: "Node", name: "heal-worker3", uid: "heal-worker3" },
        reason: "NodeHealCordoned",
        message: "Cordoned heal-worker3 for alert NodeHighCPU",
        type: "Normal",
        source: { component: "node-heal" },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      }),
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
    const events = table(await kubectl.run("get", "events", "-A"));
    assert.deepEqual(events.map((e) => [e.NAMESPACE, e.TYPE, e.REASON, e.OBJECT, e.MESSAGE]), [
      [
        "default",
        "Normal",
        "NodeHealCordoned",
        "node/heal-worker3",
        "Cordoned heal-worker3 for alert NodeHighCPU",
      ],
    ]);

    const described = await kubectl.run("describe", "node", "heal-worker3");
    assert.match(described, /^Name:\s+heal-worker3$/m);
    assert.match(described, /InternalIP:\s+172\.18\.0\.5/);
    assert.match(described, /Non-terminated Pods:\s+\(4 in total\)/);
    assert.match(described, /default\s+standalone/);
    assert.match(described, /HolderIdentity:\s+heal-worker3/);
    assert.match(
      described,
      /Normal\s+NodeHealCordoned\s+\S+\s+node-heal\s+Cordoned heal-worker3 for alert NodeHighCPU/,
    );
  },
);

Deno.test(
  "kubectl get node NAME prints the server's columns, and delete --dry-run=server deletes nothing",
  opts,
  async () => {
    await using f = await withCluster();
    await using kubectl = await kubectlFor(f.cluster.kubeconfig());
    const rows = table(await kubectl.run("get", "node", "heal-worker3"));
    assert.deepEqual(rows.map((r) => [r.NAME, r.STATUS, r.VERSION]), [[
      "heal-worker3",
      "Ready",
      "v1.29.2",
    ]]);
    assert.match(
      await kubectl.run("delete", "node", "heal-worker2", "--dry-run=server"),
      /deleted \(server dry run\)/,
    );
    assert.ok(f.cluster.api.read("Node", "heal-worker2"), "the node is still there");
    await kubectl.run(
      "drain",
      "heal-worker3",
      "--ignore-daemonsets",
      "--delete-emptydir-data",
      "--force",
      "--dry-run=server",
    );
    assert.equal(
      f.cluster.api.readAll("Pod").filter((p) =>
        (p.spec as { nodeName: string }).nodeName === "heal-worker3"
      ).length,
      4,
    );
  },
);
