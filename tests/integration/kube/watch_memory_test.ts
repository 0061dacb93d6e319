// The Node watch's memory over a long, busy watch (lib/act/kube/watch_stream.ts): what it has
// read is let go as it goes, not held until the watch ends. Run in a process of its own with a
// small heap, as the service runs in one of 192 MiB: a watch that kept every chunk it read would
// run out of memory.
import assert from "node:assert/strict";

const STREAMER = new URL("../../../lib/act/kube/watch_stream.ts", import.meta.url).href;

Deno.test("a watch that streams 10 times its heap in one request holds no more than a few events of it", async () => {
  // 160 MB of bookmarks, 1 KB each, a chunk each (as a busy API server sends them), in one
  // watch: a heap of 48 MB.
  const code = `
    import { readWatch } from ${JSON.stringify(STREAMER)};
    const line = new TextEncoder().encode(JSON.stringify({
      type: "BOOKMARK",
      object: { metadata: { resourceVersion: "1" }, pad: "x".repeat(960) },
    }) + "\\n");
    let sent = 0;
    const body = new ReadableStream({
      pull(c) {
        if (sent >= 160e6) return c.close();
        sent += line.length;
        c.enqueue(line.slice());
      },
    });
    let events = 0;
    await readWatch(() => Promise.resolve(new Response(body)), {
      opened() {},
      event() { events++; },
    }, {
      answerMs: 60_000, idleMs: 60_000, deadlineMs: 600_000, maxEventBytes: 4 << 20,
      signal: new AbortController().signal,
    });
    console.log(events);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--max-old-space-size=48", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `the watch ran out of memory: ${stderr.slice(-300)}`);
  assert.ok(Number(new TextDecoder().decode(out.stdout)) > 150_000);
});
