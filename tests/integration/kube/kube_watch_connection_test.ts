// node-heal's Node watch (act/kube/node_watch.ts) when its connection dies: closed under it, or
// kept open and silent. Either is told to handlers.error within its bound, the watch is made again
// from where it was, and events flow once the network works again; a stream that would fill memory
// (an endless line) is a failure too.
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { workerName } from "../../../lib/embedded/seed/topology.ts";
import { touch, watching } from "../../support/node_watching.ts";
import { startRelay } from "../../support/relay.ts";
import { waitFor } from "../../support/wait.ts";

/** Full Node lists the embedded server answered. */
function nodeLists(cluster: { api: { traffic: { requests: { verb: string; path: string }[] } } }) {
  return cluster.api.traffic.requests.filter((r) => r.verb === "list" && r.path === "/api/v1/nodes")
    .length;
}

Deno.test("a watch whose connection is closed under it fails at once, and once the network works again it is made again from where it was and events flow", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 2 });
  await using relay = startRelay(Number(new URL(cluster.url).port));
  await using w = await watching(relay.url);
  await waitFor("the watch", () => cluster.api.openWatches === 1);
  await touch(cluster.url, "before");
  await waitFor("the change before the cut", () => w.since(0, `upsert ${workerName(1)} before`)[0]);

  const cutAt = performance.now();
  relay.cut();
  const error = await waitFor("the error", () => w.since(cutAt, "error")[0], 10_000);
  const toldMs = error.t - cutAt;
  // Meanwhile the cluster changes: the watch made again from where it was must bring it.
  await touch(cluster.url, "while-cut");
  relay.mend();
  const mendedAt = performance.now();
  const back = await waitFor(
    "the watch running again",
    () => w.since(mendedAt, "recovered")[0] ?? w.since(mendedAt, "listed")[0],
    15_000,
  );
  await waitFor(
    "the change made while cut",
    () => w.since(cutAt, `upsert ${workerName(1)} while`)[0],
  );
  await touch(cluster.url, "after");
  await waitFor("a change after", () => w.since(cutAt, `upsert ${workerName(1)} after`)[0]);
  console.log(
    `connection closed under the watch: error told after ${toldMs.toFixed(0)} ms ` +
      `(${error.call.slice(0, 120)}); running again ${(back.t - mendedAt).toFixed(0)} ms after ` +
      `the network came back`,
  );
  assert.ok(toldMs < 3000, `the error came ${toldMs.toFixed(0)} ms after the cut`);
  assert.equal(nodeLists(cluster), 1, "made again from its resourceVersion: no list");
});

Deno.test("a watch kept open and silent fails when no byte came for its idle bound, and again until the network passes bytes", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 2 });
  await using relay = startRelay(Number(new URL(cluster.url).port));
  const idleMs = 1500;
  await using w = await watching(relay.url, { idleMs, deadlineMs: 60_000, timeoutMs: 500 });
  await waitFor("the watch", () => cluster.api.openWatches === 1);
  const heldAt = performance.now();
  relay.hold();
  await touch(cluster.url, "while-held"); // sent, but held in the relay
  const error = await waitFor("the error", () => w.since(heldAt, "error")[0], 10_000);
  const toldMs = error.t - heldAt;
  // The next try (after 0.8 to 1.6 s) is held too: its answer is due within 6 API timeouts (3 s).
  const again = await waitFor("the next error", () => w.since(error.t + 1, "error")[0], 15_000);
  relay.mend();
  const mendedAt = performance.now();
  await waitFor("the change made while held", () => w.since(heldAt, `upsert ${workerName(1)}`)[0]);
  console.log(
    `watch held silent: error told ${toldMs.toFixed(0)} ms after the hold (idle bound ` +
      `${idleMs} ms): ${error.call.slice(0, 100)}; the held retry failed too ` +
      `${(again.t - error.t).toFixed(0)} ms later: ${again.call.slice(0, 100)}; the change ` +
      `arrived ${(performance.now() - mendedAt).toFixed(0)} ms after the network came back`,
  );
  assert.match(error.call, /sent nothing for 1500 ms/);
  // The last byte came at most the bound before the hold; a loaded machine may add a little.
  assert.ok(toldMs < idleMs + 2000, `told ${toldMs} ms after the hold`);
  assert.match(again.call, /did not answer the watch within 3000 ms/);
});

