import assert from "node:assert/strict";
import {
  cachedCredentials,
  headersOf,
  nativeTransport,
} from "../../../../lib/act/kube/transport.ts";
import { kubeconfigFromString } from "../../../../lib/act/kube/kubeconfig.ts";

Deno.test("headersOf() reads a token file again each time, so a rotated token is sent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-token-" });
  try {
    const tokenFile = `${dir}/token`;
    await Deno.writeTextFile(tokenFile, "first\n");
    const user = { name: "sa", tokenFile };
    assert.deepEqual(await headersOf(user), { Authorization: "Bearer first" });
    await Deno.writeTextFile(tokenFile, "second");
    assert.deepEqual(await headersOf(user), { Authorization: "Bearer second" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("headersOf() sends basic auth over a token, as the library does, and impersonates for `as`", async () => {
  assert.deepEqual(
    await headersOf({ name: "u", username: "me", password: "pw", token: "t", impersonate: "bob" }),
    { Authorization: `Basic ${btoa("me:pw")}`, "Impersonate-User": "bob" },
  );
  assert.deepEqual(await headersOf({ name: "u", token: "t" }), { Authorization: "Bearer t" });
  assert.deepEqual(await headersOf(undefined), {});
});

Deno.test("cachedCredentials() asks again after forget() and after a failure, not in between", async () => {
  let asked = 0;
  const c = cachedCredentials(() => {
    asked++;
    return asked === 1 ? Promise.reject(new Error("not yet")) : Promise.resolve({ n: `${asked}` });
  });
  await assert.rejects(c.credentials(), /not yet/);
  assert.deepEqual(await c.credentials(), { n: "2" });
  assert.deepEqual(await c.credentials(), { n: "2" });
  c.forget();
  assert.deepEqual(await c.credentials(), { n: "3" });
});

Deno.test("cachedCredentials().fresh() gives only credentials at hand: none while asked, none after forget() or a failure", async () => {
  let asked = 0;
  const c = cachedCredentials(() => {
    asked++;
    return asked === 2 ? Promise.reject(new Error("refused")) : Promise.resolve({ n: `${asked}` });
  });
  assert.equal(c.fresh(), undefined);
  const first = c.credentials();
  assert.equal(c.fresh(), undefined);
  const value = await first;
  assert.equal(c.fresh(), value);
  assert.deepEqual(c.fresh(), { n: "1" });
  c.forget();
  assert.equal(c.fresh(), undefined);
  await assert.rejects(c.credentials(), /refused/);
  assert.equal(c.fresh(), undefined);
  assert.deepEqual(await c.credentials(), { n: "3" });
  assert.equal(asked, 3);
});

Deno.test("nativeTransport() makes no client of its own for plain HTTP, and one for HTTPS; a CA file that cannot be read fails it", async () => {
  const plain = await nativeTransport(kubeconfigFromString([
    "clusters: [{ name: c, cluster: { server: 'http://127.0.0.1:1', insecure-skip-tls-verify: true } }]",
    "contexts: [{ name: x, context: { cluster: c, user: u } }]",
    "current-context: x",
    "users: [{ name: u, user: { token: t } }]",
  ].join("\n")));
  assert.equal(plain.native?.client, undefined);
  assert.deepEqual(await plain.native?.credentials(), { Authorization: "Bearer t" });
  const tls = await nativeTransport(kubeconfigFromString([
    "clusters: [{ name: c, cluster: { server: 'https://127.0.0.1:1' } }]",
    "contexts: [{ name: x, context: { cluster: c } }]",
    "current-context: x",
  ].join("\n")));
  assert.ok(tls.native?.client);
  tls.native.client.close();
  await assert.rejects(
    nativeTransport(kubeconfigFromString([
      "clusters: [{ name: c, cluster: { server: 'https://k:1', certificate-authority: /no/ca.crt } }]",
      "contexts: [{ name: x, context: { cluster: c } }]",
      "current-context: x",
    ].join("\n"))),
    Deno.errors.NotFound,
  );
});
