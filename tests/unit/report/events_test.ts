// EventRecorder (lib/report/events.ts) over the in-memory FakeClient: the Event written, its
// count, retries and giving up, dry runs, and a write slower than the caller waits.
import assert from "node:assert/strict";
import { EVENT_MESSAGE_LIMIT, EventRecorder } from "../../../lib/report/events.ts";
import { Metrics } from "../../../lib/report/metrics.ts";
import type { EventIntent } from "../../../lib/decide/decision.ts";
import type { EventBody } from "../../../lib/act/kube_types.ts";
import { deadline } from "../../../lib/timing.ts";
import { FakeClient } from "../../fake_client.ts";

const AT = new Date("2024-05-01T10:00:00.000Z");
const LATER = new Date("2024-05-01T10:05:00.000Z");

const CORDONED: EventIntent = {
  reason: "NodeHealCordoned",
  type: "Warning",
  message: "Cordoned worker-1: alert NodeDiskPressure",
};

/** `reason/result` → value of nodeheal_events_total, read from the registry. */
async function eventCounts(metrics: Metrics): Promise<Record<string, number>> {
  const metric = metrics.registry.getSingleMetric("nodeheal_events_total");
  assert.ok(metric, "nodeheal_events_total is registered");
  const { values } = await metric.get();
  return Object.fromEntries(
    values.filter((v) => v.value > 0).map((
      v,
    ) => [`${v.labels.reason}/${v.labels.result}`, v.value]),
  );
}

