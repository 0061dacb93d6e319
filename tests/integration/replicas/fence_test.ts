// The fence on the client boundary (lib/act/fence.ts, act/kube/library_client.ts): every write
// that takes something away is checked immediately before it is sent, with the real client library
// against the embedded API server, whose request record shows what reached it.
import assert from "node:assert/strict";
import { connect } from "../../../lib/act/kube/client.ts";
import { Fence, isFenced } from "../../../lib/act/fence.ts";
import { kubeconfigFor, startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";

const CONFIG_MAPS = { group: "", version: "v1", plural: "configmaps" };
const NODES = { group: "", version: "v1", plural: "nodes" };

Deno.test("a closed fence refuses every write that takes something away before it reaches the API server; reads and the election's Lease pass", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 2 });
  let open = true;
  const refused: string[] = [];
  const fence = new Fence();
  fence.bind({
    leading: () => open,
    refused: (write, target) => refused.push(`${write} ${target}`),
  });
  const { client } = connect({ kubeconfigYaml: cluster.kubeconfig(), fence });
  try {
    const [pod] = (await client.listPodsOnNode("heal-worker")).filter((p) =>
      !p.metadata.ownerReferences?.some((o) => o.kind === "DaemonSet")
    );
    const ledger = await client.createObject(CONFIG_MAPS, {
      metadata: { name: "node-heal-replacements", namespace: "default" },
      data: { "replacements.json": "[]" },
    });
    open = false;
    cluster.api.traffic.reset();
    const writes: [string, () => Promise<unknown>][] = [
      [
        "patch",
        () =>
          client.patchNode("heal-worker", {
            metadata: { annotations: { "node-heal.io/probe": "b" } },
          }),
      ],
      ["evict", () => client.evictPod(pod.metadata.namespace, pod.metadata.name)],
      ["delete", () => client.deleteObject(NODES, "heal-worker2")],
      [
        "create",
        () => client.createObject(CONFIG_MAPS, { metadata: { name: "x", namespace: "default" } }),
      ],
      ["replace", () => client.replaceObject(CONFIG_MAPS, { ...ledger, data: {} })],
    ];
    for (const [write, send] of writes) {
      const err = await send().then(() => undefined, (e) => e);
      assert.ok(isFenced(err), `${write}: fenced, got ${err}`);
      assert.equal((err as { status?: number }).status, 503);
    }
    assert.deepEqual(refused.map((r) => r.split(" ")[0]), [
      "patch",
      "evict",
      "delete",
      "create",
      "replace",
    ]);
    const sent = cluster.api.traffic.requests.filter((r) => r.method !== "GET");
    assert.deepEqual(sent, [], "nothing that writes reached the API server");
    // What the fence does not guard still works: reads, the election's own Lease.
    assert.ok(await client.getNode("heal-worker"));
    await client.createLease("default", "probe", {
      holder: "x",
      leaseDurationSeconds: 1,
      leaseTransitions: 0,
    });
    assert.equal(
      (await client.getNode("heal-worker"))?.metadata.annotations?.["node-heal.io/probe"],
      undefined,
    );
    assert.ok(await client.getObject(NODES, "heal-worker2"), "not deleted");
    // Open again: the same write is sent.
    open = true;
    await client.patchNode("heal-worker", {
      metadata: { annotations: { "node-heal.io/probe": "b" } },
    });
    assert.equal(
      (await client.getNode("heal-worker"))?.metadata.annotations?.["node-heal.io/probe"],
      "b",
    );
  } finally {
    await client.close?.();
  }
});

