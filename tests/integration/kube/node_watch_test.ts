// node-heal's own Node watch (act/kube/node_watch.ts) against servers that misbehave.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { connect } from "../../../lib/act/kube/client.ts";
import { kubeconfigFor, startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import type { Node } from "../../../lib/base/node.ts";
import { workerName } from "../../../lib/embedded/seed/topology.ts";
import type { KubeClient } from "../../../lib/act/kube/types.ts";
import { waitFor } from "../../support/wait.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recorder() {
  const calls: string[] = [];
  /** When each list was told (performance.now). */
  const listedAt: number[] = [];
  return {
    calls,
    listedAt,
    handlers: {
      upsert: (n: Node) => void calls.push(`upsert ${n.metadata.name}`),
      remove: (name: string) => void calls.push(`remove ${name}`),
      listed: (nodes: Node[]) => {
        listedAt.push(performance.now());
        calls.push(`listed ${nodes.length}`);
      },
      recovered: () => void calls.push("recovered"),
      error: (e: unknown) => void calls.push(`error ${(e as Error).message}`),
    },
  };
}

Deno.test("a watch stopped while its request is being made is closed, and tells of nothing after", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 2 });
  const { client } = connect({ kubeconfigYaml: cluster.kubeconfig() });
  cluster.api.injectFault({ verb: "watch", resource: "nodes", latencyMs: 300 });
  const r = recorder();
  const watch = await client.watchNodes(r.handlers);
  await sleep(50); // the watch request is on its way
  await watch.stop();
  await sleep(500);
  assert.equal(cluster.api.openWatches, 0, "no watch stream is left open");
  const kc = new k8s.KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  await kc.makeApiClient(k8s.CoreV1Api).patchNode(
    { name: workerName(1), body: { metadata: { labels: { touched: "yes" } } } },
    k8s.setHeaderOptions("Content-Type", "application/merge-patch+json"),
  );
  await sleep(100);
  assert.deepEqual(r.calls, ["listed 3"]);
  await client.close?.();
});

Deno.test("an in-band ERROR other than 410 is a failure: told to handlers.error and tried again after a delay", async () => {
  let watches = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).searchParams.get("watch") === "true") {
      watches++;
      const status = {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        code: 500,
        reason: "InternalError",
        message: "etcdserver: request timed out",
      };
      return new Response(JSON.stringify({ type: "ERROR", object: status }) + "\n");
    }
    return Response.json({ kind: "NodeList", metadata: { resourceVersion: "5" }, items: [] });
  });
  const { client } = connect({
    kubeconfigYaml: kubeconfigFor(`http://127.0.0.1:${server.addr.port}`),
  });
  const r = recorder();
  const watch = await client.watchNodes(r.handlers);
  await sleep(1200);
  await watch.stop();
  await client.close?.();
  await server.shutdown();
  // 0.8 to 1.6 s before the second try: not hundreds a second.
  assert.ok(watches <= 3, `${watches} watch requests in 1.2 s`);
  assert.ok(
    r.calls.some((c) => c.includes("error") && c.includes("500") && c.includes("etcdserver")),
    r.calls.join("\n"),
  );
});

Deno.test("a watch that is answered and then fails at once, every time, is never taken as running again", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 2 });
  cluster.api.injectFault({ verb: "watch", resource: "nodes", status: 500, inBand: true });
  const { client } = connect({ kubeconfigYaml: cluster.kubeconfig() });
  const r = recorder();
  const watch = await client.watchNodes(r.handlers);
  await waitFor(
    "three failed watches",
    () => r.calls.filter((c) => c.startsWith("error")).length >= 3,
    10_000,
  );
  await watch.stop();
  await client.close?.();
  assert.equal(r.calls.filter((c) => c === "recovered").length, 0, r.calls.join("\n"));
});

/** Seconds between one time and the next, to two places. */
function gaps(times: number[]): string[] {
  return times.slice(1).map((t, i) => ((t - times[i]) / 1000).toFixed(2));
}

/** Full Node lists the embedded server answered (not watches: those are verb "watch"). */
function nodeLists(cluster: { api: { traffic: { requests: { verb: string; path: string }[] } } }) {
  return cluster.api.traffic.requests.filter((r) => r.verb === "list" && r.path === "/api/v1/nodes")
    .length;
}

