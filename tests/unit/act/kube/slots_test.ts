import assert from "node:assert/strict";
import { Slots } from "../../../../lib/act/kube/slots.ts";

Deno.test("a task whose signal aborts while it waits for a slot leaves the queue and never runs", async () => {
  const slots = new Slots(1);
  const hold = Promise.withResolvers<void>();
  const first = slots.run(() => hold.promise);
  const controller = new AbortController();
  let ran = false;
  const waiting = slots.run(() => {
    ran = true;
    return Promise.resolve();
  }, controller.signal);
  controller.abort(new Error("timed out"));
  await assert.rejects(waiting, /timed out/);
  const next = slots.run(() => Promise.resolve("next"));
  hold.resolve();
  await first;
  assert.equal(await next, "next");
  assert.equal(ran, false);
});
