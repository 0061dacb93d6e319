// SinkQueue (lib/report/notify/queue.ts) over a scripted sink and a fake clock: retries on what
// may pass (honouring Retry-After), none on a refusal, giving up after the bound, the oldest
// dropped when full, the drain on close, and the metrics each outcome counts.
import assert from "node:assert/strict";
import { Metrics } from "../../../../lib/report/metrics.ts";
import { eventBytes, QUEUE_DEFAULTS, SinkQueue } from "../../../../lib/report/notify/queue.ts";
import type {
  Attempt,
  NotifyEvent,
  NotifyKind,
  Sink,
} from "../../../../lib/report/notify/types.ts";
import { event } from "./sample.ts";

/** A sink answering from `script` (then "sent"), recording each attempt and the clock. */
class ScriptedSink implements Sink {
  readonly type = "log" as const;
  readonly calls: { id: string; at: number }[] = [];
  gate: Promise<void> | undefined;
  constructor(
    readonly name: string,
    readonly script: Attempt[],
    readonly clock: { t: number },
    readonly kinds?: ReadonlySet<NotifyKind>,
  ) {}
  async deliver(event: NotifyEvent): Promise<Attempt> {
    this.calls.push({ id: event.id, at: this.clock.t });
    if (this.gate) await this.gate;
    return this.script.shift() ?? { result: "sent" };
  }
}

function setup(
  script: Attempt[],
  options: { capacity?: number; maxBytes?: number; kinds?: ReadonlySet<NotifyKind> } = {},
) {
  const clock = { t: 0 };
  const sink = new ScriptedSink("s", script, clock, options.kinds);
  const metrics = new Metrics();
  const waits: number[] = [];
  const queue = new SinkQueue(sink, {
    capacity: options.capacity ?? 10,
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    metrics,
    now: () => clock.t,
    random: () => 0.5,
    sleep: (ms) => {
      waits.push(ms);
      clock.t += ms;
      return Promise.resolve();
    },
  });
  const count = async (result: string) =>
    (await metrics.sent.get()).values.find((v) =>
      v.labels.result === result && v.labels.sink === "s"
    )
      ?.value ?? 0;
  return { clock, sink, metrics, waits, queue, count };
}

Deno.test("a 5xx is retried with backoff, a 429 after its Retry-After, then sent once", async () => {
  const { sink, waits, queue, count } = setup([
    { result: "retry", why: "HTTP 500" },
    { result: "retry", why: "HTTP 429", afterMs: 7000 },
    { result: "retry", why: "HTTP 503" },
  ]);
  const e = event();
  assert.equal(queue.push(e), true);
  await queue.close(1000);
  assert.deepEqual(sink.calls.map((c) => c.id), [e.id, e.id, e.id, e.id]);
  // 1st failure: ceiling 1 s jittered to 750 ms; then Retry-After; 3rd failure: ceiling 4 s → 3 s.
  assert.deepEqual(waits, [750, 7000, 3000]);
  assert.deepEqual(sink.calls.map((c) => c.at), [0, 750, 7750, 10750]);
  assert.equal(await count("retried"), 3);
  assert.equal(await count("sent"), 1);
  assert.equal(await count("dropped"), 0);
});

Deno.test("a refusal (400) is not retried, and the next entry goes on", async () => {
  const { sink, queue, count } = setup([{ result: "rejected", why: "HTTP 400: invalid_blocks" }]);
  const a = event();
  const b = event("released");
  queue.push(a);
  queue.push(b);
  await queue.close(1000);
  assert.deepEqual(sink.calls.map((c) => c.id), [a.id, b.id]);
  assert.equal(await count("rejected"), 1);
  assert.equal(await count("sent"), 1);
});

Deno.test("an entry retried past ten minutes expires; the backoff is capped at a minute", async () => {
  const script = Array.from(
    { length: 100 },
    () => ({ result: "retry", why: "HTTP 502" }) as Attempt,
  );
  const { sink, waits, queue, count } = setup(script);
  queue.push(event());
  await queue.close(1000);
  assert.ok(Math.max(...waits) <= 60_000);
  assert.ok(waits.reduce((a, b) => a + b, 0) <= 10 * 60_000);
  assert.equal(await count("expired"), 1);
  assert.equal(await count("retried"), sink.calls.length - 1);
  assert.equal(await count("sent"), 0);
});

Deno.test("Retry-After: 0 again and again ends after the attempt bound, not in a hot loop", async () => {
  const script = Array.from(
    { length: 100 },
    () => ({ result: "retry", why: "429", afterMs: 0 }) as Attempt,
  );
  const { sink, waits, queue, count } = setup(script);
  queue.push(event());
  await queue.close(1000);
  assert.equal(sink.calls.length, 20);
  assert.ok(waits.every((w) => w >= 100));
  assert.equal(await count("expired"), 1);
});

Deno.test("a full queue drops its oldest, counted; push never waits", async () => {
  const { sink, queue, count, metrics } = setup([], { capacity: 2 });
  let open!: () => void;
  sink.gate = new Promise((r) => open = r);
  const events = [event(), event(), event(), event()];
  for (const e of events) assert.equal(queue.push(e), true);
  // The first is under way; of the three waiting, the oldest (events[1]) made room.
  assert.equal(queue.depth, 2);
  assert.equal(await count("dropped"), 1);
  const gauge = (await metrics.notifyQueue.get()).values.find((v) => v.labels.sink === "s");
  assert.equal(gauge?.value, 2);
  open();
  await queue.close(1000);
  assert.deepEqual(sink.calls.map((c) => c.id), [events[0].id, events[2].id, events[3].id]);
  assert.equal(await count("sent"), 3);
});