/** Patches a label on a worker, as someone else would. */
async function touch(url: string, value: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(kubeconfigFor(url));
  await kc.makeApiClient(k8s.CoreV1Api).patchNode(
    { name: workerName(1), body: { metadata: { labels: { touched: value } } } },
    k8s.setHeaderOptions("Content-Type", "application/merge-patch+json"),
  );
}

/** Runs node-heal's Node watch against `url` until the returned stop is called. */
async function watching(url: string) {
  const { client } = connect({ kubeconfigYaml: kubeconfigFor(url) });
  const r = recorder();
  const watch = await client.watchNodes(r.handlers);
  return {
    ...r,
    client: client as KubeClient,
    async stop() {
      await watch.stop();
      await client.close?.();
    },
  };
}

Deno.test("a 410 storm, over HTTP and in band, lists at most 4 times in 12 s: each list waits a backoff from 0.8 s", async () => {
  const storms = await Promise.all([false, true].map(async (inBand) => {
    const cluster = await startEmbeddedCluster({ workers: 2 });
    cluster.api.injectFault({ verb: "watch", resource: "nodes", status: 410, inBand });
    const w = await watching(cluster.url);
    return { inBand, cluster, w };
  }));
  // tests/chaos/gone_storm_test.ts holds node-heal itself to 30 s.
  await sleep(12_000);
  for (const { inBand, cluster, w } of storms) {
    await w.stop();
    const lists = nodeLists(cluster);
    const watches = cluster.api.traffic.counts()["watch nodes"] ?? 0;
    const delays = gaps(w.listedAt);
    console.log(
      `${inBand ? "in-band ERROR 410" : "HTTP 410"}: ${lists} Node lists, ${watches} watches in ` +
        `12 s; first delays between lists (s): ${delays.slice(0, 10).join(", ")}`,
    );
    await cluster.close();
    // 0 + 0.8 + 1.6 + 3.2 + 6.4 s at the least: a 4th list at 5.6 s, a 5th not before 12 s.
    assert.ok(lists <= 4, `${lists} lists in 12 s`);
    // At most 1.6 + 3.2 s: a 3rd list by 4.8 s, and the watch kept trying.
    assert.ok(lists >= 3, `${lists} lists in 12 s`);
    assert.ok(watches <= lists, "one watch after each list, none made again in between");
    const seconds = delays.map(Number);
    for (const [i, s] of seconds.entries()) {
      const base = 0.8 * 2 ** i;
      assert.ok(s >= base - 0.05 && s < 2 * base + 0.5, `delay ${i + 1}: ${s} s, for ${base} s`);
    }
    assert.ok(!w.calls.some((c) => c.startsWith("error")), "a 410 is not a failure");
  }
});

Deno.test("failed lists and failed watches are tried again after growing delays, watches from where they were", async () => {
  await using listing = await startEmbeddedCluster({ workers: 2 });
  listing.api.injectFault({ verb: "list", resource: "nodes", status: 503 });
  await using watching500 = await startEmbeddedCluster({ workers: 2 });
  watching500.api.injectFault({ verb: "watch", resource: "nodes", status: 500 });
  const [a, b] = await Promise.all([watching(listing.url), watching(watching500.url)]);
  await sleep(5000);
  await Promise.all([a.stop(), b.stop()]);
  // Tries at 0, 0.8 to 1.6 s, 2.4 to 4.8 s, 5.6 s or later: 2 or 3 in 5 s, not thousands.
  const lists = nodeLists(listing);
  assert.ok(lists >= 2 && lists <= 3, `${lists} failed lists in 5 s`);
  assert.equal(a.calls.filter((c) => c.startsWith("error")).length, lists, a.calls.join("\n"));
  const watches = watching500.api.traffic.counts()["watch nodes"];
  assert.ok(watches >= 2 && watches <= 3, `${watches} failed watches in 5 s`);
  assert.equal(nodeLists(watching500), 1, "a failed watch is made again from its resourceVersion");
  assert.equal(b.calls.filter((c) => c.startsWith("error")).length, watches, b.calls.join("\n"));
});

Deno.test("after a 410 storm ends, the watch runs again and the index gets events", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 2 });
  const storm = cluster.api.injectFault({
    verb: "watch",
    resource: "nodes",
    status: 410,
    inBand: true,
  });
  const w = await watching(cluster.url);
  try {
    await waitFor("the third list of the storm", () => w.listedAt.length >= 3, 10_000);
    storm();
    // The next try is at most 2 x 3.2 s away; then the watch stays open.
    await waitFor("a watch that stays open", () => cluster.api.openWatches === 1, 10_000);
    await touch(cluster.url, "after-the-storm");
    await waitFor("the change in the index", () => w.calls.includes(`upsert ${workerName(1)}`));
    assert.ok(!w.calls.some((c) => c.startsWith("error")), w.calls.join("\n"));
  } finally {
    await w.stop();
  }
});

