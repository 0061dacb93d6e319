// The whole pipeline through real interfaces: Alertmanager payloads over HTTP to node-heal,
// node-heal to the embedded cluster over HTTP, state read back with the real client library.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import firing from "../../fixtures/alertmanager-0.25-firing.json" with { type: "json" };
import resolved from "../../fixtures/alertmanager-0.25-resolved.json" with { type: "json" };
import { notification, type ServiceFixture, waitFor, withService } from "../../support/helpers.ts";
import { eventsUntil, metricsUntil } from "../../support/events.ts";

const strategic = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch);

async function events(f: ServiceFixture, node: string): Promise<k8s.CoreV1Event[]> {
  const list = await f.core.listEventForAllNamespaces({
    fieldSelector: `involvedObject.kind=Node,involvedObject.name=${node}`,
  });
  return list.items;
}

/**
 * The Events on `node` once `ok` holds of them (written behind the webhook's answer); with
 * `stayMs`, once it still holds that much later.
 */
function eventsOnce(
  f: ServiceFixture,
  node: string,
  ok: (evs: k8s.CoreV1Event[]) => boolean,
  stayMs?: number,
): Promise<k8s.CoreV1Event[]> {
  return eventsUntil(`the Events on ${node}`, () => events(f, node), ok, { stayMs });
}

/** The reasons of the Events on `node`, sorted, once they are `reasons` (and stay so briefly). */
async function reasonsOnce(f: ServiceFixture, node: string, reasons: string[]): Promise<void> {
  const sorted = (evs: k8s.CoreV1Event[]) => evs.map((e) => e.reason ?? "").sort().join();
  await eventsOnce(f, node, (evs) => sorted(evs) === [...reasons].sort().join(), 200);
}

async function unschedulable(f: ServiceFixture, node: string): Promise<boolean> {
  return (await f.core.readNode({ name: node })).spec?.unschedulable === true;
}

function cpuAlert(ip: string, fingerprint: string, alertname = "NodeHighCPU") {
  return { labels: { alertname, heal: "true", instance: `${ip}:9100` }, fingerprint };
}

/** The write requests the embedded cluster has seen since its record was last reset. */
function writes(f: ServiceFixture): string[] {
  return f.cluster.api.traffic.requests
    .filter((r) => !["get", "list", "watch"].includes(r.verb))
    .map((r) => `${r.verb} ${r.resource}`);
}

async function body(
  res: Response,
): Promise<{ status: string; alerts: Record<string, string>[]; error?: string }> {
  return await res.json();
}

Deno.test(
  "a real Alertmanager notification for 172.18.0.3:9100 cordons heal-worker with ownership annotations and an Event",
  async () => {
    await using f = await withService();
    const res = await f.post(firing);
    assert.equal(res.status, 200);
    const answer = await body(res);
    assert.equal(answer.alerts[0].node, "heal-worker");
    assert.equal(answer.alerts[0].outcome, "cordon");

    const node = await f.core.readNode({ name: "heal-worker" });
    assert.equal(node.spec?.unschedulable, true);
    const a = node.metadata?.annotations ?? {};
    assert.equal(a["node-heal.io/cordoned-by"], "node-heal");
    assert.ok(!Number.isNaN(Date.parse(a["node-heal.io/cordoned-at"])));
    assert.deepEqual(Object.keys(JSON.parse(a["node-heal.io/alerts"])), ["35b31d7434c0434b"]);
    for (const other of ["heal-control-plane", "heal-worker2", "heal-worker3"]) {
      assert.equal(await unschedulable(f, other), false, `${other} untouched`);
    }
    const evs = await eventsOnce(f, "heal-worker", (evs) => evs.length > 0, 200);
    assert.equal(evs.length, 1);
    assert.equal(evs[0].reason, "NodeHealCordoned");
    assert.equal(evs[0].involvedObject.uid, "heal-worker");
    assert.equal(evs[0].source?.component, "node-heal");
    assert.match(evs[0].message ?? "", /NodeHighCPU/);
  },
);

