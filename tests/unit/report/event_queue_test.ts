// The queue of EventRecorder (lib/report/events.ts) over the in-memory FakeClient: record() never
// waits, the bound on distinct Events waiting and what is dropped past it, the writers under way
// and their order, the bound on flush(), the drop warnings, and the delay each record waited.
import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import {
  DROP_LOG_INTERVAL_MS,
  EVENT_WRITERS,
  EventRecorder,
  MAX_QUEUED_EVENTS,
} from "../../../lib/report/events.ts";
import { Metrics } from "../../../lib/report/metrics.ts";
import type { EventIntent } from "../../../lib/decide/decision.ts";
import type { EventBody, EventVersion } from "../../../lib/act/kube/types.ts";
import { deadline } from "../../../lib/base/timing.ts";
import { FakeClient } from "../../fakes/fake_client.ts";
import { withLogs } from "../../support/logs.ts";

const AT = new Date("2024-05-01T10:00:00.000Z");

/** A skip whose message names `node`: a distinct Event per node. */
function skipped(node: string): EventIntent {
  return { reason: "NodeHealSkipped", type: "Normal", message: `Skipped ${node}: gate rate` };
}

/** A FakeClient whose Event writes wait until {@link release} (a slow API server). */
class HeldClient extends FakeClient {
  #gate = Promise.withResolvers<void>();
  /** Nodes whose Event writes started, in order. */
  started: string[] = [];

  release(): void {
    this.#gate.resolve();
  }

  override async createEvent(event: EventBody): Promise<EventVersion | undefined> {
    this.started.push(event.involvedObject.name);
    await this.#gate.promise;
    return super.createEvent(event);
  }

  override async patchEventCount(
    ...args: Parameters<FakeClient["patchEventCount"]>
  ): Promise<EventVersion> {
    this.started.push(args[1].split(".")[0]);
    await this.#gate.promise;
    return super.patchEventCount(...args);
  }
}

/** `reason/result` → value of nodeheal_events_total. */
async function eventCounts(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.events.results.get();
  return Object.fromEntries(
    values.filter((v) => v.value > 0).map((
      v,
    ) => [`${v.labels.reason}/${v.labels.result}`, v.value]),
  );
}

async function queuedGauge(metrics: Metrics): Promise<number> {
  return (await metrics.events.queued.get()).values[0]?.value ?? 0;
}

/** Fails the test instead of hanging when `work` never settles. */
function settles<T>(work: Promise<T>, what: string): Promise<T> {
  return deadline(work, 5000, () => new Error(`${what} did not settle within 5 s`));
}

/** The count of each node's one Event. */
function counts(client: FakeClient): Record<string, number> {
  return Object.fromEntries(
    [...client.events.values()].map((e) => [e.involvedObject.name, e.count]),
  );
}

Deno.test("record() returns before its write starts to answer, and never throws", async () => {
  const client = new HeldClient();
  const recorder = new EventRecorder(client, new Metrics());
  const before = performance.now();
  for (let i = 0; i < 50; i++) {
    assert.equal(recorder.record(`w${i}`, skipped(`w${i}`), { at: AT }), undefined);
  }
  assert.ok(performance.now() - before < 1000);
  assert.equal(client.events.size, 0, "nothing written yet: every write is held");
  // A client that throws at once is the writer's to tell, not record()'s.
  const broken = new FakeClient();
  broken.createEvent = () => {
    throw new Error("boom");
  };
  const metrics = new Metrics();
  const other = new EventRecorder(broken, metrics);
  other.record("w1", skipped("w1"), { at: AT });
  await settles(other.flush(), "flush");
  assert.deepEqual(await eventCounts(metrics), { "NodeHealSkipped/failure": 1 });
  client.release();
  await settles(recorder.flush(), "flush");
  assert.equal(client.events.size, 50);
});

Deno.test("writes are made by EVENT_WRITERS writers at most, in the order the Events were queued", async () => {
  assert.equal(EVENT_WRITERS, 8);
  const many = new HeldClient();
  const defaults = new EventRecorder(many, new Metrics());
  for (let i = 0; i < 10; i++) defaults.record(`n${i}`, skipped(`n${i}`), { at: AT });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(many.started.length, EVENT_WRITERS, "as many writes under way as writers");
  assert.equal(defaults.queued, 10 - EVENT_WRITERS);
  many.release();
  await settles(defaults.flush(), "flush");

  const client = new HeldClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics, { writers: 2 });
  for (const node of ["a", "b", "c", "d"]) recorder.record(node, skipped(node), { at: AT });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(client.started, ["a", "b"], "two writes under way, the rest wait");
  assert.equal(recorder.queued, 2);
  assert.equal(await queuedGauge(metrics), 2);
  // A repeat of "a" while it is written waits behind those queued before it.
  recorder.record("a", skipped("a"), { at: AT });
  client.release();
  await settles(recorder.flush(), "flush");
  assert.deepEqual(client.started, ["a", "b", "c", "d", "a"]);
  assert.deepEqual(counts(client), { a: 2, b: 1, c: 1, d: 1 });
  assert.equal(await queuedGauge(metrics), 0);

  const one = new HeldClient();
  const single = new EventRecorder(one, new Metrics(), { writers: 1 });
  for (const node of ["a", "b", "c"]) single.record(node, skipped(node), { at: AT });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(one.started, ["a"]);
  one.release();
  await settles(single.flush(), "flush");
  assert.deepEqual(one.started, ["a", "b", "c"]);
});

