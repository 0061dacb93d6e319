// A Node whose node-heal.io/alerts held a value nobody foresaw (`{"x":null}`: an attacker's, or a
// person's typo) made every reconcile of it throw. At f829b6f that throw, in the sweep, the watch
// or the on-leading hook, was a rejection nobody handled, and the process ended: the leader within
// a sweep, then each replica that took over. Two fixes, each proved here: that value no longer
// throws (it fails its schema and is told, decide/admission.ts), and a reconcile that throws all
// the same (a Node poisoned in the index, below) is a background task of its own: the throw is
// logged and counted, the other Nodes are still looked at, and the process answers.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import type { Metrics } from "../../../lib/report/metrics.ts";
import type { Node } from "../../../lib/base/node.ts";
import { backgroundErrors } from "../../support/logs.ts";
import {
  leads,
  notification,
  type ServiceFixture,
  waitFor,
  withService,
} from "../../support/helpers.ts";
import { readyReplica, startServe, stop, watched } from "../../support/processes.ts";

const HOSTILE = { "node-heal.io/alerts": '{"x":null}' };

/** A Node whose every read of its annotations throws: what no schema can keep from a reconcile. */
function poisoned(name: string): Node {
  return {
    metadata: {
      name,
      get annotations(): Record<string, string> {
        throw new TypeError("Cannot read properties of null (reading 'seen')");
      },
    },
    spec: { unschedulable: true },
  } as Node;
}

/** Makes the service's index hand out `name` poisoned, as a hostile value once made it. */
function poison(f: ServiceFixture, name: string): void {
  const index = f.service.index;
  const get = index.get.bind(index);
  const nodes = index.nodes.bind(index);
  index.get = (n: string) => n === name ? poisoned(name) : get(n);
  index.nodes = function* () {
    for (const n of nodes()) yield n.metadata.name === name ? poisoned(name) : n;
  } as typeof index.nodes;
}
const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

async function annotate(core: k8s.CoreV1Api, name: string, annotations: Record<string, string>) {
  await core.patchNode({ name, body: { metadata: { annotations } } }, merge);
}

async function ok(url: string): Promise<boolean> {
  const res = await fetch(url);
  await res.body?.cancel();
  return res.ok;
}

async function unschedulable(f: ServiceFixture, node: string): Promise<boolean> {
  return (await f.core.readNode({ name: node })).spec?.unschedulable === true;
}

async function watchErrors(metrics: Metrics): Promise<number> {
  return (await metrics.watchErrors.get()).values[0]?.value ?? 0;
}

Deno.test("a Node whose reconcile throws fails alone: the sweep still lets another Node's hold expire, and node-heal answers", async () => {
  await using f = await withService({ holdTtlMs: 1500 });
  const { metrics } = f.service;
  // heal-worker2 is cordoned for an alert that then stops firing: its hold expires in 1.5 s.
  const fired = await f.post(notification("firing", [{
    labels: { alertname: "NodeHighCPU", heal: "true", instance: "172.18.0.4:9100" },
    fingerprint: "expires",
  }]));
  assert.equal(fired.status, 200);
  await fired.body?.cancel();
  assert.equal(await unschedulable(f, "heal-worker2"), true);
  // heal-worker, listed before it, throws at every look.
  poison(f, "heal-worker");
  await waitFor(
    "a reconcile's failure counted",
    async () => await backgroundErrors(metrics, "reconcile") >= 2,
  );
  await waitFor(
    "the other Node's expired hold released by the sweep",
    async () => !(await unschedulable(f, "heal-worker2")),
    10_000,
  );
  // The watch's handlers see the hostile Node change again and again, and stay healthy.
  for (let i = 0; i < 5; i++) {
    await f.core.patchNode({
      name: "heal-worker",
      body: { metadata: { labels: { "example.com/touch": `${i}` } } },
    }, merge);
  }
  await waitFor(
    "the last change indexed",
    async () =>
      (await f.core.readNode({ name: "heal-worker" })).metadata?.labels?.["example.com/touch"] ===
        "4",
  );
  assert.ok(await ok(`${f.service.url}/healthz`));
  assert.ok(await ok(`${f.service.url}/readyz`));
  assert.equal(await watchErrors(metrics), 0);
  assert.equal(await backgroundErrors(metrics, "node-watch"), 0);
  assert.equal(await backgroundErrors(metrics, "sweep"), 0);
});

Deno.test('a replica that starts leading over a Node annotated node-heal.io/alerts={"x":null} leads on: the value is told, nothing throws', async () => {
  await using cluster = await startEmbeddedCluster({ workers: 2 });
  const kc = new k8s.KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  await annotate(kc.makeApiClient(k8s.CoreV1Api), "heal-worker", HOSTILE);
  await using f = await withService({
    cluster,
    election: { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 100 },
  });
  const untrusted = async () =>
    (await f.service.metrics.untrustedState.get()).values.reduce((n, v) => n + v.value, 0);
  await waitFor("the value told", async () => await untrusted() >= 1);
  // Still leading a few renewals later, and answering; nothing failed in the background.
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(await leads(f.service.url));
  assert.ok(await ok(`${f.service.url}/healthz`));
  assert.equal(await backgroundErrors(f.service.metrics, "reconcile"), 0);
  assert.equal(await backgroundErrors(f.service.metrics, "leading"), 0);
});

/** The value of a sample in a Prometheus text exposition, 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

Deno.test('main.ts serve keeps running and answering over a Node annotated node-heal.io/alerts={"x":null}, for sweep after sweep', async () => {
  await using cluster = await startEmbeddedCluster({ workers: 2 });
  const kc = new k8s.KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  await annotate(kc.makeApiClient(k8s.CoreV1Api), "heal-worker", HOSTILE);
  const dir = await Deno.makeTempDir({ prefix: "node-heal-background-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  // A sweep every 250 ms.
  const p = watched(
    startServe(["--listen=127.0.0.1:0", `--kubeconfig=${dir}/kubeconfig`, "--hold-ttl=2s"]),
  );
  try {
    const url = await readyReplica(p);
    const metric = async (series: string) =>
      sample(await (await fetch(`${url}/metrics`)).text(), series);
    // The process ended at the first sweep (f829b6f); the value is told, and sweeps go on.
    await waitFor(
      "the value told",
      async () =>
        await metric('nodeheal_untrusted_state_total{kind="node-state",reason="unsealed"}') >= 1,
      15_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await metric('nodeheal_background_errors_total{task="reconcile"}'), 0);
    for (let i = 0; i < 5; i++) {
      assert.ok(await ok(`${url}/healthz`), "alive");
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await metric('nodeheal_unhandled_errors_total{kind="rejection"}'), 0);
    assert.equal(await metric('nodeheal_unhandled_errors_total{kind="error"}'), 0);
  } finally {
    // stop() fails the test if the process logged an unhandled rejection or error.
    const { code, stderr } = await stop(p);
    assert.equal(code, 0, stderr);
    await Deno.remove(dir, { recursive: true });
  }
});