Deno.test(
  "the same notification delivered three times at once cordons once and writes one Event",
  async () => {
    await using f = await withService();
    f.cluster.api.traffic.reset();
    const answers = await Promise.all([f.post(firing), f.post(firing), f.post(firing)]);
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200]);
    const outcomes = (await Promise.all(answers.map(body))).map((b) => b.alerts[0].outcome).sort();
    assert.deepEqual(outcomes, ["cordon", "skipped", "skipped"]);
    // The Event is written behind the answers: once it is there, and stays one, count the calls.
    const evs = await eventsOnce(f, "heal-worker", (evs) => evs.length > 0, 200);
    assert.equal(evs.length, 1);
    assert.equal(evs[0].count, 1);
    const counts = f.cluster.api.traffic.counts();
    assert.equal(counts["patch nodes"], 1);
    assert.equal(counts["create events"], 1);
    assert.equal(counts["list nodes"], undefined, "no LIST per alert");

    // A later repeat (Alertmanager's repeat_interval) makes no request to the API at all.
    f.cluster.api.traffic.reset();
    assert.equal((await f.post(firing)).status, 200);
    // Nor behind it: an Event would be written within moments.
    await new Promise((r) => setTimeout(r, 200));
    // The watch and the pause poll (node-heal's namespace, read every 100 ms here) go on beside it.
    const calls = f.cluster.api.traffic.requests.filter((r) =>
      r.verb !== "watch" && r.resource !== "namespaces"
    );
    assert.deepEqual(calls, []);
  },
);

Deno.test(
  "an alert on the control plane leaves it schedulable and records NodeHealSkipped",
  async () => {
    await using f = await withService();
    const res = await f.post(notification("firing", [cpuAlert("172.18.0.2", "cp1")]));
    assert.equal(res.status, 200);
    assert.equal((await body(res)).alerts[0].gate, "protected");
    assert.equal(await unschedulable(f, "heal-control-plane"), false);
    const evs = await eventsOnce(f, "heal-control-plane", (evs) => evs.length > 0, 200);
    assert.deepEqual(evs.map((e) => e.reason), ["NodeHealSkipped"]);
    assert.match(evs[0].message ?? "", /control-plane/);

    // Repeats count on the same Event instead of piling up new ones.
    await f.post(notification("firing", [cpuAlert("172.18.0.2", "cp1")]));
    const again = await eventsOnce(f, "heal-control-plane", (evs) => evs[0]?.count === 2, 200);
    assert.equal(again.length, 1);
    assert.equal(again[0].count, 2);
  },
);

Deno.test(
  "the resolved notification uncordons and removes node-heal's annotations",
  async () => {
    await using f = await withService();
    assert.equal((await f.post(firing)).status, 200);
    assert.equal(await unschedulable(f, "heal-worker"), true);
    const res = await f.post(resolved);
    assert.equal(res.status, 200);
    assert.equal((await body(res)).alerts[0].outcome, "uncordon");
    const node = await f.core.readNode({ name: "heal-worker" });
    assert.equal(node.spec?.unschedulable, undefined);
    const left = Object.keys(node.metadata?.annotations ?? {}).filter((k) =>
      k.startsWith("node-heal.io/")
    ).sort();
    // Only history stays, sealed: what the rate and cooldown gates count from, the
    // resolution that keeps a late firing of the same alert from cordoning again, and the
    // remediation's outcome.
    assert.deepEqual(left, [
      "node-heal.io/outcomes",
      "node-heal.io/released-at",
      "node-heal.io/remediated-at",
      "node-heal.io/resolved",
      "node-heal.io/seal",
    ]);
    await reasonsOnce(f, "heal-worker", ["NodeHealCordoned", "NodeHealUncordoned"]);
  },
);

