// node-heal's client against an API server behind TLS, as real clusters are: the kubeconfig's CA
// is trusted and nothing else, reads and writes go through, and connections are kept alive.
import assert from "node:assert/strict";
import { connect } from "../../../lib/act/kube/client.ts";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { HAS_OPENSSL, makeCertificates, tlsFront } from "../../support/tls.ts";

function kubeconfig(server: string, ca: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: tls",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${btoa(ca)}`,
    "contexts:",
    "- name: tls",
    "  context: { cluster: tls, user: tls }",
    "current-context: tls",
    "users:",
    "- name: tls",
    "  user: { token: a-token }",
  ].join("\n");
}

Deno.test({
  name:
    "the client trusts the kubeconfig's CA, reads and patches Nodes over TLS on kept-alive connections",
  ignore: !HAS_OPENSSL,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "node-heal-kube-tls-" });
    await makeCertificates(dir);
    await using cluster = await startEmbeddedCluster({ workers: 3 });
    await using front = tlsFront(dir, cluster.url);
    const ca = await Deno.readTextFile(`${dir}/ca.crt`);
    const { client } = connect({ kubeconfigYaml: kubeconfig(front.url, ca) });
    try {
      for (let i = 0; i < 20; i++) {
        const node = await client.getNode("heal-worker2");
        assert.ok(node?.metadata.resourceVersion);
        const patched = await client.patchNode("heal-worker2", {
          metadata: {
            resourceVersion: node.metadata.resourceVersion,
            annotations: { "node-heal.io/test": String(i) },
          },
        });
        assert.equal(patched.metadata.annotations?.["node-heal.io/test"], String(i));
      }
      assert.equal(
        (cluster.api.read("Node", "heal-worker2") as {
          metadata: { annotations: Record<string, string> };
        })
          .metadata.annotations["node-heal.io/test"],
        "19",
      );
      assert.ok(front.connections() <= 2, `40 calls took ${front.connections()} connections`);
    } finally {
      await client.close?.();
    }
    // A server whose certificate the kubeconfig's CA did not sign is refused.
    const other = await Deno.makeTempDir({ prefix: "node-heal-kube-tls-other-" });
    await makeCertificates(other);
    const stranger = connect({
      kubeconfigYaml: kubeconfig(front.url, await Deno.readTextFile(`${other}/ca.crt`)),
    }).client;
    try {
      await assert.rejects(stranger.getNode("heal-worker2"));
    } finally {
      await stranger.close?.();
    }
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(other, { recursive: true });
  },
});
