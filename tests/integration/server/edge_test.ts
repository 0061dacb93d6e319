// The HTTP edge under attack, through a running `main.ts serve` with the production V8 heap: an
// HTTP/2 body interleaved with unauthenticated /healthz streams (h2c and TLS with ALPN h2), one
// client holding every connection it can get, and chunked framing that is not valid. Figures:
// `deno run ... tests/bench/edge.ts`.
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { HAS_OPENSSL, makeCertificates } from "../../support/tls.ts";
import { stop } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";
import { closeQuietly, statusLine } from "../../support/raw_http.ts";
import {
  badChunkSize,
  chunkExtension,
  h2InterleavedBody,
  hog,
  postsFrom,
  serveEdge,
  type Spent,
  spreadHog,
} from "../../support/edge_attacks.ts";

const MiB = 1024 * 1024;
/** What one request may send through the relay by default: twice --max-body-bytes and 64 KiB. */
const CAP = 2 * MiB + 64 * 1024;

const PYTHON = await new Deno.Command("python3", { args: ["--version"], stdout: "null" }).output()
  .then((o) => o.success, () => false);

const EMPTY = JSON.stringify({
  version: "4",
  status: "resolved",
  receiver: "node-heal",
  groupKey: "{}:{}",
  alerts: [],
});