Deno.test(
  "a node cordoned by a person is neither claimed by a firing alert nor uncordoned by its resolution",
  async () => {
    await using f = await withService();
    await f.core.patchNode(
      { name: "heal-worker2", body: { spec: { unschedulable: true } } },
      strategic,
    );
    await waitFor(
      "the watch to see the manual cordon",
      () => f.service.index.get("heal-worker2")?.spec?.unschedulable === true,
    );
    const fire = await f.post(notification("firing", [cpuAlert("172.18.0.4", "m1")]));
    assert.equal((await body(fire)).alerts[0].gate, "notOurs");
    const res = await f.post(notification("resolved", [cpuAlert("172.18.0.4", "m1")]));
    assert.equal(res.status, 200);
    assert.equal((await body(res)).alerts[0].gate, "notOurs");
    const node = await f.core.readNode({ name: "heal-worker2" });
    assert.equal(node.spec?.unschedulable, true);
    assert.equal(node.metadata?.annotations?.["node-heal.io/cordoned-by"], undefined);
    await reasonsOnce(f, "heal-worker2", ["NodeHealSkipped", "NodeHealSkipped"]);
  },
);

Deno.test("a node stays cordoned until the last of its alerts resolves", async () => {
  await using f = await withService();
  await f.post(notification("firing", [cpuAlert("172.18.0.5", "a1", "NodeHighCPU")]));
  await f.post(notification("firing", [cpuAlert("172.18.0.5", "a2", "NodeDiskFull")]));
  const held = await f.core.readNode({ name: "heal-worker3" });
  assert.deepEqual(
    Object.keys(JSON.parse(held.metadata!.annotations!["node-heal.io/alerts"])).sort(),
    ["a1", "a2"],
  );
  const first = await f.post(
    notification("resolved", [cpuAlert("172.18.0.5", "a1", "NodeHighCPU")]),
  );
  assert.equal((await body(first)).alerts[0].outcome, "release");
  assert.equal(await unschedulable(f, "heal-worker3"), true);
  const last = await f.post(
    notification("resolved", [cpuAlert("172.18.0.5", "a2", "NodeDiskFull")]),
  );
  assert.equal((await body(last)).alerts[0].outcome, "uncordon");
  assert.equal(await unschedulable(f, "heal-worker3"), false);
});

Deno.test(
  "alerts name nodes by node, nodename, kubernetes_node or instance in any form",
  async () => {
    await using f = await withService({ workers: 10 });
    const res = await f.post(notification("firing", [
      { labels: { alertname: "A", heal: "true", node: "heal-worker" }, fingerprint: "n1" },
      { labels: { alertname: "B", heal: "true", nodename: "heal-worker2" }, fingerprint: "n2" },
      {
        labels: { alertname: "C", heal: "true", instance: "heal-worker3:9100" },
        fingerprint: "n3",
      },
      { labels: { alertname: "D", heal: "true", instance: "10.99.0.1:9100" }, fingerprint: "n4" },
    ]));
    assert.equal(res.status, 200);
    const outcomes = (await body(res)).alerts.map((a) => `${a.node ?? "-"} ${a.outcome}`);
    assert.deepEqual(outcomes, [
      "heal-worker cordon",
      "heal-worker2 cordon",
      "heal-worker3 cordon",
      "- unresolved",
    ]);
    const metrics = await (await fetch(`${f.service.url}/metrics`)).text();
    assert.match(metrics, /nodeheal_alerts_total\{outcome="unresolved"\} 1/);
    assert.match(metrics, /nodeheal_alerts_total\{outcome="cordon"\} 3/);
  },
);