Deno.test("a new distinct Event past maxQueued is dropped and counted; repeats of those queued are counted in", async () => {
  assert.equal(MAX_QUEUED_EVENTS, 1000);
  const client = new HeldClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics, { maxQueued: 2, writers: 1 });
  // a is written (held), b and c wait: the queue is full.
  for (const node of ["a", "b", "c", "d", "e"]) recorder.record(node, skipped(node), { at: AT });
  assert.equal(recorder.queued, 2);
  // Repeats of an Event queued, or being written, join its next write: never dropped.
  recorder.record("b", skipped("b"), { at: AT });
  recorder.record("a", skipped("a"), { at: AT });
  assert.equal(recorder.queued, 3, "a's next write waits too");
  recorder.record("f", skipped("f"), { at: AT });
  assert.deepEqual(await eventCounts(metrics), { "NodeHealSkipped/dropped": 3 });
  client.release();
  await settles(recorder.flush(), "flush");
  assert.deepEqual(counts(client), { a: 2, b: 2, c: 1 });
  assert.deepEqual(await eventCounts(metrics), {
    "NodeHealSkipped/created": 3,
    "NodeHealSkipped/counted": 2,
    "NodeHealSkipped/dropped": 3,
  });
  // Room again: a new Event is written.
  recorder.record("d", skipped("d"), { at: AT });
  await settles(recorder.flush(), "flush");
  assert.equal(counts(client).d, 1);
});

Deno.test("drops are warned of once, then at most once a minute with the count since", async () => {
  await withLogs(async (logs: LogRecord[]) => {
    let now = AT.getTime();
    const recorder = new EventRecorder(new FakeClient(), new Metrics(), {
      maxQueued: 0,
      now: () => new Date(now),
    });
    const warnings = () =>
      logs.filter((r) => r.level === "warning" && String(r.rawMessage).includes("Dropped"));
    for (let i = 0; i < 5; i++) recorder.record(`w${i}`, skipped(`w${i}`), { at: AT });
    assert.equal(warnings().length, 1);
    assert.equal(warnings()[0].properties.dropped, 1);
    now += DROP_LOG_INTERVAL_MS / 2;
    for (let i = 0; i < 3; i++) recorder.record(`w${i}`, skipped(`w${i}`), { at: AT });
    assert.equal(warnings().length, 1, "not again within the minute");
    now += DROP_LOG_INTERVAL_MS / 2;
    recorder.record("w9", skipped("w9"), { at: AT });
    assert.equal(warnings().length, 2);
    assert.equal(warnings()[1].properties.dropped, 8, "the 4 + 3 since, and this one");
    // What is left untold is told at the flush.
    recorder.record("w9", skipped("w9"), { at: AT });
    await settles(recorder.flush(), "flush");
    assert.equal(warnings().length, 3);
    assert.equal(warnings()[2].properties.dropped, 1);
    await settles(recorder.flush(), "flush");
    assert.equal(warnings().length, 3, "nothing new, nothing told");
  });
});

Deno.test("flush() waits flushMs at most; what still waits is dropped, counted and told once", async () => {
  await withLogs(async (logs: LogRecord[]) => {
    const client = new HeldClient();
    const metrics = new Metrics();
    const recorder = new EventRecorder(client, metrics, { writers: 1, flushMs: 50 });
    for (const node of ["a", "b", "c"]) recorder.record(node, skipped(node), { at: AT });
    recorder.record("c", skipped("c"), { at: AT });
    const started = performance.now();
    await settles(recorder.flush(), "flush");
    const took = performance.now() - started;
    assert.ok(took >= 45 && took < 1000, `flush took ${took} ms`);
    assert.deepEqual(await eventCounts(metrics), { "NodeHealSkipped/dropped": 3 });
    assert.equal(recorder.queued, 0);
    assert.equal(await queuedGauge(metrics), 0);
    const told = logs.filter((r) => String(r.rawMessage).includes("Shutdown came before"));
    assert.equal(told.length, 1);
    assert.equal(told[0].properties.left, 3);
    // The write under way goes on, and lands.
    client.release();
    await settles(recorder.flush(), "flush");
    assert.deepEqual(counts(client), { a: 1 });
    assert.deepEqual(client.started, ["a"], "b and c were never sent");
  });
});

Deno.test("each record's delay, from record() to the end of its write, is observed", async () => {
  const client = new HeldClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  recorder.record("a", skipped("a"), { at: AT });
  recorder.record("a", skipped("a"), { at: AT });
  recorder.record("b", skipped("b"), { at: AT });
  await new Promise((r) => setTimeout(r, 60));
  client.release();
  await settles(recorder.flush(), "flush");
  const { values } = await metrics.events.delay.get();
  const count = values.find((v) => v.metricName === "nodeheal_event_delay_seconds_count")?.value;
  const sum = values.find((v) => v.metricName === "nodeheal_event_delay_seconds_sum")?.value ?? 0;
  assert.equal(count, 3, "one observation a record");
  assert.ok(sum >= 3 * 0.05, `sum ${sum} s: each waited for the held write`);
  // A failed write counts its records' delay too.
  const failing = new FakeClient();
  failing.fail("createEvent", 403);
  const m2 = new Metrics();
  const r2 = new EventRecorder(failing, m2);
  r2.record("a", skipped("a"), { at: AT });
  await settles(r2.flush(), "flush");
  const v2 = (await m2.events.delay.get()).values;
  assert.equal(v2.find((v) => v.metricName === "nodeheal_event_delay_seconds_count")?.value, 1);
});