/** The Events stored, sorted by name. */
function stored(client: FakeClient): EventBody[] {
  return [...client.events.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

function callsOf(client: FakeClient, method: string): number {
  return client.calls.filter((c) => c.method === method).length;
}

/** Fails the test instead of hanging when `work` never settles. */
function settles<T>(work: Promise<T>, what: string): Promise<T> {
  return deadline(work, 5000, () => new Error(`${what} did not settle within 5 s`));
}

/** A FakeClient whose createEvent calls wait until {@link release} (a slow API server). */
class HeldClient extends FakeClient {
  #gate = Promise.withResolvers<void>();
  /** createEvent calls made so far, released or not. */
  started = 0;

  release(): void {
    this.#gate.resolve();
  }

  override async createEvent(event: EventBody): Promise<boolean> {
    this.started++;
    await this.#gate.promise;
    return super.createEvent(event);
  }
}

Deno.test("record() writes a Node Event named node.nodeheal.<hash> in namespace default", async () => {
  const client = new FakeClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  await recorder.record("worker-1", CORDONED, { at: AT });
  const [event, ...more] = stored(client);
  assert.equal(more.length, 0);
  assert.match(event.metadata.name, /^worker-1\.nodeheal\.[0-9a-f]{8}$/);
  assert.equal(client.events.get(`default/${event.metadata.name}`), event);
  assert.deepEqual(event, {
    metadata: { name: event.metadata.name, namespace: "default" },
    involvedObject: { apiVersion: "v1", kind: "Node", name: "worker-1", uid: "worker-1" },
    reason: "NodeHealCordoned",
    message: CORDONED.message,
    type: "Warning",
    source: { component: "node-heal", host: "node-heal" },
    reportingComponent: "node-heal",
    reportingInstance: "node-heal",
    firstTimestamp: AT.toISOString(),
    lastTimestamp: AT.toISOString(),
    count: 1,
  });
  assert.deepEqual(await eventCounts(metrics), { "NodeHealCordoned/created": 1 });
});

Deno.test("record() takes the namespace and instance given, and names Events by node, reason and message", async () => {
  const client = new FakeClient();
  const recorder = new EventRecorder(client, new Metrics(), { namespace: "ops", instance: "r-2" });
  await recorder.record("worker-1", CORDONED, { at: AT });
  await recorder.record("worker-2", CORDONED, { at: AT });
  await recorder.record("worker-1", { ...CORDONED, reason: "NodeHealSkipped" }, { at: AT });
  await recorder.record("worker-1", { ...CORDONED, message: "another message" }, { at: AT });
  const events = stored(client);
  assert.equal(events.length, 4);
  assert.equal(new Set(events.map((e) => e.metadata.name)).size, 4);
  for (const e of events) {
    assert.equal(e.metadata.namespace, "ops");
    assert.ok(client.events.has(`ops/${e.metadata.name}`));
    assert.equal(e.reportingInstance, "r-2");
    assert.equal(e.source.host, "r-2");
    assert.ok(e.metadata.name.startsWith(`${e.involvedObject.name}.nodeheal.`));
  }
  // The name is a function of node, reason and message alone: another recorder finds the same.
  const other = new FakeClient();
  await new EventRecorder(other, new Metrics()).record("worker-2", CORDONED, { at: LATER });
  const name = [...other.events.values()][0].metadata.name;
  assert.ok(events.some((e) => e.metadata.name === name));
});

Deno.test("record() clips the message to EVENT_MESSAGE_LIMIT characters", async () => {
  const client = new FakeClient();
  const recorder = new EventRecorder(client, new Metrics());
  const long = "x".repeat(EVENT_MESSAGE_LIMIT * 3);
  await recorder.record("worker-1", { ...CORDONED, message: long }, { at: AT });
  const exact = "y".repeat(EVENT_MESSAGE_LIMIT);
  await recorder.record("worker-1", { ...CORDONED, message: exact }, { at: AT });
  const messages = stored(client).map((e) => e.message);
  const clipped = messages.find((m) => m.startsWith("x"));
  assert.ok(clipped);
  assert.equal(clipped.length, EVENT_MESSAGE_LIMIT);
  assert.ok(clipped.endsWith("…"));
  assert.ok(messages.includes(exact), "a message at the limit is kept whole");
});

Deno.test("record() of the same reason and message twice counts one Event to 2", async () => {
  const client = new FakeClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  await recorder.record("worker-1", CORDONED, { at: AT });
  await recorder.record("worker-1", CORDONED, { at: LATER });
  const events = stored(client);
  assert.equal(events.length, 1);
  assert.equal(events[0].count, 2);
  assert.equal(events[0].firstTimestamp, AT.toISOString());
  assert.equal(events[0].lastTimestamp, LATER.toISOString());
  assert.equal(callsOf(client, "bumpEvent"), 1);
  assert.deepEqual(await eventCounts(metrics), {
    "NodeHealCordoned/created": 1,
    "NodeHealCordoned/counted": 1,
  });
});

Deno.test("record() tries again after passing failures (5xx, 429, no status) and conflicts", async () => {
  const client = new FakeClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  client.fail("createEvent", 503, 0);
  await settles(recorder.record("worker-1", CORDONED, { at: AT }), "record");
  assert.equal(callsOf(client, "createEvent"), 3);
  assert.equal(stored(client).length, 1);

  client.fail("createEvent", 429);
  await settles(recorder.record("worker-2", CORDONED, { at: AT }), "record");
  assert.equal(callsOf(client, "createEvent"), 5);
  assert.equal(stored(client).length, 2);

  // Another writer counting the same Event: a conflict, so read it again and count.
  client.fail("bumpEvent", 409);
  await settles(recorder.record("worker-1", CORDONED, { at: LATER }), "record");
  assert.equal(callsOf(client, "bumpEvent"), 2);
  const w1 = stored(client).find((e) => e.involvedObject.name === "worker-1");
  assert.equal(w1?.count, 2);
  assert.deepEqual(await eventCounts(metrics), {
    "NodeHealCordoned/created": 2,
    "NodeHealCordoned/counted": 1,
  });
});

Deno.test("record() gives up after its retries and counts a failure, never throwing", async () => {
  const client = new FakeClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  client.fail("createEvent", 500, 502, 503, 504);
  await settles(recorder.record("worker-1", CORDONED, { at: AT }), "record");
  await settles(recorder.flush(), "flush");
  assert.equal(callsOf(client, "createEvent"), 3, "one try and two retries");
  assert.equal(client.events.size, 0);
  assert.deepEqual(await eventCounts(metrics), { "NodeHealCordoned/failure": 1 });

  // A failure that will not pass is not tried again.
  const forbidden = new FakeClient();
  const m2 = new Metrics();
  forbidden.fail("createEvent", 403);
  await settles(
    new EventRecorder(forbidden, m2).record("worker-1", CORDONED, { at: AT }),
    "record",
  );
  assert.equal(callsOf(forbidden, "createEvent"), 1);
  assert.equal(forbidden.events.size, 0);
  assert.deepEqual(await eventCounts(m2), { "NodeHealCordoned/failure": 1 });
});

Deno.test("record() in a dry run stores nothing and counts dry_run", async () => {
  const client = new FakeClient({ dryRun: true });
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  await recorder.record("worker-1", CORDONED, { at: AT });
  await recorder.record("worker-1", { ...CORDONED, reason: "NodeHealDrained" }, { at: AT });
  assert.equal(callsOf(client, "createEvent"), 2);
  assert.equal(client.events.size, 0);
  assert.deepEqual(await eventCounts(metrics), {
    "NodeHealCordoned/dry_run": 1,
    "NodeHealDrained/dry_run": 1,
  });
});

Deno.test("record() resolves after waitMs while a slow write goes on, and flush() waits for it", async () => {
  const client = new HeldClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  await settles(recorder.record("worker-1", CORDONED, { at: AT, waitMs: 10 }), "record");
  assert.equal(client.started, 1);
  assert.equal(client.events.size, 0, "the write is still held");

  let flushed = false;
  const flush = recorder.flush().then(() => flushed = true);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(flushed, false, "flush() waits for the held write");
  client.release();
  await settles(flush, "flush");
  assert.equal(stored(client).length, 1);
  assert.deepEqual(await eventCounts(metrics), { "NodeHealCordoned/created": 1 });
});

Deno.test("flush() waits for writes still retrying in the background", async () => {
  const client = new FakeClient();
  const recorder = new EventRecorder(client, new Metrics());
  client.fail("createEvent", 503, 503);
  // waitMs 0: record() gives up waiting at once, the retries go on.
  await settles(recorder.record("worker-1", CORDONED, { at: AT, waitMs: 0 }), "record");
  assert.equal(client.events.size, 0, "the first retry waits 100 ms");
  await settles(recorder.flush(), "flush");
  assert.equal(callsOf(client, "createEvent"), 3);
  assert.equal(stored(client).length, 1);
  // Nothing is pending now.
  await settles(recorder.flush(), "flush");
});
