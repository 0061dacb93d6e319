// The hot-path transport (lib/act/kube/raw.ts) against a bare HTTP server: credentials sent, a
// 401 asks for credentials again once, other statuses come back as errors with their code.
import assert from "node:assert/strict";
import { rawJson } from "../../../lib/act/kube/raw.ts";
import { kubeconfigFromString } from "../../../lib/act/kube/kubeconfig.ts";

function serve(answer: (n: number, req: Request) => Response) {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(req.headers.get("authorization") ?? "");
    return answer(seen.length, req);
  });
  const kc = kubeconfigFromString([
    "apiVersion: v1",
    "kind: Config",
    "clusters: [{ name: c, cluster: { server: 'http://127.0.0.1:" + server.addr.port +
    "', insecure-skip-tls-verify: true } }]",
    "contexts: [{ name: c, context: { cluster: c, user: u } }]",
    "current-context: c",
    "users: [{ name: u, user: { token: t0k3n } }]",
  ].join("\n"));
  return { kc, seen, [Symbol.asyncDispose]: () => server.shutdown() };
}

Deno.test("raw requests carry the kubeconfig's token, and a 401 is tried once more with credentials asked again", async () => {
  await using s = serve((n) =>
    n === 1
      ? new Response("{}", { status: 401 })
      : Response.json({ metadata: { name: "x", resourceVersion: "2" } })
  );
  const node = await rawJson<{ metadata: { name: string } }>(s.kc, {
    method: "GET",
    path: "/api/v1/nodes/x",
  });
  assert.equal(node.metadata.name, "x");
  assert.deepEqual(s.seen, ["Bearer t0k3n", "Bearer t0k3n"]);
});

Deno.test("a status other than 2xx is an error carrying the code and the body", async () => {
  await using s = serve(() => Response.json({ kind: "Status", code: 409 }, { status: 409 }));
  const err = await rawJson(s.kc, { method: "PATCH", path: "/api/v1/nodes/x", body: {} })
    .then(() => undefined, (e) => e);
  assert.equal(err?.code, 409);
  assert.match(String(err?.body), /"code":409/);
  assert.equal(s.seen.length, 1, "a conflict is not tried again here");
});
