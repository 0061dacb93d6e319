// EventRecorder (lib/report/events.ts) over the in-memory FakeClient: the Event written, its
// count, retries and giving up, dry runs, and a write slower than the caller; and the API
// calls a repeat costs: one PATCH for a remembered Event, a few for a burst, the fallbacks when
// another writer counted it or it expired, and the bound on what is remembered.
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import {
  EVENT_MESSAGE_LIMIT,
  EventRecorder,
  REMEMBERED_EVENTS,
} from "../../../lib/report/events.ts";
import { Metrics } from "../../../lib/report/metrics.ts";
import type { EventIntent } from "../../../lib/decide/decision.ts";
import type { EventBody, EventVersion } from "../../../lib/act/kube/types.ts";
import { deadline } from "../../../lib/base/timing.ts";
import { FakeClient } from "../../fakes/fake_client.ts";

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

/** Records one Event and waits for it to be written (a flush). */
async function write(
  recorder: EventRecorder,
  ...args: Parameters<EventRecorder["record"]>
): Promise<void> {
  assert.equal(recorder.record(...args), undefined);
  await settles(recorder.flush(), "flush");
}

/** A FakeClient whose createEvent calls wait until {@link release} (a slow API server). */
class HeldClient extends FakeClient {
  #gate = Promise.withResolvers<void>();
  /** createEvent calls made so far, released or not. */
  started = 0;

  release(): void {
    this.#gate.resolve();
  }

  override async createEvent(event: EventBody): Promise<EventVersion | undefined> {
    this.started++;
    await this.#gate.promise;
    return super.createEvent(event);
  }
}

Deno.test("record() writes a Node Event named node.nodeheal.<hash> in namespace default", async () => {
  const client = new FakeClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  await write(recorder, "worker-1", CORDONED, { at: AT });
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
  await write(recorder, "worker-1", CORDONED, { at: AT });
  await write(recorder, "worker-2", CORDONED, { at: AT });
  await write(recorder, "worker-1", { ...CORDONED, reason: "NodeHealSkipped" }, { at: AT });
  await write(recorder, "worker-1", { ...CORDONED, message: "another message" }, { at: AT });
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
  await write(new EventRecorder(other, new Metrics()), "worker-2", CORDONED, { at: LATER });
  const name = [...other.events.values()][0].metadata.name;
  assert.ok(events.some((e) => e.metadata.name === name));
});

Deno.test("record() clips the message to EVENT_MESSAGE_LIMIT characters", async () => {
  const client = new FakeClient();
  const recorder = new EventRecorder(client, new Metrics());
  const long = "x".repeat(EVENT_MESSAGE_LIMIT * 3);
  await write(recorder, "worker-1", { ...CORDONED, message: long }, { at: AT });
  const exact = "y".repeat(EVENT_MESSAGE_LIMIT);
  await write(recorder, "worker-1", { ...CORDONED, message: exact }, { at: AT });
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
  await write(recorder, "worker-1", CORDONED, { at: AT });
  await write(recorder, "worker-1", CORDONED, { at: LATER });
  const events = stored(client);
  assert.equal(events.length, 1);
  assert.equal(events[0].count, 2);
  assert.equal(events[0].firstTimestamp, AT.toISOString());
  assert.equal(events[0].lastTimestamp, LATER.toISOString());
  assert.equal(callsOf(client, "patchEventCount"), 1);
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
  await write(recorder, "worker-1", CORDONED, { at: AT });
  assert.equal(callsOf(client, "createEvent"), 3);
  assert.equal(stored(client).length, 1);

  client.fail("createEvent", 429);
  await write(recorder, "worker-2", CORDONED, { at: AT });
  assert.equal(callsOf(client, "createEvent"), 5);
  assert.equal(stored(client).length, 2);

  // Another writer counting the same Event: a conflict, so read it again and count.
  client.fail("patchEventCount", 409);
  await write(recorder, "worker-1", CORDONED, { at: LATER });
  assert.equal(callsOf(client, "patchEventCount"), 2);
  assert.equal(callsOf(client, "readEvent"), 1);
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
  await write(recorder, "worker-1", CORDONED, { at: AT });
  await settles(recorder.flush(), "flush");
  assert.equal(callsOf(client, "createEvent"), 3, "one try and two retries");
  assert.equal(client.events.size, 0);
  assert.deepEqual(await eventCounts(metrics), { "NodeHealCordoned/failure": 1 });

  // A failure that will not pass is not tried again.
  const forbidden = new FakeClient();
  const m2 = new Metrics();
  forbidden.fail("createEvent", 403);
  await write(new EventRecorder(forbidden, m2), "worker-1", CORDONED, { at: AT });
  assert.equal(callsOf(forbidden, "createEvent"), 1);
  assert.equal(forbidden.events.size, 0);
  assert.deepEqual(await eventCounts(m2), { "NodeHealCordoned/failure": 1 });
});

