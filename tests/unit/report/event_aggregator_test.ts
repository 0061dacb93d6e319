// Similar Events combined (lib/report/event_aggregator.ts, as client-go's EventAggregator): the
// aggregator alone (the count of distinct messages, the interval, the bound on keys), and through
// EventRecorder over the in-memory FakeClient (the combined Event's name, message and count).
import assert from "node:assert/strict";
import {
  AGGREGATE_INTERVAL_MS,
  AGGREGATE_KEYS,
  AGGREGATE_MAX_EVENTS,
  AGGREGATE_PREFIX,
  EventAggregator,
} from "../../../lib/report/event_aggregator.ts";
import { EventRecorder } from "../../../lib/report/events.ts";
import { Metrics } from "../../../lib/report/metrics.ts";
import type { EventIntent } from "../../../lib/decide/decision.ts";
import type { EventBody } from "../../../lib/act/kube/types.ts";
import { FakeClient } from "../../fakes/fake_client.ts";

const T0 = Date.parse("2024-05-01T10:00:00.000Z");

/** A skip of `node` whose message carries a count, as node-heal's do: `n` makes it distinct. */
function skip(n: number): EventIntent {
  return {
    reason: "NodeHealSkipped",
    type: "Normal",
    message: `Skipped w1: gate minHealthy (${n} of 10 nodes unavailable)`,
  };
}

Deno.test("client-go's constants: 10 distinct messages, 10 minutes, 4,096 keys, its prefix", () => {
  assert.equal(AGGREGATE_MAX_EVENTS, 10);
  assert.equal(AGGREGATE_INTERVAL_MS, 600_000);
  assert.equal(AGGREGATE_KEYS, 4096);
  assert.equal(AGGREGATE_PREFIX, "(combined from similar events): ");
});

Deno.test("combine() combines from the 10th distinct message of a key within the interval on", () => {
  const a = new EventAggregator();
  const seen = Array.from({ length: 12 }, (_, i) => a.combine("k", `m${i}`, T0 + i * 1000));
  assert.deepEqual(seen, [...Array(9).fill(false), true, true, true]);
  // A repeat of a message seen is not a new one; another key counts on its own.
  const b = new EventAggregator();
  for (let i = 0; i < 20; i++) assert.equal(b.combine("k", "same", T0), false);
  for (let i = 0; i < 9; i++) assert.equal(b.combine("other", `m${i}`, T0), false);
  // Ten minutes without a similar Event: counted anew (client-go: since the last one).
  const c = new EventAggregator();
  for (let i = 0; i < 10; i++) c.combine("k", `m${i}`, T0 + i * 60_000);
  const last = T0 + 9 * 60_000;
  assert.equal(c.combine("k", "m-new", last + AGGREGATE_INTERVAL_MS), true, "just within");
  const quiet = last + 2 * AGGREGATE_INTERVAL_MS + 1;
  assert.equal(c.combine("k", "m-later", quiet), false, "past the interval: fresh");
});

Deno.test("combine() remembers at most its bound of keys, the least recently seen dropped", () => {
  const a = new EventAggregator(2);
  for (let i = 0; i < 9; i++) a.combine("k1", `m${i}`, T0);
  a.combine("k2", "x", T0);
  a.combine("k3", "x", T0);
  assert.equal(a.size, 2);
  // k1 was dropped: its 10th distinct message counts as its first.
  assert.equal(a.combine("k1", "m9", T0), false);
  // k3 is still remembered (k2 was dropped for k1).
  for (let i = 0; i < 8; i++) a.combine("k3", `y${i}`, T0);
  assert.equal(a.combine("k3", "y8", T0), true);
});

/** The Events stored on `node`, oldest name first. */
function eventsOn(client: FakeClient, node: string): EventBody[] {
  return [...client.events.values()].filter((e) => e.involvedObject.name === node);
}

Deno.test("records past the 10th distinct message are one combined Event, its count growing and its message the latest", async () => {
  let now = T0;
  const client = new FakeClient();
  const recorder = new EventRecorder(client, new Metrics(), { now: () => new Date(now) });
  for (let i = 1; i <= 9; i++) {
    recorder.record("w1", skip(i), { at: new Date(now) });
    await recorder.flush();
  }
  assert.equal(eventsOn(client, "w1").length, 9, "nine distinct messages, nine Events");
  for (let i = 10; i <= 12; i++) {
    now += 1000;
    recorder.record("w1", skip(i), { at: new Date(now) });
    await recorder.flush();
  }
  const events = eventsOn(client, "w1");
  assert.equal(events.length, 10);
  const combined = events.filter((e) => e.message.startsWith(AGGREGATE_PREFIX));
  assert.equal(combined.length, 1);
  const [c] = combined;
  assert.match(c.metadata.name, /^w1\.nodeheal\.[0-9a-f]{8}$/);
  assert.equal(c.count, 3);
  assert.equal(c.message, `${AGGREGATE_PREFIX}${skip(12).message}`);
  assert.equal(c.reason, "NodeHealSkipped");
  assert.equal(c.type, "Normal");
  assert.equal(c.lastTimestamp, new Date(now).toISOString());
  // A repeat is one PATCH that carries the latest message.
  const patches = client.calls.filter((x) => x.method === "patchEventCount");
  assert.equal(patches.length, 2);
  // Another node, or another reason, is not combined with w1's.
  recorder.record("w2", skip(1), { at: new Date(now) });
  recorder.record("w1", { ...skip(1), reason: "NodeHealCordoned" }, { at: new Date(now) });
  await recorder.flush();
  assert.equal(eventsOn(client, "w2")[0].message, skip(1).message);
  assert.ok(eventsOn(client, "w1").some((e) => e.reason === "NodeHealCordoned" && e.count === 1));
});

Deno.test("a burst of varying messages costs a few writes: ten Events, the rest counted on the combined one", async () => {
  const client = new FakeClient();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  for (let i = 1; i <= 200; i++) recorder.record("w1", skip(i), { at: new Date(T0) });
  await recorder.flush();
  const events = eventsOn(client, "w1");
  assert.equal(events.length, 10);
  const combined = events.find((e) => e.message.startsWith(AGGREGATE_PREFIX));
  assert.equal(combined?.count, 191);
  assert.equal(combined?.message, `${AGGREGATE_PREFIX}${skip(200).message}`);
  assert.ok(client.calls.length <= 12, `${client.calls.length} calls for 200 records`);
});
