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

Deno.test("tasks of low priority wait for every other task waiting, each kind in its order", async () => {
  const slots = new Slots(2);
  const order: string[] = [];
  const holds = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
  // Two running: everything else waits.
  const running = holds.map((h, i) => slots.run(() => (order.push(`run${i}`), h.promise)));
  const task = (name: string) => () => (order.push(name), Promise.resolve());
  const waiting = [
    slots.run(task("event1"), undefined, true),
    slots.run(task("patch1")),
    slots.run(task("event2"), undefined, true),
    slots.run(task("patch2")),
  ];
  // A low task whose signal aborts leaves its queue.
  const controller = new AbortController();
  const dropped = slots.run(task("event3"), controller.signal, true);
  controller.abort(new Error("given up"));
  await assert.rejects(dropped, /given up/);
  for (const h of holds) h.resolve();
  await Promise.all([...running, ...waiting]);
  assert.deepEqual(order, ["run0", "run1", "patch1", "patch2", "event1", "event2"]);
  // With a slot free, a low task runs at once.
  assert.equal(await slots.run(() => Promise.resolve("now"), undefined, true), "now");
});