Deno.test(
  "nodes added and removed later are resolved through the watch, without a LIST per alert",
  async () => {
    await using f = await withService();
    await f.core.createNode({
      body: {
        metadata: { name: "heal-worker9" },
        status: { addresses: [{ type: "InternalIP", address: "172.18.0.11" }] },
      },
    });
    await waitFor("the watch to index the new node", () => f.service.index.get("heal-worker9"));
    f.cluster.api.traffic.reset();
    const res = await f.post(notification("firing", [cpuAlert("172.18.0.11", "w9")]));
    assert.equal((await body(res)).alerts[0].node, "heal-worker9");
    assert.equal(f.cluster.api.traffic.counts()["list nodes"], undefined);
    await f.core.deleteNode({ name: "heal-worker9" });
    await waitFor("the watch to drop the node", () => !f.service.index.get("heal-worker9"));
    const gone = await f.post(notification("firing", [cpuAlert("172.18.0.11", "w9b")]));
    assert.equal((await body(gone)).alerts[0].outcome, "unresolved");
  },
);

Deno.test("malformed payloads get 400 naming what is wrong, and change nothing", async () => {
  await using f = await withService();
  f.cluster.api.traffic.reset();
  const cases: [string | unknown, RegExp][] = [
    ["{not json", /Cannot parse payload: body is not JSON/],
    [{ ...firing, alerts: {} }, /field "alerts" must be an array/],
    [{ ...firing, alerts: [{ ...firing.alerts[0], status: "maybe" }] }, /alerts\[0\]\.status/],
    [{ ...firing, version: "2" }, /field "version" must be "4"/],
  ];
  for (const [payload, message] of cases) {
    const res = await f.post(payload);
    assert.equal(res.status, 400);
    assert.match((await body(res)).error ?? "", message);
  }
  assert.deepEqual(writes(f), []);
  for (const n of await f.core.listNode().then((l) => l.items)) {
    assert.equal(n.spec?.unschedulable, undefined);
  }
  const get = await fetch(`${f.service.url}/webhook`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  await get.body?.cancel();
  const big = await f.post("x".repeat(1024 * 1024 + 1));
  assert.equal(big.status, 413);
  await big.body?.cancel();
});

Deno.test(
  "an API failure answers 503 so Alertmanager retries, and the retry cordons",
  async () => {
    await using f = await withService();
    const remove = f.cluster.api.injectFault({ verb: "patch", resource: "nodes", status: 500 });
    const failed = await f.post(firing);
    assert.equal(failed.status, 503);
    assert.equal((await body(failed)).alerts[0].outcome, "failed");
    assert.equal(await unschedulable(f, "heal-worker"), false);
    remove();
    const retried = await f.post(firing);
    assert.equal(retried.status, 200);
    assert.equal(await unschedulable(f, "heal-worker"), true);
    await eventsOnce(f, "heal-worker", (evs) => evs.length === 1, 200);
  },
);

Deno.test("a write conflict is re-read and decided again", async () => {
  await using f = await withService();
  f.cluster.api.injectFault({ verb: "patch", resource: "nodes", status: 409, times: 1 });
  const res = await f.post(firing);
  assert.equal(res.status, 200);
  assert.equal((await body(res)).alerts[0].outcome, "cordon");
  const counts = f.cluster.api.traffic.counts();
  assert.equal(counts["patch nodes"], 2);
  assert.equal(counts["get nodes"], 1);
  assert.equal(await unschedulable(f, "heal-worker"), true);
});

Deno.test("an Event that cannot be written does not fail or undo the cordon", async () => {
  await using f = await withService();
  f.cluster.api.injectFault({ verb: "create", resource: "events", status: 500 });
  const res = await f.post(firing);
  assert.equal(res.status, 200);
  assert.equal(await unschedulable(f, "heal-worker"), true);
  await metricsUntil(
    f.service.url,
    /nodeheal_events_total\{reason="NodeHealCordoned",result="failure"\} 1/,
  );
});

Deno.test("dry-run decides and reports but writes nothing to the cluster", async () => {
  await using f = await withService({ dryRun: true });
  const res = await f.post(firing);
  assert.equal(res.status, 200);
  assert.equal((await body(res)).alerts[0].outcome, "cordon");
  assert.equal(await unschedulable(f, "heal-worker"), false);
  assert.equal(
    f.cluster.api.read("Node", "heal-worker")?.metadata?.annotations?.["node-heal.io/cordoned-by"],
    undefined,
  );
  // Writes went out, with dryRun=All: validated by the API server, never stored (the Event's
  // behind the answer).
  await metricsUntil(
    f.service.url,
    /nodeheal_events_total\{reason="NodeHealCordoned",result="dry_run"\} 1/,
  );
  assert.deepEqual(await events(f, "heal-worker"), []);
  const sent = f.cluster.api.traffic.requests.filter((r) =>
    r.verb === "patch" || r.verb === "create"
  );
  assert.deepEqual(sent.map((r) => `${r.verb} ${r.resource} ${r.code}`), [
    "patch nodes 200",
    "create events 201",
  ]);
  const metrics = await (await fetch(`${f.service.url}/metrics`)).text();
  assert.match(metrics, /nodeheal_actions_total\{action="cordon",result="dry_run"\} 1/);
  assert.match(metrics, /nodeheal_events_total\{reason="NodeHealCordoned",result="dry_run"\} 1/);
});

Deno.test("health, readiness and metrics endpoints answer", async () => {
  await using f = await withService();
  const health = await fetch(`${f.service.url}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const ready = await fetch(`${f.service.url}/readyz`);
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
  await f.post(firing);
  const metrics = await fetch(`${f.service.url}/metrics`);
  assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await metrics.text();
  for (
    const name of [
      "nodeheal_alertmanager_notifications_total",
      "nodeheal_alerts_total",
      "nodeheal_decisions_total",
      "nodeheal_actions_total",
      "nodeheal_webhook_duration_seconds_bucket",
      "nodeheal_indexed_nodes 4",
    ]
  ) {
    assert.ok(text.includes(name), `metrics include ${name}`);
  }
  const missing = await fetch(`${f.service.url}/nope`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test(
  "a hold not refreshed within the hold TTL is taken as resolved and the node uncordoned",
  async () => {
    await using f = await withService({ holdTtlMs: 1500 });
    const fire = () => f.post(notification("firing", [cpuAlert("172.18.0.4", "ttl1")]));
    assert.equal((await fire()).status, 200);
    assert.equal(await unschedulable(f, "heal-worker2"), true);
    // Alertmanager's repeat_interval keeps the hold fresh...
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      await (await fire()).body?.cancel();
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(await unschedulable(f, "heal-worker2"), true, "refreshed holds do not expire");
    // ...and when it stops (a silence, a lost resolution), the hold expires.
    await waitFor(
      "the expired hold to uncordon",
      async () => !(await unschedulable(f, "heal-worker2")),
      10_000,
    );
    const node = await f.core.readNode({ name: "heal-worker2" });
    assert.equal(node.metadata?.annotations?.["node-heal.io/alerts"], undefined);
    const uncordoned = (await eventsOnce(
      f,
      "heal-worker2",
      (evs) => evs.some((e) => e.reason === "NodeHealUncordoned"),
    )).find((e) => e.reason === "NodeHealUncordoned");
    assert.match(uncordoned?.message ?? "", /not seen firing for 1\.5s|not seen firing for 1500ms/);
  },
);

Deno.test(
  "a node someone uncordons loses node-heal's claim, so their later cordon survives the resolution",
  async () => {
    await using f = await withService();
    await f.post(firing);
    assert.equal(await unschedulable(f, "heal-worker"), true);
    await f.core.patchNode(
      { name: "heal-worker", body: { spec: { unschedulable: null } } },
      strategic,
    );
    await waitFor(
      "node-heal to give up its claim",
      async () =>
        (await f.core.readNode({ name: "heal-worker" })).metadata?.annotations
          ?.["node-heal.io/cordoned-by"] ===
          undefined,
    );
    await f.core.patchNode(
      { name: "heal-worker", body: { spec: { unschedulable: true } } },
      strategic,
    );
    const res = await f.post(resolved);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(await unschedulable(f, "heal-worker"), true, "the person's cordon stays");
    await eventsOnce(
      f,
      "heal-worker",
      (evs) => evs.some((e) => /no longer owns its cordon/.test(e.message ?? "")),
    );
  },
);

Deno.test(
  "a resolved alert that the cache says holds nothing is checked on a fresh read",
  async () => {
    await using f = await withService();
    f.cluster.api.traffic.reset();
    const res = await f.post(notification("resolved", [cpuAlert("172.18.0.5", "r1")]));
    assert.equal((await body(res)).alerts[0].gate, "notHeld");
    assert.equal(f.cluster.api.traffic.counts()["get nodes"], 1);
  },
);

Deno.test(
  "while the node watch is failing node-heal answers 503, and recovers when the watch does",
  async () => {
    await using f = await withService();
    const api = f.cluster.api;
    const removeList = api.injectFault({ verb: "list", resource: "nodes", status: 500 });
    const removeWatch = api.injectFault({ verb: "watch", resource: "nodes", status: 500 });
    api.dropWatches();
    await waitFor("readiness to drop", async () => {
      const r = await fetch(`${f.service.url}/readyz`);
      await r.body?.cancel();
      return r.status === 503;
    }, 10_000);
    const refused = await f.post(firing);
    assert.equal(refused.status, 503);
    await refused.body?.cancel();
    assert.equal(await unschedulable(f, "heal-worker"), false);
    removeList();
    removeWatch();
    await waitFor("readiness to come back", async () => {
      const r = await fetch(`${f.service.url}/readyz`);
      await r.body?.cancel();
      return r.ok;
    }, 15_000);
    assert.equal((await f.post(firing)).status, 200);
    assert.equal(await unschedulable(f, "heal-worker"), true);
  },
);

Deno.test("an API call that hangs times out and answers 503", async () => {
  await using f = await withService({ apiTimeoutMs: 300 });
  f.cluster.api.injectFault({ verb: "patch", resource: "nodes", latencyMs: 3000, times: 5 });
  const started = performance.now();
  const res = await f.post(firing);
  assert.equal(res.status, 503);
  assert.match((await body(res)).alerts[0].message, /did not answer within 300 ms/);
  assert.ok(performance.now() - started < 2500, "three tries of 300 ms and two short waits");
});

Deno.test(
  "a write the API server refuses for good is reported as rejected, not retried forever",
  async () => {
    await using f = await withService();
    f.cluster.api.injectFault({ verb: "patch", resource: "nodes", status: 422 });
    const res = await f.post(firing);
    assert.equal(res.status, 200);
    assert.equal((await body(res)).alerts[0].outcome, "rejected");
  },
);

Deno.test("an Event that fails once is written on a retry", async () => {
  await using f = await withService();
  f.cluster.api.injectFault({ verb: "create", resource: "events", status: 500, times: 1 });
  assert.equal((await f.post(firing)).status, 200);
  await eventsOnce(f, "heal-worker", (evs) => evs.length === 1);
});

Deno.test(
  "a resolution posted right after its firing alert never overtakes it, even behind a slow write",
  async () => {
    await using f = await withService({ workers: 10 });
    // A slow cordon of another node holds the take-out turn.
    f.cluster.api.injectFault({
      verb: "patch",
      resource: "nodes",
      name: "heal-worker",
      latencyMs: 400,
      times: 1,
    });
    const slow = f.post(notification("firing", [cpuAlert("172.18.0.3", "slow")]));
    await new Promise((r) => setTimeout(r, 50));
    const fire = f.post(notification("firing", [cpuAlert("172.18.0.4", "w2")]));
    await new Promise((r) => setTimeout(r, 20));
    const resolve = f.post(notification("resolved", [cpuAlert("172.18.0.4", "w2")]));
    const [, fired, resolvedRes] = await Promise.all([slow, fire, resolve]);
    assert.equal((await body(fired)).alerts[0].outcome, "cordon");
    assert.equal((await body(resolvedRes)).alerts[0].outcome, "uncordon");
    assert.equal(await unschedulable(f, "heal-worker2"), false);
  },
);
