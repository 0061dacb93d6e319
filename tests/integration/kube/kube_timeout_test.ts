// Calls to an API server that stops answering: the time limit aborts them (act/kube/library_client.ts).
import assert from "node:assert/strict";
import { connect } from "../../../lib/act/kube/client.ts";
import { kubeconfigFor } from "../../../lib/embedded/cluster.ts";
import { waitFor } from "../../support/wait.ts";

Deno.test("calls the API server never answers are aborted at their time limit: they do not wedge the client", async () => {
  let hung = 0;
  const release = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (req.method === "GET" && hung < 16) {
      hung++;
      await release.promise; // black-holed
    }
    return Response.json({ kind: "Node", metadata: { name: "n", resourceVersion: "1" } });
  });
  const { client } = connect({
    kubeconfigYaml: kubeconfigFor(`http://127.0.0.1:${server.addr.port}`),
    timeoutMs: 300,
  });
  try {
    const first = await Promise.allSettled(Array.from({ length: 16 }, () => client.getNode("n")));
    assert.ok(first.every((r) => r.status === "rejected"));
    // The server answers every new request now; the 16 black-holed ones must not hold the slots
    // (they are never released by the server: a held slot would fail every try until the end).
    // Tried for a few seconds, as a loaded machine may take more than 300 ms to answer one.
    const node = await waitFor(
      "a call answered",
      () => client.getNode("n").catch(() => undefined),
      5_000,
    );
    assert.equal(node?.metadata.name, "n");
  } finally {
    release.resolve();
    await client.close?.();
    await server.shutdown();
  }
});
