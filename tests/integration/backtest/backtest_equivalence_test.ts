// The backtest decides as the service does: one scripted sequence of Alertmanager notifications
// goes to `deno task dev` (dev mode's entry point, a real process, its embedded cluster), and the
// same notifications, at the times they were sent, go through the backtest's replay against the
// cluster as it was before (read through the kubeconfig, as `--nodes cluster` reads it). Every
// alert's decision (node, action or gate) is the same, and so is the set of cordoned Nodes after.
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { alertmanagerFingerprint } from "../../../lib/backtest/history.ts";
import { nodesFromKubeconfig } from "../../../lib/backtest/cluster_source.ts";
import { replay } from "../../../lib/backtest/replay.ts";
import { loadPolicy } from "../../../lib/service/config.ts";
import { parseNotification } from "../../../lib/intake/alertmanager.ts";
import { isCordoned } from "../../../lib/base/node.ts";
import { notification, waitFor } from "../../support/helpers.ts";
import { readyReplica, startDev, stop } from "../../support/processes.ts";

const POLICY = `cluster: { cluster: prod }
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon]
gates:
  minHealthy: "50%"
  rate: { max: 4, window: 1h }
  cooldown: 10m
`;

/** An alert of manifests/alert-rule.yaml's kind on the node at `ip`, from cluster prod's Prometheus. */
function alert(alertname: string, ip: string, cluster = "prod") {
  const labels = {
    alertname,
    cluster,
    heal: "true",
    heal_action: "cordon",
    instance: `${ip}:9100`,
    job: "node-exporter",
    namespace: "monitoring",
    severity: "warning",
  };
  return { labels, fingerprint: alertmanagerFingerprint(labels) };
}

// heal-control-plane is 172.18.0.2; heal-worker 172.18.0.3, heal-worker2 .4, ... heal-worker7 .9.
const cpu1 = alert("NodeHighCPU", "172.18.0.3");
const cpuCp = alert("NodeHighCPU", "172.18.0.2");
const memory = [4, 5, 6, 7, 8].map((i) => alert("NodeMemoryPressure", `172.18.0.${i}`));
const unknown = alert("NodeHighCPU", "10.9.9.9");
// Staging's heal-worker2, and a host of another cluster whose first label is heal-worker's name.
const staging = alert("NodeHighCPU", "172.18.0.4", "staging");
const nearName = alert("NodeHighCPU", "heal-worker.other-cluster.example");
const disk1 = alert("NodeFilesystemAlmostFull", "172.18.0.3");
const cpu7 = alert("NodeHighCPU", "172.18.0.9");

/** The script: each notification as Alertmanager would post it, in order. */
const SCRIPT: Record<string, unknown>[] = [
  notification("firing", [cpu1]),
  notification("firing", [cpuCp]),
  notification("firing", memory),
  notification("firing", [cpu1]),
  notification("firing", [unknown]),
  notification("firing", [staging, nearName]),
  notification("firing", [cpu7]),
  notification("resolved", [cpu1]),
  notification("firing", [disk1]),
  notification("firing", [memory[2]]),
  notification("firing", [memory[3]]),
  notification("resolved", memory),
  notification("firing", [memory[4]]),
];

