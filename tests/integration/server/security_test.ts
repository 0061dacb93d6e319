// Who may post to the webhook, and what hostile input gets: each through real HTTP, each
// checked to change nothing in the cluster.
import assert from "node:assert/strict";
import { HAS_OPENSSL, makeCertificates } from "../../support/tls.ts";
import { closeQuietly, statusLine } from "../../support/raw_http.ts";
import fc from "fast-check";
import firing from "../../fixtures/alertmanager-0.25-firing.json" with { type: "json" };
import { authorized, challenge, parseBasicUsers, sameSecret } from "../../../lib/server/auth.ts";
import { checkExposure, startService } from "../../../lib/service/service.ts";
import { type ServiceFixture, withService } from "../../support/helpers.ts";

const TOKEN = "s3cret-token-0123456789";
const credentials = {
  bearerTokens: [TOKEN],
  basicUsers: new Map([["alertmanager", "pa:ss"]]),
};

/** Requests the cluster saw that write anything. */
function writes(f: ServiceFixture): string[] {
  return f.cluster.api.traffic.requests
    .filter((r) => !["get", "list", "watch"].includes(r.verb))
    .map((r) => `${r.verb} ${r.resource}`);
}

function post(
  f: ServiceFixture,
  body: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${f.service.url}/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

Deno.test("sameSecret() and authorized() accept only the configured token or user", async () => {
  assert.equal(await sameSecret("a", "a"), true);
  assert.equal(await sameSecret("a", "b"), false);
  assert.equal(await authorized(`Bearer ${TOKEN}`, credentials), true);
  assert.equal(await authorized(`bearer ${TOKEN}`, credentials), true);
  assert.equal(await authorized(`Bearer ${TOKEN}x`, credentials), false);
  assert.equal(await authorized(`Basic ${btoa("alertmanager:pa:ss")}`, credentials), true);
  assert.equal(await authorized(`Basic ${btoa("alertmanager:wrong")}`, credentials), false);
  assert.equal(await authorized(`Basic ${btoa("nobody:pa:ss")}`, credentials), false);
  assert.equal(await authorized("Basic !!!", credentials), false);
  assert.equal(await authorized(null, credentials), false);
  assert.match(challenge(credentials), /^Bearer realm="node-heal", Basic realm="node-heal"/);
  assert.deepEqual([...parseBasicUsers("# users\nam:x\n\nb:y:z\n", "f")], [["am", "x"], [
    "b",
    "y:z",
  ]]);
  assert.throws(
    () => parseBasicUsers("nocolon", "users.txt"),
    /users\.txt: line 1 must be user:password/,
  );
});

Deno.test(
  "with credentials set, unauthenticated and wrong-token requests get 401 and change nothing",
  async () => {
    await using f = await withService({ credentials });
    f.cluster.api.traffic.reset();
    const body = JSON.stringify(firing);
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: `Basic ${btoa("alertmanager:no")}` },
    ];
    for (const headers of attempts) {
      const res = await post(f, body, headers);
      assert.equal(res.status, 401);
      assert.match(res.headers.get("www-authenticate") ?? "", /Bearer realm="node-heal"/);
      await res.body?.cancel();
    }
    assert.deepEqual(writes(f), []);
    const ok = await post(f, body, { authorization: `Bearer ${TOKEN}` });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).alerts[0].outcome, "cordon");
    const basic = await post(f, body, { authorization: `Basic ${btoa("alertmanager:pa:ss")}` });
    assert.equal(basic.status, 200);
    await basic.body?.cancel();
    // Probes and metrics stay open: kubelet and Prometheus carry no webhook token.
    const health = await fetch(`${f.service.url}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
  },
);

Deno.test(
  "oversized, wrong-type, malformed and over-limit requests each get their status and change nothing",
  async () => {
    await using f = await withService();
    f.cluster.api.traffic.reset();
    const alert = firing.alerts[0];
    const cases: [string, Record<string, string>, string, number, RegExp][] = [
      ["oversized", {}, "x".repeat(1024 * 1024 + 1), 413, /too large/],
      [
        "wrong type",
        { "content-type": "text/plain" },
        JSON.stringify(firing),
        415,
        /application\/json/,
      ],
      [
        "form post",
        { "content-type": "application/x-www-form-urlencoded" },
        "a=b",
        415,
        /Unsupported content type/,
      ],
      ["malformed", {}, "{nope", 400, /not JSON/],
      ["wrong field", {}, JSON.stringify({ ...firing, status: 7 }), 400, /field "status"/],
      [
        "label value too long",
        {},
        JSON.stringify({
          ...firing,
          alerts: [{ ...alert, labels: { ...alert.labels, x: "v".repeat(5000) } }],
        }),
        400,
        /field "alerts\[0\]\.labels\.x" must be at most 4096 characters/,
      ],
      [
        "too many labels",
        {},
        JSON.stringify({
          ...firing,
          alerts: [{
            ...alert,
            labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, "v"])),
          }],
        }),
        400,
        /must have at most 64 entries/,
      ],
    ];
    for (const [name, headers, body, status, message] of cases) {
      const res = await post(f, body, headers);
      assert.equal(res.status, status, name);
      assert.match((await res.json()).error, message, name);
    }
    const get = await fetch(`${f.service.url}/webhook`);
    assert.equal(get.status, 405);
    await get.body?.cancel();
    assert.deepEqual(writes(f), []);
  },
);

Deno.test(
  "property: random and mutated payloads never get a 5xx, never crash, never write",
  async () => {
    await using f = await withService();
    f.cluster.api.traffic.reset();
    const alert = firing.alerts[0];
    const wrongValue = fc.oneof(
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
    );
    // Every mutation breaks a field the schema requires, so none is a valid notification.
    const mutated = fc.oneof(
      wrongValue.filter((v) => !Array.isArray(v)).map((v) => ({ ...firing, alerts: v })),
      fc.array(fc.string(), { minLength: 1, maxLength: 3 }).map((v) => ({ ...firing, alerts: v })),
      wrongValue.map((v) => ({ ...firing, version: v })),
      fc.string({ maxLength: 8 }).filter((s) => s !== "4").map((v) => ({ ...firing, version: v })),
      wrongValue.map((v) => ({ ...firing, alerts: [{ ...alert, status: v }] })),
      fc.string({ maxLength: 10 }).filter((s) => s !== "firing" && s !== "resolved")
        .map((v) => ({ ...firing, alerts: [{ ...alert, status: v }] })),
      wrongValue.filter((v) => typeof v !== "object" || v === null || Array.isArray(v))
        .map((v) => ({ ...firing, alerts: [{ ...alert, labels: v }] })),
      fc.integer().map((v) => ({
        ...firing,
        alerts: [{ ...alert, labels: { ...alert.labels, instance: v } }],
      })),
    );
    const randomJson = fc.jsonValue({ maxDepth: 3 }).filter((v) =>
      !(v !== null && typeof v === "object" && !Array.isArray(v) &&
        (v as { version?: unknown }).version === "4")
    );
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          mutated.map((v) => JSON.stringify(v)),
          randomJson.map((v) => JSON.stringify(v)),
          fc.string({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 200 }).map((b) => new TextDecoder().decode(b)),
        ),
        async (body) => {
          runs++;
          const res = await post(f, body);
          const answer = await res.text();
          assert.ok(
            res.status >= 400 && res.status < 500,
            `${res.status} ${answer} for ${JSON.stringify(body).slice(0, 300)}`,
          );
        },
      ),
      { numRuns: 400 },
    );
    console.log(`property cases run: ${runs}`);
    assert.deepEqual(writes(f), [], "no bad payload wrote anything");
    const health = await fetch(`${f.service.url}/healthz`);
    assert.equal(health.status, 200, "still serving");
    await health.body?.cancel();
  },
);

Deno.test("serve refuses a non-loopback address without credentials, unless given them or told it is insecure", async () => {
  const base = { listen: { hostname: "0.0.0.0", port: 8000 } };
  assert.throws(
    () => checkExposure(base),
    /Refusing to serve the webhook on 0\.0\.0\.0:8000 without credentials/,
  );
  checkExposure({ ...base, insecureAllowUnauthenticated: true });
  checkExposure({ ...base, credentials: { bearerTokens: ["t"], basicUsers: new Map() } });
  checkExposure({ listen: { hostname: "127.0.0.1", port: 8000 } });
  checkExposure({ listen: { hostname: "::1", port: 8000 } });
  // startService checks before it starts anything.
  await assert.rejects(
    () =>
      startService({
        ...base,
        dryRun: false,
        instance: "t",
        eventNamespace: "default",
        holdTtlMs: 3_600_000,
        apiTimeoutMs: 10_000,
      }),
    /Refusing to serve/,
  );
});

Deno.test({
  name:
    "with --tls-cert and --tls-key the webhook is served over HTTPS, and a handshake that never ends is closed at --header-timeout",
  ignore: !HAS_OPENSSL,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "node-heal-tls-" });
    await makeCertificates(dir);
    await using f = await withService({
      tls: {
        cert: await Deno.readTextFile(`${dir}/tls.crt`),
        key: await Deno.readTextFile(`${dir}/tls.key`),
      },
      limits: { headerTimeoutMs: 500 },
    });
    assert.match(f.service.url, /^https:\/\//);
    const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${dir}/ca.crt`)] });
    const res = await fetch(`${f.service.url}/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(firing),
      client,
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    client.close();
    // A connection that says nothing, and one that starts a ClientHello and stops.
    const port = Number(new URL(f.service.url).port);
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    const partial = await Deno.connect({ hostname: "127.0.0.1", port });
    await partial.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00]));
    assert.deepEqual(await Promise.all([statusLine(silent), statusLine(partial)]), [
      "closed",
      "closed",
    ]);
    closeQuietly(silent);
    closeQuietly(partial);
    await Deno.remove(dir, { recursive: true });
  },
});
