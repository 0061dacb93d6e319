// The shared utilities: one duration parser and formatter, one retry and backoff, one sleep and
// deadline.
import assert from "node:assert/strict";
import fc from "fast-check";
import { durationMs, formatDuration } from "../../../lib/base/duration.ts";
import { fnv1a32 } from "../../../lib/base/fnv.ts";
import { Backoff, MAX_RETRY_AFTER_MS, passing, retry } from "../../../lib/base/retry.ts";
import { KubeError } from "../../../lib/act/kube/types.ts";
import { deadline, sleep, untilAborted } from "../../../lib/base/timing.ts";

Deno.test("durationMs() reads durations as people write them, and nothing else", () => {
  assert.equal(durationMs("500ms"), 500);
  assert.equal(durationMs("90s"), 90_000);
  assert.equal(durationMs(" 1.5m "), 90_000);
  assert.equal(durationMs("4h"), 14_400_000);
  for (const bad of ["", "10", "5 m", "1d", "-1s", "s"]) assert.equal(durationMs(bad), undefined);
});

Deno.test("formatDuration() writes the largest unit that divides, and reads back the same", () => {
  assert.deepEqual([3_600_000, 600_000, 90_000, 1500, 0].map(formatDuration), [
    "1h",
    "10m",
    "90s",
    "1500ms",
    "0s",
  ]);
  for (const ms of [1, 999, 1000, 61_000, 7_200_000]) {
    assert.equal(durationMs(formatDuration(ms)), ms);
  }
});

Deno.test("retry() tries again on passing failures only, as many times as it has delays", async () => {
  const failing = (statuses: (number | undefined)[]) => {
    let calls = 0;
    const call = () => {
      const status = statuses[calls++];
      return calls > statuses.length
        ? Promise.resolve(calls)
        : Promise.reject(Object.assign(new Error(`status ${status}`), { status }));
    };
    return { call, calls: () => calls };
  };
  const blips = failing([503, undefined]);
  assert.equal(await retry(blips.call, { delaysMs: [1, 1] }), 3);
  const permanent = failing([403]);
  await assert.rejects(retry(permanent.call, { delaysMs: [1, 1] }), /status 403/);
  assert.equal(permanent.calls(), 1);
  const outlasting = failing([500, 500, 500]);
  await assert.rejects(retry(outlasting.call, { delaysMs: [1, 1] }), /status 500/);
  assert.equal(outlasting.calls(), 3);
  assert.deepEqual([undefined, 429, 500, 503, 404, 409].map(passing), [
    true,
    true,
    true,
    true,
    false,
    false,
  ]);
});

Deno.test("deadline() answers late work with the caller's error, and sleep() ends on abort", async () => {
  await assert.rejects(deadline(sleep(1000), 10, () => new Error("too late")), /too late/);
  assert.equal(await deadline(Promise.resolve(7), 1000, () => new Error("never")), 7);
  const stop = new AbortController();
  const started = Date.now();
  const slept = sleep(10_000, stop.signal);
  stop.abort();
  await slept;
  assert.ok(Date.now() - started < 1000);
});

Deno.test("untilAborted() answers with the caller's error when the signal aborts, before or during", async () => {
  const stop = new AbortController();
  const waiting = untilAborted(new Promise<never>(() => {}), stop.signal, () => new Error("cut"));
  stop.abort();
  await assert.rejects(waiting, /cut/);
  await assert.rejects(
    untilAborted(Promise.resolve(1), stop.signal, () => new Error("late")),
    /late/,
  );
  assert.equal(
    await untilAborted(Promise.resolve(2), new AbortController().signal, () => new Error()),
    2,
  );
});

Deno.test("retry() waits the Retry-After a 429 asks for, not its fixed delay, and gives up on one too long", async () => {
  const times: number[] = [];
  let calls = 0;
  const call = () => {
    times.push(performance.now());
    calls++;
    return calls === 1
      ? Promise.reject(new KubeError("too many requests", 429, 300))
      : Promise.resolve("ok");
  };
  assert.equal(await retry(call, { delaysMs: [1] }), "ok");
  assert.ok(times[1] - times[0] >= 290, `waited ${times[1] - times[0]} ms, asked 300`);
  let tries = 0;
  const slow = () => {
    tries++;
    return Promise.reject(new KubeError("too many requests", 429, MAX_RETRY_AFTER_MS + 1));
  };
  await assert.rejects(retry(slow, { delaysMs: [1, 1] }), /too many requests/);
  assert.equal(tries, 1, "not tried again sooner than asked");
});