Deno.test("record() in a dry run stores nothing and counts dry_run", async () => {
  const client = new FakeClient({ dryRun: true });
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  await write(recorder, "worker-1", CORDONED, { at: AT });
  await write(recorder, "worker-1", { ...CORDONED, reason: "NodeHealDrained" }, { at: AT });
  assert.equal(callsOf(client, "createEvent"), 2);
  assert.equal(client.events.size, 0);
  assert.deepEqual(await eventCounts(metrics), {
    "NodeHealCordoned/dry_run": 1,
    "NodeHealDrained/dry_run": 1,
  });
});

Deno.test("record() returns at once while a slow write goes on, and flush() waits for it", async () => {
  const client = new HeldClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  assert.equal(recorder.record("worker-1", CORDONED, { at: AT }), undefined);
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
  // record() returns at once; the retries go on behind.
  recorder.record("worker-1", CORDONED, { at: AT });
  assert.equal(client.events.size, 0, "the first retry waits 100 ms");
  await settles(recorder.flush(), "flush");
  assert.equal(callsOf(client, "createEvent"), 3);
  assert.equal(stored(client).length, 1);
  // Nothing is pending now.
  await settles(recorder.flush(), "flush");
});

/** The calls made since `from`, as method names. */
function methodsSince(client: FakeClient, from: number): string[] {
  return client.calls.slice(from).map((c) => c.method);
}

/** The one Event stored for `node`. */
function eventOf(client: FakeClient, node: string): EventBody {
  const found = stored(client).filter((e) => e.involvedObject.name === node);
  assert.equal(found.length, 1, `one Event on ${node}`);
  return found[0];
}

const SKIPPED: EventIntent = {
  reason: "NodeHealSkipped",
  type: "Normal",
  message: "Skipped control-plane-1: gate protected (node-role.kubernetes.io/control-plane)",
};

Deno.test("a repeat of an Event this recorder wrote is one PATCH carrying the version it knows", async () => {
  const client = new FakeClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  await write(recorder, "cp-1", SKIPPED, { at: AT });
  for (let i = 2; i <= 5; i++) {
    const from = client.calls.length;
    await write(recorder, "cp-1", SKIPPED, { at: new Date(AT.getTime() + i * 1000) });
    assert.deepEqual(methodsSince(client, from), ["patchEventCount"], `repeat ${i}`);
    assert.equal(eventOf(client, "cp-1").count, i);
  }
  assert.equal(eventOf(client, "cp-1").lastTimestamp, new Date(AT.getTime() + 5000).toISOString());
  assert.equal(eventOf(client, "cp-1").firstTimestamp, AT.toISOString());
  assert.deepEqual(await eventCounts(metrics), {
    "NodeHealSkipped/created": 1,
    "NodeHealSkipped/counted": 4,
  });
});

Deno.test("a burst of 100 identical records counts 100 in two calls, and every record resolves", async () => {
  const client = new FakeClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  // One write of an Event at a time; each takes every record made while the one before was
  // under way. All 100 records are made before the first call answers, so: the create (1 record),
  // then one PATCH (the other 99).
  for (let i = 0; i < 100; i++) recorder.record("cp-1", SKIPPED, { at: AT });
  await settles(recorder.flush(), "100 records");
  assert.equal(eventOf(client, "cp-1").count, 100);
  assert.deepEqual(client.calls.map((c) => c.method), ["createEvent", "patchEventCount"]);
  assert.deepEqual(await eventCounts(metrics), {
    "NodeHealSkipped/created": 1,
    "NodeHealSkipped/counted": 99,
  });

  // Another burst on the remembered Event: two PATCHes (1 record, then 99), still exact.
  const from = client.calls.length;
  for (let i = 0; i < 100; i++) recorder.record("cp-1", SKIPPED, { at: LATER });
  await settles(recorder.flush(), "100 more records");
  assert.deepEqual(methodsSince(client, from), ["patchEventCount", "patchEventCount"]);
  assert.equal(eventOf(client, "cp-1").count, 200);
  assert.equal(eventOf(client, "cp-1").lastTimestamp, LATER.toISOString());
});

