// node-heal's own Node watch (act/kube/node_watch.ts) against servers that misbehave.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { connect } from "../../lib/act/kube_client.ts";
import { kubeconfigFor, startEmbeddedCluster } from "../../lib/embedded/cluster.ts";
import type { Node } from "../../lib/node.ts";
import { workerName } from "../../lib/embedded/seed.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recorder() {
  const calls: string[] = [];
  return {
    calls,
    handlers: {
      upsert: (n: Node) => void calls.push(`upsert ${n.metadata.name}`),
      remove: (name: string) => void calls.push(`remove ${name}`),
      listed: (nodes: Node[]) => void calls.push(`listed ${nodes.length}`),
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
  // 500 ms, then 1 s between tries: not hundreds a second.
  assert.ok(watches <= 3, `${watches} watch requests in 1.2 s`);
  assert.ok(
    r.calls.some((c) => c.includes("error") && c.includes("500") && c.includes("etcdserver")),
    r.calls.join("\n"),
  );
});
