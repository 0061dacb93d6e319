// The shared utilities: one duration parser and formatter, one retry, one sleep and deadline.
import assert from "node:assert/strict";
import { durationMs, formatDuration } from "../../lib/duration.ts";
import { MAX_RETRY_AFTER_MS, passing, retry } from "../../lib/retry.ts";
import { KubeError } from "../../lib/act/kube_types.ts";
import { deadline, sleep, untilAborted } from "../../lib/timing.ts";

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
