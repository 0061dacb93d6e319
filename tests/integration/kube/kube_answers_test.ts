// What the API server answers is read within a bound as it arrives (lib/act/kube/raw.ts, pages.ts):
// an object answer past 8 MiB is refused unread, and a list page past 8 MiB is asked for again
// with half as many items, through the real client against a bare HTTP server.
import assert from "node:assert/strict";
import { connect } from "../../../lib/act/kube/client.ts";
import { listNodes } from "../../../lib/act/kube/node_list.ts";
import { kubeconfigFromString } from "../../../lib/act/kube/kubeconfig.ts";
import { closeNative, MAX_OBJECT_BYTES } from "../../../lib/act/kube/raw.ts";
import { MAX_PAGE_BYTES } from "../../../lib/act/kube/pages.ts";
import { type Pulled, streamedBody } from "../../fakes/streamed_body.ts";

/** A body of `bytes` bytes that opens a JSON object and never closes it, made as it is read. */
function endless(bytes: number, sent: Pulled) {
  return streamedBody(bytes, { prefix: '{"metadata":{"name":"x","x":"', counts: sent });
}

function apiServer(answer: (url: URL, sent: Pulled) => Response) {
  const sent = { pulled: 0, finished: 0 };
  const asked: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    asked.push(`${url.pathname}${url.search}`);
    return answer(url, sent);
  });
  const yaml = [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{ name: c, cluster: { server: 'http://127.0.0.1:${server.addr.port}', insecure-skip-tls-verify: true } }]`,
    "contexts: [{ name: c, context: { cluster: c, user: u } }]",
    "current-context: c",
    "users: [{ name: u, user: { token: t } }]",
  ].join("\n");
  return { yaml, sent, asked, [Symbol.asyncDispose]: () => server.shutdown() };
}

Deno.test("a Lease answered with 100 MB is refused after at most its bound is read, and says so", async () => {
  await using api = apiServer((_, sent) => new Response(endless(100 * 1024 * 1024, sent)));
  const { client } = connect({ kubeconfigYaml: api.yaml, timeoutMs: 20_000 });
  const err = await client.getLease("node-heal", "node-heal").catch((e) => e);
  assert.ok(err instanceof Error, "refused");
  assert.match(
    err.message,
    /Cannot read lease "node-heal\/node-heal": the API server's answer to GET \/apis\/coordination\.k8s\.io\/v1\/namespaces\/node-heal\/leases\/node-heal is larger than node-heal reads \(the limit is 8388608 bytes\)/,
  );
  // What the server could push ahead of the cancel: its bound and the sockets' buffers.
  assert.ok(api.sent.pulled < MAX_OBJECT_BYTES + 8 * 1024 * 1024, `sent ${api.sent.pulled} bytes`);
});

Deno.test("a Node list page past its bound is asked for again with half as many Nodes, until it fits", async () => {
  await using api = apiServer((url, sent) => {
    const limit = Number(url.searchParams.get("limit"));
    if (limit > 12) return new Response(endless(MAX_PAGE_BYTES + 1024 * 1024, sent));
    const token = url.searchParams.get("continue");
    const from = token ? Number(token) : 0;
    const items = Array.from(
      { length: Math.min(limit, 30 - from) },
      (_, i) => ({ metadata: { name: `n${from + i}` } }),
    );
    const next = from + items.length;
    return Response.json({
      items,
      metadata: { resourceVersion: "7", ...(next < 30 ? { continue: String(next) } : {}) },
    });
  });
  const kc = kubeconfigFromString(api.yaml);
  const { nodes, resourceVersion } = await listNodes(kc, {
    pageMs: 30_000,
    signal: new AbortController().signal,
    stopped: () => false,
  });
  assert.equal(resourceVersion, "7");
  assert.deepEqual(
    nodes.map((n) => n.metadata.name),
    Array.from({ length: 30 }, (_, i) => `n${i}`),
  );
  const limits = api.asked.map((a) => new URLSearchParams(a.split("?")[1]).get("limit"));
  // Halved from 100 to 12, then doubled back up only as far as pages fit.
  assert.deepEqual(limits.slice(0, 5), ["100", "50", "25", "12", "24"]);
  await closeNative(kc);
});