/** A clock tests move by hand (ms). */
function handClock(): { now: () => number; pass: (ms: number) => void } {
  let t = 0;
  return { now: () => t, pass: (ms) => void (t += ms) };
}

/** Random numbers from a fixed seed (a linear congruential generator), in [0, 1). */
function seeded(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

Deno.test("Backoff's delays start at 0.8 s and double to a 30 s cap, as client-go's reflector's do", () => {
  const clock = handClock();
  const least = new Backoff({ random: () => 0, now: clock.now });
  const delays = Array.from({ length: 9 }, () => least.next());
  assert.deepEqual(delays, [800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000, 30_000]);
  const own = new Backoff({ initialMs: 10, capMs: 35, factor: 3, jitter: 0, now: clock.now });
  assert.deepEqual([own.next(), own.next(), own.next(), own.next()], [10, 30, 35, 35]);
});

Deno.test("Backoff lengthens each delay by up to itself at random: d to 2d, never beyond", () => {
  const clock = handClock();
  const most = new Backoff({ random: () => 0.999_999, now: clock.now });
  const longest = Array.from({ length: 8 }, () => most.next());
  assert.deepEqual(longest.map(Math.round), [
    1600,
    3200,
    6400,
    12_800,
    25_600,
    51_200,
    60_000,
    60_000,
  ]);
  const random = seeded(42);
  const draws: number[] = [];
  for (let run = 0; run < 200; run++) {
    const backoff = new Backoff({ random, now: clock.now });
    for (const base of [800, 1600, 3200, 6400, 12_800, 25_600, 30_000]) {
      const delay = backoff.next();
      assert.ok(delay >= base && delay < 2 * base, `${delay} ms for a ${base} ms step`);
      draws.push((delay - base) / base);
    }
  }
  // Spread over the whole range, not bunched at one end.
  assert.ok(Math.min(...draws) < 0.05 && Math.max(...draws) > 0.95, "jitter spans [0, 1)");
});

Deno.test("Backoff starts again from 0.8 s only after 2 minutes in which no delay was asked for", () => {
  const clock = handClock();
  const backoff = new Backoff({ random: () => 0, now: clock.now });
  for (let i = 0; i < 6; i++) clock.pass(backoff.next());
  assert.equal(backoff.next(), 30_000);
  clock.pass(120_000); // exactly 2 minutes: not yet healthy long enough
  assert.equal(backoff.next(), 30_000);
  clock.pass(120_001);
  assert.equal(backoff.next(), 800);
  assert.equal(backoff.next(), 1600);
});

Deno.test("Backoff is not reset by success in between: a 410 storm's good lists and failed watches keep growing the delay", () => {
  // The storm: each list succeeds (nothing is asked of the backoff), each watch fails at once
  // and asks for a delay; the list after it succeeds again after 200 ms.
  const clock = handClock();
  const backoff = new Backoff({ random: () => 0, now: clock.now });
  const delays: number[] = [];
  while (clock.now() < 10 * 60_000) {
    clock.pass(200); // the list, successful
    const delay = backoff.next(); // the watch, failed at once
    delays.push(delay);
    clock.pass(delay);
  }
  assert.deepEqual(delays.slice(0, 7), [800, 1600, 3200, 6400, 12_800, 25_600, 30_000]);
  assert.ok(delays.slice(6).every((d) => d === 30_000), "never back to 0.8 s while it fails");
  // Failing every 100 s (less than the 2 minutes) never resets either.
  clock.pass(100_000 - delays.at(-1)!);
  for (let i = 0; i < 10; i++) {
    assert.equal(backoff.next(), 30_000);
    clock.pass(100_000);
  }
});

Deno.test("fnv1a32() goes on from a seed as if the texts were joined", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
      assert.equal(fnv1a32(b, fnv1a32(a)), fnv1a32(a + b));
    }),
  );
  // The reference value of FNV-1a 32 for "a".
  assert.equal(fnv1a32("a"), 0xe40c292c);
});
