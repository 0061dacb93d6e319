// Alert labels come from every target Prometheus scrapes and every cluster an Alertmanager serves:
// over HTTP to node-heal on the embedded cluster, an alert that names no Node exactly, or that
// says it is another cluster's, changes nothing; the Nodes are read back with the client library.
import assert from "node:assert/strict";
import firing from "../../fixtures/alertmanager-0.25-firing.json" with { type: "json" };
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { notification, type ServiceFixture, withService } from "../../support/helpers.ts";

/** Each Node's name, resourceVersion, cordon and node-heal annotations, as the API serves them. */
async function nodesNow(f: ServiceFixture): Promise<string[]> {
  const list = await f.core.listNode();
  return list.items.map((n) => {
    const own = Object.keys(n.metadata?.annotations ?? {}).filter((k) =>
      k.startsWith("node-heal.io/")
    );
    return `${n.metadata?.name} rv=${n.metadata?.resourceVersion} unschedulable=${
      n.spec?.unschedulable === true
    } ${own.join(",")}`;
  }).sort();
}

/** The requests of the embedded cluster since its record was last reset, but reads. */
function writes(f: ServiceFixture): string[] {
  return f.cluster.api.traffic.requests
    .filter((r) => !["get", "list", "watch"].includes(r.verb))
    .map((r) => `${r.verb} ${r.resource}`);
}

/** The values of issue 26 that each acted on a Node of the dev cluster by a near match. */
const HOSTILE: Record<string, string>[] = [
  { instance: "heal-worker.other-cluster.example:9100" },
  { node: "heal-worker.staging" },
  { instance: "HEAL-WORKER3.EVIL.EXAMPLE:9100" },
  { instance: "heal-worker..evil" },
  { node: "heal-wor\u212Aer" },
];

Deno.test(
  "alerts that name no Node exactly are answered 200, unresolved, and no Node is written",
  async () => {
    await using f = await withService();
    const before = await nodesNow(f);
    f.cluster.api.traffic.reset();
    for (const [i, labels] of HOSTILE.entries()) {
      const res = await f.post(
        notification("firing", [{
          labels: { alertname: "NodeHighCPU", heal: "true", ...labels },
          fingerprint: `hostile-${i}`,
        }]),
      );
      assert.equal(res.status, 200, JSON.stringify(labels));
      const [alert] = (await res.json()).alerts;
      assert.equal(alert.outcome, "unresolved", JSON.stringify(labels));
      assert.equal(alert.node, undefined, JSON.stringify(labels));
    }
    assert.deepEqual(writes(f), [], "no write, no Event");
    assert.deepEqual(await nodesNow(f), before, "every Node as it was");
    const metrics = await (await fetch(`${f.service.url}/metrics`)).text();
    assert.match(metrics, /nodeheal_alerts_total\{outcome="unresolved"\} 5/);

    // README's fixture still names heal-worker by its InternalIP, and cordons it.
    const res = await f.post(firing);
    assert.equal((await res.json()).alerts[0].node, "heal-worker");
    assert.equal((await f.core.readNode({ name: "heal-worker" })).spec?.unschedulable, true);
  },
);

/** A NodeHighCPU alert on heal-worker (172.18.0.3), labelled with a cluster when given. */
function cpuAlert(cluster?: string) {
  return {
    labels: {
      alertname: "NodeHighCPU",
      heal: "true",
      instance: "172.18.0.3:9100",
      ...(cluster ? { cluster } : {}),
    },
    fingerprint: `cpu-${cluster ?? "none"}`,
  };
}

for (
  const [how, options] of [
    ["the policy's cluster:", { policy: parsePolicy("cluster: { cluster: prod }") }],
    ["--cluster-name", { clusterName: "prod" }],
  ] as const
) {
  Deno.test(
    `a node-heal for cluster prod (${how}) changes nothing for staging's alert and cordons for prod's`,
    async () => {
      await using f = await withService(options);
      const before = await nodesNow(f);
      f.cluster.api.traffic.reset();
      for (const cluster of ["staging", undefined]) {
        for (const status of ["firing", "resolved"] as const) {
          const res = await f.post(notification(status, [cpuAlert(cluster)]));
          assert.equal(res.status, 200);
          const [alert] = (await res.json()).alerts;
          assert.deepEqual([alert.outcome, alert.gate, alert.node], [
            "otherCluster",
            "cluster",
            undefined,
          ]);
          assert.match(alert.message, cluster ? /cluster="staging"/ : /has no label cluster/);
        }
      }
      assert.deepEqual(writes(f), [], "no write, no Event");
      assert.deepEqual(await nodesNow(f), before, "every Node as it was");
      const metrics = await (await fetch(`${f.service.url}/metrics`)).text();
      assert.match(metrics, /nodeheal_alerts_total\{outcome="otherCluster"\} 4/);
      const status = await (await fetch(`${f.service.url}/status`)).json();
      assert.deepEqual(status.policy.cluster, { cluster: "prod" });
      assert.equal(status.decisions.at(-1).outcome, "otherCluster");

      const res = await f.post(notification("firing", [cpuAlert("prod")]));
      const [alert] = (await res.json()).alerts;
      assert.deepEqual([alert.outcome, alert.node], ["cordon", "heal-worker"]);
      assert.equal((await f.core.readNode({ name: "heal-worker" })).spec?.unschedulable, true);
    },
  );
}
