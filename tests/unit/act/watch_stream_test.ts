// readWatch (lib/act/kube/watch_stream.ts) over bodies made in memory: events split anywhere
// between chunks, the cap on a line to the byte, statuses, and bounds and aborts that end the read
// even when the transport never does.
import assert from "node:assert/strict";
import { readWatch, type WatchEvent } from "../../../lib/act/kube/watch_stream.ts";

const BOUNDS = { answerMs: 5000, idleMs: 5000, deadlineMs: 10_000, maxEventBytes: 1024 };
const encoder = new TextEncoder();

/** A body of these chunks, then its end (or no end: `open`). */
function body(chunks: (string | Uint8Array)[], options: { open?: boolean } = {}) {
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) {
        c.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      }
      if (!options.open) c.close();
    },
  });
}

/** Reads a watch answered with `response`; what was told, and how it ended. */
async function read(
  response: Response | (() => Promise<Response>),
  options: Partial<typeof BOUNDS> & { signal?: AbortSignal } = {},
) {
  const events: WatchEvent[] = [];
  let opened = 0;
  const started = performance.now();
  const error = await readWatch(
    () => typeof response === "function" ? response() : Promise.resolve(response),
    { opened: () => void opened++, event: (e) => void events.push(e) },
    { ...BOUNDS, signal: new AbortController().signal, ...options },
  ).then(() => undefined, (e: Error) => e);
  return { events, opened, error, ms: performance.now() - started };
}

const line = (type: string, rv: string) =>
  JSON.stringify({ type, object: { metadata: { resourceVersion: rv } } }) + "\n";

Deno.test("readWatch() tells each event once its line has all come, however the chunks cut it", async () => {
  const text = line("ADDED", "1") + "\n" + line("MODIFIED", "2") + line("BOOKMARK", "3");
  const bytes = encoder.encode(text);
  // Every way to cut the body in three.
  for (let a = 0; a <= bytes.length; a += 7) {
    for (let b = a; b <= bytes.length; b += 11) {
      const { events, opened, error } = await read(
        new Response(body([bytes.slice(0, a), bytes.slice(a, b), bytes.slice(b)])),
      );
      assert.equal(error, undefined);
      assert.equal(opened, 1);
      assert.deepEqual(events.map((e) => e.type), ["ADDED", "MODIFIED", "BOOKMARK"]);
    }
  }
});

Deno.test("readWatch() reads a last line that has no newline", async () => {
  const { events, error } = await read(new Response(body([line("ADDED", "1").trim()])));
  assert.equal(error, undefined);
  assert.deepEqual(events.map((e) => e.type), ["ADDED"]);
});

Deno.test("readWatch() takes a line of exactly maxEventBytes and fails one byte longer, before its end comes", async () => {
  const sized = (n: number) => {
    const head = '{"type":"ADDED","object":{"x":"';
    const tail = '"}}';
    return head + "a".repeat(n - head.length - tail.length) + tail;
  };
  const ok = await read(new Response(body([sized(1024) + "\n"])));
  assert.equal(ok.error, undefined);
  assert.equal(ok.events.length, 1);
  // The line's end never comes: the cap is what ends it.
  const long = await read(new Response(body([sized(1025).slice(0, 1025)], { open: true })));
  assert.match(String(long.error), /a watch event is longer than 1024 bytes/);
  // Spread over many chunks.
  const chunks = Array.from({ length: 40 }, () => "a".repeat(30));
  const spread = await read(new Response(body(['{"type":"ADDED","object":{"x":"', ...chunks])));
  assert.match(String(spread.error), /longer than 1024 bytes/);
});

Deno.test("readWatch() fails on a line that is not an event, and on an answer other than 200 with its code and body", async () => {
  const bad = await read(new Response(body([line("ADDED", "1"), "{not json\n"])));
  assert.match(String(bad.error), /a watch event is not JSON/);
  assert.equal(bad.events.length, 1, "the events before it are told");
  const shapeless = await read(new Response(body(['{"type":"ADDED"}\n'])));
  assert.match(String(shapeless.error), /no type or no object/);
  const gone = await read(
    Response.json({ kind: "Status", code: 410, message: "too old" }, { status: 410 }),
  );
  assert.equal((gone.error as Error & { code?: number }).code, 410);
  assert.match(String((gone.error as Error & { body?: string }).body), /too old/);
  assert.equal(gone.opened, 0);
});

Deno.test("readWatch() ends at its bounds and at an abort even when the transport never tells of either", async () => {
  // A transport that ignores the signal: its answer never comes, or its body never ends.
  const never = () => new Promise<Response>(() => {});
  const silent = () => Promise.resolve(new Response(body([line("ADDED", "1")], { open: true })));
  const answer = await read(never, { answerMs: 100 });
  assert.match(String(answer.error), /did not answer the watch within 100 ms/);
  assert.ok(answer.ms < 1000, `${answer.ms} ms`);
  const idle = await read(silent, { idleMs: 100 });
  assert.match(String(idle.error), /sent nothing for 100 ms/);
  assert.equal(idle.events.length, 1);
  const deadline = await read(silent, { deadlineMs: 150 });
  assert.match(String(deadline.error), /had not ended 150 ms after it was sent/);
  assert.equal((deadline.error as Error).name, "TimeoutError");
  const stop = new AbortController();
  setTimeout(() => stop.abort(new Error("stopped")), 50);
  const stopped = await read(silent, { signal: stop.signal });
  assert.equal(String(stopped.error), "Error: stopped");
  assert.ok(stopped.ms < 1000, `${stopped.ms} ms`);
});