Deno.test("a watch the server ends after it ran is made again at once, from its resourceVersion, without a list", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 2 });
  const w = await watching(cluster.url);
  try {
    await waitFor("the watch", () => cluster.api.openWatches === 1);
    await sleep(1100); // longer than a "very short watch"
    const watchesBefore = cluster.api.traffic.counts()["watch nodes"];
    const ended = performance.now();
    cluster.api.dropWatches(); // ends the stream cleanly, as the server's timeoutSeconds does
    await waitFor("the watch made again", () => cluster.api.openWatches === 1, 2000);
    const after = performance.now() - ended;
    assert.ok(after < 500, `made again after ${after.toFixed(0)} ms`);
    assert.equal(cluster.api.traffic.counts()["watch nodes"], watchesBefore + 1);
    assert.equal(nodeLists(cluster), 1, "no list");
    await touch(cluster.url, "after-the-end");
    await waitFor("the change in the index", () => w.calls.includes(`upsert ${workerName(1)}`));
  } finally {
    await w.stop();
  }
});

Deno.test("servers that would make the watch loop hot are backed off: an empty watch, a list with no resourceVersion or an endless continue", async () => {
  const counts = { emptyWatch: 0, noVersion: 0, endless: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    const kind = url.pathname.split("/")[1] as keyof typeof counts;
    if (url.searchParams.get("watch") === "true") {
      counts[kind]++;
      return new Response(""); // 200, and the stream ends at once
    }
    if (kind !== "emptyWatch" && !url.searchParams.has("continue")) counts[kind]++;
    const metadata = kind === "noVersion"
      ? {}
      : kind === "endless"
      ? { resourceVersion: "5", continue: "again" }
      : { resourceVersion: "5" };
    return Response.json({ kind: "NodeList", metadata, items: [] });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const runs = await Promise.all(
    (Object.keys(counts) as (keyof typeof counts)[]).map((kind) => watching(`${base}/${kind}`)),
  );
  await sleep(3000);
  await Promise.all(runs.map((r) => r.stop()));
  await server.shutdown();
  // Tries at 0, 0.8 to 1.6 s, 2.4 to 4.8 s: 2 or 3 in 3 s.
  for (const [kind, n] of Object.entries(counts)) {
    assert.ok(n >= 2 && n <= 3, `${kind}: ${n} requests in 3 s`);
  }
  const [empty, noVersion, endless] = runs;
  assert.ok(!empty.calls.some((c) => c.startsWith("error")), "an empty watch is not a failure");
  assert.ok(noVersion.calls.every((c) => c.includes("no resourceVersion")), noVersion.calls.join());
  assert.ok(endless.calls.every((c) => c.includes("repeats")), endless.calls.join());
});

Deno.test("a watch event of a version the handlers hold already is passed over; a new version is told", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 2 });
  const { client } = connect({ kubeconfigYaml: cluster.kubeconfig() });
  const r = recorder();
  // What the watch asked; the first worker's versions are said to be held until told otherwise.
  const asked: string[] = [];
  let held = true;
  const watch = await client.watchNodes({
    ...r.handlers,
    known: (name: string, version: string) => {
      asked.push(`${name}@${version}`);
      return held && name === workerName(1);
    },
  });
  await waitFor("the first list", () => r.calls.includes("listed 3"));
  const written = await client.patchNode(workerName(1), { metadata: { annotations: { a: "1" } } });
  // Someone else's write of the other worker, after it: told, so every event before it was read.
  await client.patchNode(workerName(2), { metadata: { annotations: { a: "2" } } });
  await waitFor("the other write", () => r.calls.includes(`upsert ${workerName(2)}`));
  assert.deepEqual(r.calls, ["listed 3", `upsert ${workerName(2)}`]);
  assert.ok(asked.includes(`${workerName(1)}@${written.metadata.resourceVersion}`), asked.join());
  // A version not held is told.
  held = false;
  await client.patchNode(workerName(1), { metadata: { annotations: { a: "3" } } });
  await waitFor("the next version", () => r.calls.includes(`upsert ${workerName(1)}`));
  await watch.stop();
  await client.close?.();
});