Deno.test("the backtest makes the decisions the running service made, alert by alert, from the same notifications", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-equivalence-" });
  await Deno.writeTextFile(`${dir}/policy.yaml`, POLICY);
  const dev = startDev([
    "--embedded-workers=7",
    `--embedded-kubeconfig-out=${dir}/kubeconfig`,
    `--config=${dir}/policy.yaml`,
  ]);
  try {
    const url = await readyReplica(dev);
    // Someone cordons heal-worker7 by hand: node-heal must leave it alone, in both.
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(`${dir}/kubeconfig`);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.patchNode(
      { name: "heal-worker7", body: { spec: { unschedulable: true } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
    );
    await waitFor(
      "the hand cordon",
      async () => (await core.readNode({ name: "heal-worker7" })).spec?.unschedulable === true,
    );
    // The cluster before the script, as `--nodes cluster` reads it.
    const before = await nodesFromKubeconfig(`${dir}/kubeconfig`);

    // The service.
    const sentAt: Date[] = [];
    const served: string[] = [];
    for (const body of SCRIPT) {
      sentAt.push(new Date());
      const res = await fetch(`${url}/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 200);
      const answer = await res.json() as {
        alerts: { node?: string; outcome: string; gate?: string }[];
      };
      served.push(...answer.alerts.map((a) => `${a.node ?? ""} ${a.gate ?? a.outcome}`));
    }
    const cordonedAfter = (await core.listNode()).items
      .filter((n) => n.spec?.unschedulable === true)
      .map((n) => n.metadata!.name!)
      .sort();

    // The backtest, from the same notifications at the times they were sent.
    const deliveries = await Promise.all(
      SCRIPT.map(async (body, i) => ({
        at: sentAt[i],
        notification: await parseNotification(body),
      })),
    );
    const result = replay(deliveries, {
      policy: loadPolicy(`${dir}/policy.yaml`),
      nodes: before,
      from: sentAt[0],
      to: new Date(),
      drainMs: 60_000,
      replaceMs: 60_000,
    });
    const replayed = result.decisions
      .filter((d) => d.trigger === "alert")
      .map((d) => `${d.node} ${d.gate ?? d.outcome}`);

    assert.deepEqual(replayed, served);
    assert.deepEqual(
      result.nodes.filter(isCordoned).map((n) => n.metadata.name).sort(),
      cordonedAfter,
    );
    // The script is worth comparing: it meets every kind of decision.
    const kinds = new Set(served.map((s) => s.split(" ")[1]));
    for (
      const k of [
        "cordon",
        "uncordon",
        "protected",
        "minHealthy",
        "cooldown",
        "duplicate",
        "notOurs",
        "unresolved",
        "notHeld",
        "cluster",
      ]
    ) {
      assert.ok(kinds.has(k), `the script never met ${k}: ${[...kinds].join(", ")}`);
    }
  } finally {
    await stop(dev);
    await Deno.remove(dir, { recursive: true });
  }
});

const ROOT = new URL("../../../", import.meta.url).pathname;

Deno.test("the backtest decides the zone walkthrough as the running service did: the domain gates alert by alert, the same breaker opened", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-equivalence-zones-" });
  const policyFile = `${ROOT}docs/examples/breaker.yaml`;
  const dev = startDev([
    "--embedded-workers=9",
    `--embedded-kubeconfig-out=${dir}/kubeconfig`,
    `--config=${policyFile}`,
  ]);
  try {
    const url = await readyReplica(dev);
    const before = await nodesFromKubeconfig(`${dir}/kubeconfig`);
    const fixture = (name: string) => Deno.readTextFile(`${ROOT}tests/fixtures/${name}`);
    // The walkthrough (docs/policy.md): another zone's worker, the storm, its release, the storm again.
    const script = [
      await fixture("alertmanager-0.25-firing.json"),
      await fixture("zone-storm-firing.json"),
      await fixture("alertmanager-0.25-resolved.json"),
      await fixture("zone-storm-firing.json"),
    ];
    const sentAt: Date[] = [];
    const served: string[] = [];
    for (const body of script) {
      sentAt.push(new Date());
      const res = await fetch(`${url}/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      assert.equal(res.status, 200);
      const answer = await res.json() as {
        alerts: { node?: string; outcome: string; gate?: string }[];
      };
      served.push(...answer.alerts.map((a) => `${a.node ?? ""} ${a.gate ?? a.outcome}`));
      // Each step as the walkthrough takes it: the service's drains have time to run.
      await new Promise((r) => setTimeout(r, 1500));
    }
    const status = await (await fetch(`${url}/status`)).json();

    const deliveries = await Promise.all(script.map(async (body, i) => ({
      at: sentAt[i],
      notification: await parseNotification(JSON.parse(body)),
    })));
    const result = replay(deliveries, {
      policy: loadPolicy(policyFile),
      nodes: before,
      from: sentAt[0],
      to: new Date(),
      drainMs: 1000,
      replaceMs: 60_000,
    });
    const replayed = result.decisions.filter((d) => d.trigger === "alert")
      .map((d) => `${d.node} ${d.gate ?? d.outcome}`);
    assert.deepEqual(replayed, served);
    // It meets both domain gates, and a cordon under an open breaker.
    assert.ok(served.includes("heal-worker3 cordon"), served.join("\n"));
    assert.ok(served.filter((s) => s.endsWith(" domain")).length >= 6, served.join("\n"));
    // The same breaker opened, by the same nodes, in both.
    assert.deepEqual(
      status.breakers.map((b: { domain: string; count: number }) => [b.domain, b.count]),
      result.breakers.map((b) => [b.domain, b.count]),
    );
    assert.deepEqual(status.breakers.map((b: { domain: string }) => b.domain), ["zone us-east-1a"]);
  } finally {
    await stop(dev);
    await Deno.remove(dir, { recursive: true });
  }
});