Deno.test("a watch that never ends, though it keeps sending, fails at its deadline and is made again from the last bookmark", async () => {
  const seen: string[] = [];
  let open = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.searchParams.get("watch") !== "true") {
      return Response.json({ kind: "NodeList", metadata: { resourceVersion: "5" }, items: [] });
    }
    seen.push(url.searchParams.get("resourceVersion") ?? "");
    let rv = Number(url.searchParams.get("resourceVersion"));
    let timer: ReturnType<typeof setInterval>;
    // A bookmark every 100 ms, timeoutSeconds ignored: bytes flow, and the watch never ends.
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        open++;
        timer = setInterval(() => {
          const object = {
            kind: "Node",
            apiVersion: "v1",
            metadata: { resourceVersion: `${++rv}` },
          };
          c.enqueue(new TextEncoder().encode(JSON.stringify({ type: "BOOKMARK", object }) + "\n"));
        }, 100);
      },
      cancel() {
        open--;
        clearInterval(timer);
      },
    });
    return new Response(body);
  });
  try {
    const deadlineMs = 1500;
    await using w = await watching(`http://127.0.0.1:${server.addr.port}`, { deadlineMs });
    const error = await waitFor("the error", () => w.since(0, "error")[0], 10_000);
    await waitFor("the second watch", () => seen.length >= 2, 5000);
    assert.match(error.call, /had not ended 1500 ms after it was sent/);
    assert.ok(Number(seen[1]) > 5, `made again from ${seen[1]}, the last bookmark, not from 5`);
    assert.ok(open <= 1, `${open} watch streams open`);
  } finally {
    await server.shutdown();
  }
});

Deno.test("an endless event line fails the watch once it passes the cap, having read little more than the cap", async () => {
  let sent = 0;
  let cancelled = false;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.searchParams.get("watch") !== "true") {
      return Response.json({ kind: "NodeList", metadata: { resourceVersion: "5" }, items: [] });
    }
    // One line with no end, 64 KiB at a time, as fast as it is read: up to 256 MiB.
    const chunk = new TextEncoder().encode(`{"type":"ADDED","object":{"x":"${"a".repeat(65_000)}`);
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent > 256 << 20) return c.close();
        sent += chunk.length;
        c.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    return new Response(body);
  });
  try {
    await using w = await watching(`http://127.0.0.1:${server.addr.port}`);
    const error = await waitFor("the error", () => w.since(0, "error")[0], 20_000);
    await waitFor("the stream cancelled", () => cancelled, 5000);
    console.log(
      `endless line: ${error.call.slice(0, 80)}; ${(sent / 2 ** 20).toFixed(1)} MiB sent`,
    );
    assert.match(error.call, /a watch event is longer than 4194304 bytes/);
    // The cap, and what the sockets and streams between hold: not the 256 MiB on offer.
    assert.ok(sent < 4 * 2 ** 20 + 16 * 2 ** 20, `${sent} bytes sent`);
    assert.ok(!w.calls.some((c) => c.call.startsWith("upsert")));
  } finally {
    await server.shutdown();
  }
});

Deno.test("the embedded server ends a watch at its timeoutSeconds: it is made again at once, without a list and without an error", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 2 });
  await using w = await watching(cluster.url, { watchTimeoutMs: 1000 });
  await waitFor(
    "three watches",
    () => (cluster.api.traffic.counts()["watch nodes"] ?? 0) >= 3,
    8000,
  );
  await touch(cluster.url, "later");
  await waitFor("the change", () => w.since(0, `upsert ${workerName(1)} later`)[0]);
  assert.equal(nodeLists(cluster), 1);
  assert.ok(!w.calls.some((c) => c.call.startsWith("error")), w.text());
});
