// TimeBounds (lib/act/kube/time_bound.ts): the calls of one client bounded with one timer between
// them, failing each late one as its own timer would have, and leaving no timer behind.
import assert from "node:assert/strict";
import { TimeBounds } from "../../../../lib/act/kube/time_bound.ts";
import { KubeError } from "../../../../lib/act/kube/types.ts";

Deno.test("TimeBounds passes on what calls answer in time, values and errors alike", async () => {
  const bounds = new TimeBounds(1000);
  assert.equal(await bounds.bound(Promise.resolve("node"), "read node"), "node");
  await assert.rejects(bounds.bound(Promise.reject(new Error("refused")), "read node"), /refused/);
});

Deno.test("TimeBounds fails each call not answered in time at its own deadline, and only those", async () => {
  const bounds = new TimeBounds(40);
  const start = performance.now();
  const never = new Promise<never>(() => {});
  const first = bounds.bound(never, `read node "a"`);
  const quick = Promise.withResolvers<string>();
  const answered = bounds.bound(quick.promise, `read node "b"`);
  await new Promise((r) => setTimeout(r, 20));
  const second = bounds.bound(never, `read node "c"`);
  quick.resolve("b");
  assert.equal(await answered, "b");
  await assert.rejects(first, (err) => {
    assert.ok(err instanceof KubeError);
    assert.equal(err.message, `Cannot read node "a": the API server did not answer within 40 ms`);
    return true;
  });
  const firstAt = performance.now() - start;
  await assert.rejects(second, /Cannot read node "c": the API server did not answer within 40 ms/);
  const secondAt = performance.now() - start;
  assert.ok(firstAt >= 39, `the first failed after ${firstAt} ms`);
  assert.ok(secondAt >= 59, `the second failed after ${secondAt} ms, not with the first`);
});

Deno.test("TimeBounds ignores an answer that comes after the call was failed as late", async () => {
  const bounds = new TimeBounds(10);
  const slow = Promise.withResolvers<string>();
  const call = bounds.bound(slow.promise, "read node");
  await assert.rejects(call, /did not answer within 10 ms/);
  slow.resolve("too late");
  assert.equal(await bounds.bound(Promise.resolve("next"), "read node"), "next");
});

Deno.test("TimeBounds leaves no timer once every call has answered, among many", async () => {
  // The test's sanitizer fails it if a timer is left.
  const bounds = new TimeBounds(60_000);
  const calls = Array.from({ length: 3000 }, (_, i) => {
    const { promise, resolve } = Promise.withResolvers<number>();
    return { bound: bounds.bound(promise, "read node"), resolve: () => resolve(i) };
  });
  // Answered out of order: the last half first, then the rest.
  for (const c of calls.slice(1500)) c.resolve();
  for (const c of calls.slice(0, 1500)) c.resolve();
  const values = await Promise.all(calls.map((c) => c.bound));
  assert.deepEqual(values, calls.map((_, i) => i));
});