async function withCluster() {
  const cluster = await startEmbeddedCluster({ workers: 3 });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-edge-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  return {
    dir,
    kubeconfig: `${dir}/kubeconfig`,
    async [Symbol.asyncDispose]() {
      await cluster[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * The body was cut near the cap: the server read (acknowledged with WINDOW_UPDATEs, beyond the
 * 1 MiB window it grants at the start) at most the cap, and the client could write at most what
 * the socket buffers and that window took before it saw the cut.
 */
function assertCut(r: Spent): void {
  assert.ok(r.cut, `the body was not cut: ${r.sent / MiB} MiB sent, answered ${r.status}`);
  assert.ok(r.consumed <= CAP + MiB, `the server read ${r.consumed} bytes`);
  assert.ok(r.sent <= CAP + 2 * MiB, `${r.sent} bytes of body sent before the cut`);
}

/** Sends a chunked webhook body that never ends until the server stops it; its status line. */
async function chunkedForever(conn: Deno.Conn): Promise<string | undefined> {
  const encoder = new TextEncoder();
  await conn.write(encoder.encode(
    "POST /webhook HTTP/1.1\r\nHost: node-heal\r\nContent-Type: application/json\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n",
  ));
  const chunk = encoder.encode(`4000\r\n${" ".repeat(16_384)}\r\n`);
  try {
    for (let i = 0; i < 1000; i++) await conn.write(chunk);
  } catch {
    // Cut by node-heal.
  }
  return await statusLine(conn);
}

async function metrics(url: string, client?: Deno.HttpClient): Promise<string> {
  return await (await fetch(`${url}/metrics`, { client })).text();
}

Deno.test("an h2c webhook body is cut at the HTTP/1.1 cap, whatever /healthz streams are answered between its DATA frames", async () => {
  await using c = await withCluster();
  const s = await serveEdge(c.kubeconfig, []);
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    const r = await h2InterleavedBody(conn, s.pid, { total: 64 * MiB });
    assert.ok(r.probes >= 2, `${r.probes} /healthz streams were answered on the connection`);
    assertCut(r);
    assert.ok(r.rssPeak - r.rssBefore < 50, `RSS grew ${r.rssPeak - r.rssBefore} MiB`);
    assert.match(await metrics(s.url), /nodeheal_connections_closed_total\{limit="body"\} 1\b/);
    // The cut connection was the attacker's alone: the next one is served.
    const health = await fetch(`${s.url}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
  } finally {
    assert.equal((await stop(s.p)).code, 0);
  }
});

Deno.test({
  name:
    "over TLS a webhook body is cut at the same cap, per HTTP/2 stream (ALPN h2) and with a 413 over HTTP/1.1, the guard ending TLS",
  ignore: !HAS_OPENSSL,
  fn: async () => {
    await using c = await withCluster();
    await makeCertificates(c.dir);
    const caCerts = [await Deno.readTextFile(`${c.dir}/ca.crt`)];
    const client = Deno.createHttpClient({ caCerts });
    const s = await serveEdge(c.kubeconfig, [
      `--tls-cert=${c.dir}/tls.crt`,
      `--tls-key=${c.dir}/tls.key`,
    ], client);
    try {
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: s.port,
        caCerts,
        alpnProtocols: ["h2"],
      });
      assert.equal((await conn.handshake()).alpnProtocol, "h2");
      const r = await h2InterleavedBody(conn, s.pid, { total: 64 * MiB });
      assert.ok(r.probes >= 2, `${r.probes} /healthz streams were answered on the connection`);
      assertCut(r);
      assert.ok(r.rssPeak - r.rssBefore < 50, `RSS grew ${r.rssPeak - r.rssBefore} MiB`);
      assert.match(
        await metrics(s.url, client),
        /nodeheal_connections_closed_total\{limit="body"\} 1\b/,
      );
      // HTTP/1.1 over TLS: a body that never ends is answered 413 as it passes the cap.
      const h1 = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: s.port,
        caCerts,
        alpnProtocols: ["http/1.1"],
      });
      assert.equal(await chunkedForever(h1), "HTTP/1.1 413 Payload Too Large");
      closeQuietly(h1);
    } finally {
      client.close();
      assert.equal((await stop(s.p)).code, 0);
    }
  },
});

for (
  const [what, flags] of [
    ["past its share of --max-connections", ["--max-connections-per-client=8"]],
    ["with every connection taken, idle and waiting ones shed first", [
      "--max-connections-per-client=32",
    ]],
  ] as const
) {
  Deno.test({
    name:
      `one client holding every connection it can get (${what}) leaves 90% of another address's posts succeeding`,
    ignore: !PYTHON,
    fn: async () => {
      await using c = await withCluster();
      const s = await serveEdge(c.kubeconfig, ["--max-connections=32", ...flags]);
      const h = hog(s.port, { connections: 100 });
      try {
        // The hog holds its connections before the first post.
        await new Promise((r) => setTimeout(r, 1000));
        assert.ok(h.opened >= 32, `the hog opened ${h.opened} connections`);
        const statuses = await postsFrom("127.0.0.2", s.port, EMPTY, { count: 25 });
        const ok = statuses.filter((x) => x === "200").length;
        assert.ok(ok >= 23, `${ok} of 25 posts succeeded: ${statuses.join(" ")}`);
        h.stop();
        // Asked from the hog's own address, once the server has let its connections go.
        const m = await waitFor("the metrics", () => metrics(s.url), 10_000);
        assert.match(m, /nodeheal_connections_closed_total\{limit="(client|shed)"\} [1-9]/);
      } finally {
        h.stop();
        assert.equal((await stop(s.p)).code, 0);
      }
    },
  });
}

Deno.test({
  name:
    "64 addresses each holding one head they never finish, reopened when closed, leave 90% of another address's posts succeeding",
  ignore: !PYTHON,
  fn: async () => {
    await using c = await withCluster();
    const s = await serveEdge(c.kubeconfig, [
      "--max-connections=64",
      "--max-connections-per-client=8",
    ]);
    const h = spreadHog(s.port, { addresses: 64 });
    try {
      await waitFor("the hog's 64 connections", () => h.ready.then(() => true), 15_000);
      // Their heads wait past the grace before a connection waiting for its head may be shed.
      await new Promise((r) => setTimeout(r, 1500));
      const statuses = await postsFrom("127.0.0.2", s.port, EMPTY, { count: 25 });
      const ok = statuses.filter((x) => x === "200").length;
      assert.ok(ok >= 23, `${ok} of 25 posts succeeded: ${statuses.join(" ")}`);
      const { opened } = await h.stop();
      assert.ok(opened >= 64, `the hog opened ${opened} connections`);
      const m = await waitFor("the metrics", () => metrics(s.url), 10_000);
      assert.match(m, /nodeheal_connections_closed_total\{limit="shed"\} [1-9]/);
    } finally {
      await h.stop().catch(() => {});
      assert.equal((await stop(s.p)).code, 0);
    }
  },
});

Deno.test("a 100 KB chunk extension and a chunk size that is not hex are answered 400, and counted", async () => {
  await using c = await withCluster();
  const s = await serveEdge(c.kubeconfig, []);
  try {
    assert.equal(await chunkExtension(s.port, 100_000), "HTTP/1.1 400 Bad Request");
    assert.equal(await badChunkSize(s.port), "HTTP/1.1 400 Bad Request");
    // A chunk extension within the runtime's limit is no error.
    assert.equal(await chunkExtension(s.port, 100, EMPTY), "HTTP/1.1 200 OK");
    const m = await metrics(s.url);
    assert.match(m, /nodeheal_alertmanager_notifications_total\{status="unknown",code="400"\} 1\b/);
    assert.match(m, /nodeheal_connections_closed_total\{limit="framing"\} 1\b/);
    assert.doesNotMatch(m, /code="503"/);
  } finally {
    assert.equal((await stop(s.p)).code, 0);
  }
});