Deno.test("records arriving in waves during slow writes cost one call per wave at most", async () => {
  const client = new HeldClient();
  const recorder = new EventRecorder(client, new Metrics());
  // 10 waves of 10 records, all made while the create is held: the create (the first record)
  // and one PATCH (the other 99). Then 10 waves each awaited before the next: at most two PATCHes
  // a wave (its first record, then the 9 made while that one was under way).
  for (let wave = 0; wave < 10; wave++) {
    for (let i = 0; i < 10; i++) recorder.record("cp-1", SKIPPED, { at: AT });
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.equal(client.started, 1, "one create under way, the rest wait for it");
  client.release();
  await settles(recorder.flush(), "flush");
  assert.equal(client.calls.length, 2);
  assert.equal(eventOf(client, "cp-1").count, 100);
  for (let wave = 0; wave < 10; wave++) {
    for (let i = 0; i < 10; i++) recorder.record("cp-1", SKIPPED, { at: AT });
    await settles(recorder.flush(), `wave ${wave}`);
  }
  assert.ok(client.calls.length <= 2 + 2 * 10, `${client.calls.length} calls for 200 records`);
  assert.equal(eventOf(client, "cp-1").count, 200);
});

Deno.test("an Event another writer counted meanwhile is read again and counted exactly", async () => {
  const client = new FakeClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  await write(recorder, "cp-1", SKIPPED, { at: AT });
  await write(recorder, "cp-1", SKIPPED, { at: AT });
  // Another replica counts it 3 more times: its resourceVersion moves on.
  const theirs = eventOf(client, "cp-1");
  client.putEvent({ ...theirs, count: theirs.count + 3 });
  const from = client.calls.length;
  await write(recorder, "cp-1", SKIPPED, { at: LATER });
  assert.deepEqual(methodsSince(client, from), ["patchEventCount", "readEvent", "patchEventCount"]);
  assert.equal(eventOf(client, "cp-1").count, 6);
  // What it read is remembered: the next repeat is one PATCH again.
  const next = client.calls.length;
  await write(recorder, "cp-1", SKIPPED, { at: LATER });
  assert.deepEqual(methodsSince(client, next), ["patchEventCount"]);
  assert.equal(eventOf(client, "cp-1").count, 7);
  assert.deepEqual(await eventCounts(metrics), {
    "NodeHealSkipped/created": 1,
    "NodeHealSkipped/counted": 3,
  });
});

Deno.test("an Event that expired is created again, starting its count anew", async () => {
  const client = new FakeClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  await write(recorder, "cp-1", SKIPPED, { at: AT });
  await write(recorder, "cp-1", SKIPPED, { at: AT });
  // The API server's Event TTL (1 h by default) removes it.
  client.events.delete(`default/${eventOf(client, "cp-1").metadata.name}`);
  const from = client.calls.length;
  await write(recorder, "cp-1", SKIPPED, { at: LATER });
  assert.deepEqual(methodsSince(client, from), ["patchEventCount", "createEvent"]);
  const event = eventOf(client, "cp-1");
  assert.equal(event.count, 1);
  assert.equal(event.firstTimestamp, LATER.toISOString());
  const next = client.calls.length;
  await write(recorder, "cp-1", SKIPPED, { at: LATER });
  assert.deepEqual(methodsSince(client, next), ["patchEventCount"]);
  assert.equal(eventOf(client, "cp-1").count, 2);
  assert.deepEqual(await eventCounts(metrics), {
    "NodeHealSkipped/created": 2,
    "NodeHealSkipped/counted": 2,
  });
});

Deno.test("an Event written by another replica (or before a restart) is created, read and counted", async () => {
  const client = new FakeClient();
  await write(new EventRecorder(client, new Metrics()), "cp-1", SKIPPED, { at: AT });
  const recorder = new EventRecorder(client, new Metrics());
  const from = client.calls.length;
  await write(recorder, "cp-1", SKIPPED, { at: LATER });
  assert.deepEqual(methodsSince(client, from), ["createEvent", "readEvent", "patchEventCount"]);
  assert.equal(eventOf(client, "cp-1").count, 2);
});

Deno.test("at most rememberedEvents Events are remembered; a dropped one still counts exactly", async () => {
  const client = new FakeClient();
  const recorder = new EventRecorder(client, new Metrics(), { rememberedEvents: 2 });
  for (const node of ["a", "b", "c"]) await write(recorder, node, SKIPPED, { at: AT });
  assert.equal(recorder.remembered, 2);
  // c and b are remembered, a (the least recently written) was dropped.
  let from = client.calls.length;
  await write(recorder, "c", SKIPPED, { at: AT });
  assert.deepEqual(methodsSince(client, from), ["patchEventCount"]);
  from = client.calls.length;
  await write(recorder, "a", SKIPPED, { at: AT });
  assert.deepEqual(methodsSince(client, from), ["createEvent", "readEvent", "patchEventCount"]);
  assert.equal(recorder.remembered, 2);
  // Now a and c are remembered, b was dropped.
  from = client.calls.length;
  await write(recorder, "b", SKIPPED, { at: AT });
  assert.deepEqual(methodsSince(client, from), ["createEvent", "readEvent", "patchEventCount"]);
  from = client.calls.length;
  await write(recorder, "a", SKIPPED, { at: AT });
  assert.deepEqual(methodsSince(client, from), ["patchEventCount"]);
  assert.deepEqual(
    ["a", "b", "c"].map((node) => eventOf(client, node).count),
    [3, 2, 2],
  );
  assert.equal(recorder.remembered, 2);

  // The default bound.
  assert.equal(REMEMBERED_EVENTS, 4096);
  const many = new EventRecorder(new FakeClient(), new Metrics());
  for (let i = 0; i < REMEMBERED_EVENTS + 10; i++) {
    await write(many, `worker-${i}`, SKIPPED, { at: AT });
  }
  assert.equal(many.remembered, REMEMBERED_EVENTS);
});

Deno.test("a failed count is logged and counted, never thrown, and the next record finds out what is stored", async () => {
  const logged: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { capture: (r) => logged.push(r) },
    loggers: [{ category: ["node-heal", "report"], lowestLevel: "warning", sinks: ["capture"] }],
  });
  try {
    const client = new FakeClient();
    const metrics = new Metrics();
    const recorder = new EventRecorder(client, metrics);
    await write(recorder, "cp-1", SKIPPED, { at: AT });
    client.fail("patchEventCount", 403);
    await write(recorder, "cp-1", SKIPPED, { at: AT });
    assert.equal(eventOf(client, "cp-1").count, 1);
    assert.equal(logged.length, 1);
    assert.equal(logged[0].level, "warning");
    assert.equal(logged[0].properties.node, "cp-1");
    assert.match(String(logged[0].properties.error), /403|scripted/);
    // It forgot the Event: the next record creates, reads and counts it.
    const from = client.calls.length;
    await write(recorder, "cp-1", SKIPPED, { at: LATER });
    assert.deepEqual(methodsSince(client, from), ["createEvent", "readEvent", "patchEventCount"]);
    assert.equal(eventOf(client, "cp-1").count, 2);

    // A passing failure of the PATCH is tried again with the same version.
    client.fail("patchEventCount", 503);
    await write(recorder, "cp-1", SKIPPED, { at: LATER });
    assert.equal(eventOf(client, "cp-1").count, 3);

    // A burst whose first write fails: that record fails, the rest are counted.
    client.fail("patchEventCount", 403);
    for (let i = 0; i < 10; i++) recorder.record("cp-1", SKIPPED, { at: AT });
    await settles(recorder.flush(), "burst");
    assert.equal(eventOf(client, "cp-1").count, 12);
    assert.equal(logged.length, 2);
    assert.deepEqual(await eventCounts(metrics), {
      "NodeHealSkipped/created": 1,
      "NodeHealSkipped/counted": 11,
      "NodeHealSkipped/failure": 2,
    });
  } finally {
    await reset();
  }
});

Deno.test("a dry run remembers nothing: every repeat is sent as a create, counted dry_run", async () => {
  const client = new FakeClient({ dryRun: true });
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  for (let i = 0; i < 3; i++) await write(recorder, "cp-1", SKIPPED, { at: AT });
  for (let i = 0; i < 5; i++) recorder.record("cp-1", SKIPPED, { at: AT });
  await settles(recorder.flush(), "flush");
  assert.equal(recorder.remembered, 0);
  assert.equal(client.events.size, 0);
  assert.deepEqual(client.calls.map((c) => c.method), Array(5).fill("createEvent"));
  assert.deepEqual(await eventCounts(metrics), { "NodeHealSkipped/dry_run": 8 });
});
