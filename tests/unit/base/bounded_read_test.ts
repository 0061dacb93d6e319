import assert from "node:assert/strict";
import {
  AnswerTooLarge,
  capStream,
  readCapped,
  readPrefix,
} from "../../../lib/base/bounded_read.ts";

/** A body of `chunks` chunks of `size` bytes each, counting how many were pulled and if cancelled. */
function counted(chunks: number, size: number) {
  const seen = { pulled: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (seen.pulled === chunks) return c.close();
      seen.pulled++;
      c.enqueue(new Uint8Array(size).fill(97));
    },
    cancel() {
      seen.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { body, seen };
}

Deno.test("readPrefix keeps the first bytes of a long answer and cancels the rest unread", async () => {
  const { body, seen } = counted(10_000, 1024);
  const { bytes, cut } = await readPrefix(body, 4000);
  assert.equal(bytes.byteLength, 4000);
  assert.equal(cut, true);
  assert.equal(seen.cancelled, true);
  assert.ok(seen.pulled <= 5, `pulled ${seen.pulled} chunks for 4,000 bytes`);
});

Deno.test("readPrefix reads a short answer whole, and an answer of exactly the limit is not cut", async () => {
  assert.deepEqual(await readPrefix(counted(3, 10).body, 30), {
    bytes: new Uint8Array(30).fill(97),
    cut: false,
  });
  assert.equal((await readPrefix(null, 10)).bytes.byteLength, 0);
});

Deno.test("readCapped refuses a declared length over the limit before reading, and an undeclared one at the limit", async () => {
  const { body, seen } = counted(100, 1024);
  const declared = new Response(body, { headers: { "content-length": "102400" } });
  const err = await readCapped(declared, 1000, "Prometheus's answer").catch((e) => e);
  assert.ok(err instanceof AnswerTooLarge);
  assert.equal(err.declared, 102400);
  assert.match(err.message, /^Prometheus's answer is larger than node-heal reads/);
  assert.equal(seen.pulled, 0);
  const streamed = counted(100, 1024);
  await assert.rejects(readCapped(new Response(streamed.body), 1000, "x"), AnswerTooLarge);
  assert.ok(streamed.seen.pulled <= 2);
  assert.equal(await readCapped(new Response("héllo"), 6, "x"), "héllo");
});

Deno.test("capStream passes a body through to its limit, then errors and cancels the rest", async () => {
  const { body, seen } = counted(10_000, 1024);
  const err = await new Response(capStream(body, 5000, "the SDK's answer")).text().catch((e) => e);
  assert.ok(err instanceof AnswerTooLarge, String(err));
  assert.match(err.message, /^the SDK's answer is larger than node-heal reads \(the limit is 5000/);
  assert.ok(seen.pulled < 10, `pulled ${seen.pulled}`);
  assert.equal(seen.cancelled, true);
  assert.equal(
    await new Response(capStream(counted(4, 1000).body, 4000, "x")).text(),
    "a".repeat(4000),
  );
});
