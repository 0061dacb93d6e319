// node-heal's Node watch through the client library's transport (a cluster whose certificate is
// not verified), where only the watch's own bounds find a dead connection. In a file of its own:
// run late in one long test process, Deno 2.9.6 has crashed (SIGSEGV) once this test ended, a
// fault of the runtime's, not of node-heal's, which a process of its own keeps from the others.
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { workerName } from "../../../lib/embedded/seed/topology.ts";
import { touch, watching } from "../../support/node_watching.ts";
import { startRelay } from "../../support/relay.ts";
import { HAS_OPENSSL, makeCertificates } from "../../support/tls.ts";
import { waitFor } from "../../support/wait.ts";

Deno.test({
  name:
    "through the client library's transport (a certificate not verified), events flow, a connection closed under the watch fails it within its idle bound, and stop() closes the stream",
  ignore: !HAS_OPENSSL,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "node-heal-watch-tls-" });
    await makeCertificates(dir);
    await using cluster = await startEmbeddedCluster({ workers: 2 });
    // The TLS front, behind a relay: node-heal -> relay -> TLS front -> cluster.
    const front = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(`${dir}/tls.crt`),
      key: await Deno.readTextFile(`${dir}/tls.key`),
      onListen() {},
    }, async (req) => {
      const url = new URL(req.url);
      const res = await fetch(`${cluster.url}${url.pathname}${url.search}`, {
        method: req.method,
        headers: req.headers,
        body: req.body,
      });
      return new Response(res.body, { status: res.status, headers: res.headers });
    });
    await using relay = startRelay(front.addr.port);
    const idleMs = 2000;
    try {
      // kubeconfigFor skips verifying the certificate: only the library's transport does that.
      const w = await watching(relay.url.replace("http:", "https:"), { idleMs });
      try {
        await waitFor("the watch", () => cluster.api.openWatches === 1);
        await touch(cluster.url, "tls");
        await waitFor("the change", () => w.since(0, `upsert ${workerName(1)} tls`)[0]);
        const cutAt = performance.now();
        relay.cut();
        const error = await waitFor("the error", () => w.since(cutAt, "error")[0], 10_000);
        relay.mend();
        const mendedAt = performance.now();
        await waitFor("running again", () => w.since(mendedAt, "recovered")[0], 15_000);
        console.log(
          `library transport: error ${(error.t - cutAt).toFixed(0)} ms after the cut (idle ` +
            `bound ${idleMs} ms): ${error.call.slice(0, 100)}`,
        );
        assert.ok(error.t - cutAt < idleMs + 2000, `${error.t - cutAt} ms`);
      } finally {
        await w[Symbol.asyncDispose]();
      }
      await waitFor("no watch open", () => cluster.api.openWatches === 0, 5000);
    } finally {
      await front.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
