// Events over real interfaces: repeated skips of the protected control-plane node posted to
// node-heal over HTTP, its Events written to the embedded cluster through the client library and
// read back over HTTP, and the cluster's record of requests telling what each repeat cost; and a
// cordon answered while its Event is still being written (Events are written behind the action).
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import firing from "../../fixtures/alertmanager-0.25-firing.json" with { type: "json" };
import { notification, type ServiceFixture, withService } from "../../support/helpers.ts";
import { eventsUntil, metricsUntil } from "../../support/events.ts";

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

/** A firing alert on heal-control-plane (172.18.0.2), which the `protected` gate skips. */
const SKIP = notification("firing", [{
  labels: { alertname: "NodeHighCPU", heal: "true", instance: "172.18.0.2:9100" },
  fingerprint: "cp1",
}]);

/** Posts the skip; asserts that it was skipped by the protected gate. */
async function skip(f: ServiceFixture): Promise<void> {
  const res = await f.post(SKIP);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.alerts[0].outcome, "skipped");
  assert.equal(body.alerts[0].gate, "protected");
}

/** The Events on heal-control-plane, read over HTTP. */
async function events(f: ServiceFixture): Promise<k8s.CoreV1Event[]> {
  const list = await f.core.listEventForAllNamespaces({
    fieldSelector: "involvedObject.kind=Node,involvedObject.name=heal-control-plane",
  });
  return list.items;
}

/** The one NodeHealSkipped Event on heal-control-plane once its count is `count` (written behind). */
async function counted(f: ServiceFixture, count: number): Promise<k8s.CoreV1Event> {
  const ok = (evs: k8s.CoreV1Event[]) => evs.length === 1 && evs[0].count === count;
  return (await eventsUntil(`the Event counted to ${count}`, () => events(f), ok))[0];
}

/** The requests for Events the cluster answered since its record was reset: `verb code`. */
function eventCalls(f: ServiceFixture): string[] {
  return f.cluster.api.traffic.requests.filter((r) => r.resource === "events" && r.verb !== "list")
    .map((r) => `${r.verb} ${r.code}`);
}

Deno.test(
  "repeated skips of the control plane are one Event, each repeat one PATCH, and never a 409",
  async () => {
    await using f = await withService();
    f.cluster.api.traffic.reset();
    // Each skip's Event is written behind its answer: waited for, so that each repeat is a write.
    for (let i = 1; i <= 10; i++) {
      await skip(f);
      await counted(f, i);
    }
    const event = await counted(f, 10);
    assert.equal(event.reason, "NodeHealSkipped");
    assert.equal(event.involvedObject.uid, "heal-control-plane");
    assert.match(event.message ?? "", /control-plane/);
    assert.deepEqual(eventCalls(f), ["create 201", ...Array(9).fill("patch 200")]);

    // 20 at once (under the 32 requests node-heal serves at a time): one write of the Event at a
    // time, each counting every skip made while the one before was under way, so at most one
    // PATCH a skip and no conflicts; the count is exact.
    f.cluster.api.traffic.reset();
    await Promise.all(Array.from({ length: 20 }, () => skip(f)));
    await counted(f, 30);
    const burst = eventCalls(f);
    assert.ok(burst.length >= 1 && burst.length <= 20, `${burst.length} calls for 20 skips`);
    assert.deepEqual(new Set(burst), new Set(["patch 200"]));
    await metricsUntil(
      f.service.url,
      /nodeheal_events_total\{reason="NodeHealSkipped",result="created"\} 1\n/,
      /nodeheal_events_total\{reason="NodeHealSkipped",result="counted"\} 29\n/,
    );
  },
);

Deno.test(
  "an Event deleted meanwhile is created again, and one counted by someone else is read and counted",
  async () => {
    await using f = await withService();
    await skip(f);
    await skip(f);
    const { name, namespace } = (await counted(f, 2)).metadata!;

    // Expired (the API server's Event TTL) or deleted: the PATCH is 404, so create it again.
    await f.core.deleteNamespacedEvent({ name: name!, namespace: namespace! });
    f.cluster.api.traffic.reset();
    await skip(f);
    await counted(f, 1);
    assert.deepEqual(eventCalls(f), ["patch 404", "create 201"]);

    // Another replica counts it: the PATCH carrying the old resourceVersion is 409, so read it.
    await f.core.patchNamespacedEvent({
      name: name!,
      namespace: namespace!,
      body: { count: 5 },
    }, mergePatch);
    f.cluster.api.traffic.reset();
    await skip(f);
    await counted(f, 6);
    assert.deepEqual(eventCalls(f), ["patch 409", "get 200", "patch 200"]);

    // Known again: one PATCH.
    f.cluster.api.traffic.reset();
    await skip(f);
    await counted(f, 7);
    assert.deepEqual(eventCalls(f), ["patch 200"]);
  },
);

Deno.test(
  "in a dry run each repeated skip is sent as a create with dryRun=All and nothing is stored",
  async () => {
    await using f = await withService({ dryRun: true });
    f.cluster.api.traffic.reset();
    // Each written behind its answer: waited for, so that each is a write of its own.
    for (let i = 1; i <= 3; i++) {
      await skip(f);
      const dry = new RegExp(
        `nodeheal_events_total\\{reason="NodeHealSkipped",result="dry_run"\\} ${i}\n`,
      );
      await metricsUntil(f.service.url, dry);
    }
    assert.deepEqual(eventCalls(f), ["create 201", "create 201", "create 201"]);
    assert.deepEqual(await events(f), []);
  },
);

Deno.test(
  "a cordon's answer does not wait for its Event: with Event writes 2 s slow, the Node is cordoned at once and the Event comes later",
  async () => {
    await using f = await withService();
    f.cluster.api.injectFault({ verb: "create", resource: "events", latencyMs: 2000 });
    const started = performance.now();
    const res = await f.post(firing);
    const took = performance.now() - started;
    assert.equal(res.status, 200);
    assert.equal((await res.json()).alerts[0].outcome, "cordon");
    assert.ok(took < 1500, `the answer took ${Math.round(took)} ms`);
    const node = await f.core.readNode({ name: "heal-worker" });
    assert.equal(node.spec?.unschedulable, true);
    const on = () =>
      f.core.listEventForAllNamespaces({ fieldSelector: "involvedObject.name=heal-worker" });
    assert.deepEqual((await on()).items, [], "the Event is still being written");
    const written = await eventsUntil("the cordon's Event", on, (l) => l.items.length > 0);
    assert.equal(written.items[0].reason, "NodeHealCordoned");
    // It waited for the slow write: its delay is past 1 s.
    await metricsUntil(
      f.service.url,
      /nodeheal_event_delay_seconds_bucket\{le="1"\} 0\n/,
      /nodeheal_event_delay_seconds_count 1\n/,
      /nodeheal_events_total\{reason="NodeHealCordoned",result="created"\} 1\n/,
    );
  },
);
