// Kubernetes API errors as an SRE reads them in the logs: which request failed (method and URL)
// and the underlying cause of a network failure, not a bare "fetch failed".
import assert from "node:assert/strict";
import { connect } from "../../../lib/act/kube/client.ts";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { waitFor } from "../../support/wait.ts";

Deno.test("a node watch whose API server went away names the request and the cause", async () => {
  const cluster = await startEmbeddedCluster({ workers: 1 });
  const { client } = connect({ kubeconfigYaml: cluster.kubeconfig() });
  const errors: string[] = [];
  let listed = false;
  const watch = await client.watchNodes({
    upsert: () => {},
    remove: () => {},
    listed: () => void (listed = true),
    recovered: () => {},
    error: (e) => void errors.push((e as Error).message),
  });
  try {
    await waitFor("the first list", () => listed);
    await cluster.close();
    const message = await waitFor("a watch or list error", () => errors[0], 15_000);
    assert.match(message, /^Cannot (watch|list) nodes: /);
    assert.ok(message.includes(`GET ${cluster.url}/api/v1/nodes?`), message);
    // The cause of a refused connection, whatever words the runtime uses for it.
    assert.match(message, /refused|ECONNREFUSED|connect/i, message);
  } finally {
    await watch.stop();
    await client.close?.();
  }
});