Deno.test("a write that waited for a slot while the fence closed is never sent", async () => {
  const seen: string[] = [];
  const release = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(req.method);
    if (req.method === "GET") await release.promise;
    return Response.json({ kind: "Node", metadata: { name: "n", resourceVersion: "1" } });
  });
  let open = true;
  const fence = new Fence();
  fence.bind({ leading: () => open });
  const { client } = connect({
    kubeconfigYaml: kubeconfigFor(`http://127.0.0.1:${server.addr.port}`),
    timeoutMs: 5_000,
    fence,
  });
  try {
    // Every slot taken by a read the server holds; the patch waits its turn.
    const reads = Array.from({ length: 16 }, () => client.getNode("n"));
    const patch = client.patchNode("n", {
      metadata: { annotations: { "node-heal.io/probe": "b" } },
    }).then(
      () => undefined,
      (e) => e,
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.filter((m) => m === "GET").length, 16);
    // The process "slept" past its deadline while the patch waited: the fence is closed now.
    open = false;
    release.resolve();
    await Promise.all(reads);
    assert.ok(isFenced(await patch));
    assert.deepEqual(seen.filter((m) => m !== "GET"), [], "the patch never reached the server");
  } finally {
    release.resolve();
    await client.close?.();
    await server.shutdown();
  }
});

/** A bare API server that records each request's method and path, and answers with `answer`. */
function bareServer(answer: (req: Request, n: number) => Response) {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(`${req.method} ${new URL(req.url).pathname}`);
    return answer(req, seen.length);
  });
  return { seen, url: `http://127.0.0.1:${server.addr.port}`, stop: () => server.shutdown() };
}

const NODE_ANSWER = () =>
  Response.json({ kind: "Node", metadata: { name: "n", resourceVersion: "1" } });

Deno.test("a write answered 401 is sent again only if the fence still allows it", async () => {
  let open = true;
  // The credentials are refused; by the time the answer is read, this replica no longer leads.
  const api = bareServer((_req, n) => {
    if (n > 1) return NODE_ANSWER();
    open = false;
    return Response.json({ kind: "Status", code: 401 }, { status: 401 });
  });
  const fence = new Fence();
  fence.bind({ leading: () => open });
  const { client } = connect({ kubeconfigYaml: kubeconfigFor(api.url), fence });
  try {
    const err = await client.patchNode("n", {
      metadata: { annotations: { "node-heal.io/probe": "b" } },
    }).then(() => undefined, (e) => e);
    assert.deepEqual(api.seen, ["PATCH /api/v1/nodes/n"], "the patch was not sent again");
    assert.ok(isFenced(err), `fenced, got ${err}`);
  } finally {
    await client.close?.();
    await api.stop();
  }
});

Deno.test("a write whose credentials come late (an exec plugin) is checked by the fence once they have come, before it is sent", async () => {
  const api = bareServer((req) =>
    req.method === "POST"
      ? Response.json({ kind: "Status", code: 201 }, { status: 201 })
      : NODE_ANSWER()
  );
  // The exec plugin (aws eks get-token, gke-gcloud-auth-plugin) takes a second to answer.
  const credential = JSON.stringify({
    apiVersion: "client.authentication.k8s.io/v1",
    kind: "ExecCredential",
    status: { token: "t0k3n" },
  });
  const kubeconfig = kubeconfigFor(api.url).replace(
    "    token: embedded-cluster-has-no-auth",
    [
      "    exec:",
      "      apiVersion: client.authentication.k8s.io/v1",
      "      command: sh",
      `      args: ["-c", ${JSON.stringify(`sleep 1; printf '%s' '${credential}'`)}]`,
      "      interactiveMode: Never",
    ].join("\n"),
  );
  // This replica leads for 300 ms more: its renew deadline runs out while the plugin runs.
  const until = performance.now() + 300;
  const fence = new Fence();
  fence.bind({ leading: () => performance.now() < until });
  for (const write of ["patch", "evict"] as const) {
    const { client } = connect({ kubeconfigYaml: kubeconfig, fence, timeoutMs: 5_000 });
    try {
      const sent = write === "patch"
        ? client.patchNode("n", { metadata: { annotations: { "node-heal.io/probe": "b" } } })
        : client.evictPod("default", "p");
      const err = await sent.then(() => undefined, (e) => e);
      assert.ok(isFenced(err), `${write}: fenced, got ${err}`);
    } finally {
      await client.close?.();
    }
  }
  await api.stop();
  assert.deepEqual(api.seen, [], "nothing was sent after the renew deadline");
});