/** An event whose alert carries `n` labels of `length` characters. */
function heavy(n: number, length: number) {
  const labels: Record<string, string> = {};
  for (let i = 0; i < n; i++) labels[`l${i}`] = "v".repeat(length);
  return event("cordoned", "node-1", { alert: { name: "A", fingerprint: "f", labels } });
}

Deno.test("an event's weight is at least its JSON's, two bytes a character of its texts and labels", () => {
  for (const e of [event(), heavy(60, 4000), heavy(3, 10)]) {
    const json = JSON.stringify(e).length;
    assert.ok(eventBytes(e) >= json, `${eventBytes(e)} < ${json}`);
    assert.ok(eventBytes(e) <= 2 * json + 64 * 80, `${eventBytes(e)} for ${json}`);
  }
  assert.ok(eventBytes(heavy(60, 4000)) >= 2 * 60 * 4000);
});

Deno.test("a queue full by weight drops its oldest, counted, however few it holds; its weight follows what waits", async () => {
  const one = eventBytes(heavy(60, 4000));
  const { sink, queue, count } = setup([], { capacity: 1000, maxBytes: 3 * one });
  let open!: () => void;
  sink.gate = new Promise((r) => open = r);
  const events = Array.from({ length: 10 }, () => heavy(60, 4000));
  for (const e of events) assert.equal(queue.push(e), true);
  // The first is under way; three weigh the bound, so of the nine pushed after it six were dropped.
  assert.equal(queue.depth, 3);
  assert.equal(queue.bytes, 3 * one);
  assert.equal(await count("dropped"), 6);
  open();
  await queue.close(1000);
  assert.deepEqual(sink.calls.map((c) => c.id), [events[0], ...events.slice(7)].map((e) => e.id));
  assert.equal(queue.bytes, 0);
  assert.equal(await count("sent"), 4);
});

Deno.test("by default a queue holds 8 MiB of alerts at most, whatever its count", async () => {
  const { sink, queue, count } = setup([], { capacity: 1000 });
  let open!: () => void;
  sink.gate = new Promise((r) => open = r);
  for (let i = 0; i < 300; i++) queue.push(heavy(60, 4000));
  assert.equal(QUEUE_DEFAULTS.maxBytes, 8 * 1024 * 1024);
  assert.ok(queue.bytes <= QUEUE_DEFAULTS.maxBytes, `${queue.bytes}`);
  assert.ok(queue.depth > 1 && queue.depth < 30, `${queue.depth} waiting`);
  assert.equal(await count("dropped"), 299 - queue.depth);
  open();
  await queue.close(1000);
});

Deno.test("close drains what is waiting, then refuses more (counted dropped)", async () => {
  const { sink, queue, count } = setup([]);
  const events = [event(), event(), event()];
  for (const e of events) queue.push(e);
  await queue.close(1000);
  assert.equal(sink.calls.length, 3);
  assert.equal(queue.push(event()), false);
  assert.equal(await count("dropped"), 1);
  assert.equal(queue.depth, 0);
});

Deno.test("close stops at its bound: the one under way and those waiting are counted dropped", async () => {
  const clock = { t: 0 };
  const sink: Sink & { seen: number } = {
    name: "s",
    type: "log",
    seen: 0,
    // Answers only when aborted, as a fetch to a hanging receiver does.
    deliver(_e, signal) {
      sink.seen++;
      return new Promise((resolve) =>
        signal.addEventListener("abort", () => resolve({ result: "retry", why: "aborted" }))
      );
    },
  };
  const metrics = new Metrics();
  const queue = new SinkQueue(sink, { capacity: 10, metrics, now: () => clock.t });
  for (let i = 0; i < 3; i++) queue.push(event());
  const started = performance.now();
  await queue.close(50);
  const took = performance.now() - started;
  assert.ok(took >= 45 && took < 1000, `close took ${took} ms`);
  assert.equal(sink.seen, 1);
  const dropped = (await metrics.sent.get()).values.find((v) => v.labels.result === "dropped");
  assert.equal(dropped?.value, 3);
  assert.equal((await metrics.sent.get()).values.some((v) => v.labels.result === "retried"), false);
});

Deno.test("an attempt is cut at attemptMs and retried", async () => {
  let calls = 0;
  const sink: Sink = {
    name: "s",
    type: "log",
    deliver(_e, signal) {
      if (++calls > 1) return Promise.resolve({ result: "sent" });
      return new Promise((resolve) =>
        signal.addEventListener(
          "abort",
          () => resolve({ result: "retry", why: String((signal.reason as Error).name) }),
        )
      );
    },
  };
  const queue = new SinkQueue(sink, { capacity: 1, attemptMs: 30, baseMs: 10 });
  queue.push(event());
  await queue.close(2000);
  assert.equal(calls, 2);
});

Deno.test("a kind the sink cannot send is not queued and not counted", async () => {
  const { sink, queue, metrics } = setup([], { kinds: new Set<NotifyKind>(["cordoned"]) });
  assert.equal(queue.push(event("drainStarted")), false);
  assert.equal(queue.push(event("cordoned")), true);
  await queue.close(1000);
  assert.equal(sink.calls.length, 1);
  const results = (await metrics.sent.get()).values.map((v) => v.labels.result);
  assert.deepEqual(results, ["sent"]);
});

Deno.test("a sink that throws is retried, and its message is not repeated", async () => {
  let calls = 0;
  const sink: Sink = {
    name: "s",
    type: "log",
    deliver() {
      if (++calls === 1) throw new Error("https://hooks.slack.com/services/SECRET");
      return Promise.resolve({ result: "sent" });
    },
  };
  const queue = new SinkQueue(sink, { capacity: 1, baseMs: 1 });
  queue.push(event());
  await queue.close(1000);
  assert.equal(calls, 2);
});
