// What attacks on the HTTP edge cost a running `main.ts serve` (the production V8 heap flags),
// measured from outside: bytes let through, RSS from ps, answers. Prints one JSON line per attack.
//   deno run --allow-net=127.0.0.1,localhost --allow-read --allow-write --allow-run --allow-env \
//     tests/bench/edge.ts [h2c|tls|hog|spread|chunk]... [--total-mib=N]
import { startEmbeddedCluster } from "../../lib/embedded/cluster.ts";
import { HAS_OPENSSL, makeCertificates } from "../support/tls.ts";
import { stop } from "../support/processes.ts";
import { waitFor } from "../support/wait.ts";
import {
  badChunkSize,
  chunkExtension,
  h2InterleavedBody,
  hog,
  postsFrom,
  serveEdge,
  spreadHog,
} from "../support/edge_attacks.ts";

const args = Deno.args.filter((a) => !a.startsWith("--"));
const which = new Set(args.length ? args : ["h2c", "tls", "hog", "spread", "chunk"]);
const totalMiB = Number(Deno.args.find((a) => a.startsWith("--total-mib="))?.split("=")[1] ?? 300);
const MiB = 1024 * 1024;

await using cluster = await startEmbeddedCluster({ workers: 3 });
const dir = await Deno.makeTempDir({ prefix: "node-heal-edge-bench-" });
await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());

const EMPTY_BODY = JSON.stringify({
  version: "4",
  status: "resolved",
  receiver: "node-heal",
  groupKey: "{}:{}",
  alerts: [],
});

/** `nodeheal_connections_closed_total` by limit. */
async function closedAt(url: string): Promise<Record<string, number>> {
  // Once the server has let the attack's connections go.
  const text = await waitFor(
    "the metrics",
    async () => await (await fetch(`${url}/metrics`)).text(),
  );
  return Object.fromEntries(
    [...text.matchAll(/nodeheal_connections_closed_total\{limit="(\w+)"\} (\d+)/g)]
      .map((m) => [m[1], Number(m[2])]),
  );
}

function report(attack: string, figures: Record<string, unknown>) {
  console.log(JSON.stringify({ attack, ...figures }));
}

if (which.has("h2c")) {
  const s = await serveEdge(`${dir}/kubeconfig`, []);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const r = await h2InterleavedBody(conn, s.pid, { total: totalMiB * MiB });
  report("h2c body between /healthz streams", { ...r, sentMiB: r.sent / MiB });
  report("h2c exit", await stop(s.p).then((x) => ({ code: x.code }), (e) => ({ error: `${e}` })));
}

if (which.has("tls") && HAS_OPENSSL) {
  await makeCertificates(dir);
  const caCerts = [await Deno.readTextFile(`${dir}/ca.crt`)];
  const client = Deno.createHttpClient({ caCerts });
  const s = await serveEdge(`${dir}/kubeconfig`, [
    `--tls-cert=${dir}/tls.crt`,
    `--tls-key=${dir}/tls.key`,
  ], client);
  client.close();
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: s.port,
    caCerts,
    alpnProtocols: ["h2"],
  });
  const { alpnProtocol } = await conn.handshake();
  const r = await h2InterleavedBody(conn, s.pid, { total: totalMiB * MiB });
  report("TLS h2 body between /healthz streams", { alpnProtocol, ...r, sentMiB: r.sent / MiB });
  report("tls exit", await stop(s.p).then((x) => ({ code: x.code }), (e) => ({ error: `${e}` })));
}

if (which.has("hog")) {
  const s = await serveEdge(`${dir}/kubeconfig`, ["--max-connections=1024"]);
  const h = hog(s.port, { connections: 1100 });
  await new Promise((r) => setTimeout(r, 3000));
  const statuses = await postsFrom("127.0.0.2", s.port, EMPTY_BODY, { count: 25 });
  report("one client hogs connections", {
    held: h.held,
    opened: h.opened,
    succeeded: statuses.filter((x) => x === "200").length,
    of: statuses.length,
    statuses: [...new Set(statuses)],
  });
  h.stop();
  await stop(s.p);
}

if (which.has("spread")) {
  // 64 addresses holding one head each, against 64 connections of which each address may hold 8.
  const s = await serveEdge(`${dir}/kubeconfig`, [
    "--max-connections=64",
    "--max-connections-per-client=8",
  ]);
  const h = spreadHog(s.port, { addresses: 64 });
  await h.ready;
  await new Promise((r) => setTimeout(r, 1500));
  const statuses = await postsFrom("127.0.0.2", s.port, EMPTY_BODY, { count: 25 });
  report("64 addresses hold one head each", {
    ...await h.stop(),
    succeeded: statuses.filter((x) => x === "200").length,
    of: statuses.length,
    statuses: [...new Set(statuses)],
    closed: await closedAt(s.url),
  });
  await stop(s.p);
}

if (which.has("chunk")) {
  const s = await serveEdge(`${dir}/kubeconfig`, []);
  report("100 KB chunk extension", { status: await chunkExtension(s.port, 100_000) });
  report("chunk size not hex", { status: await badChunkSize(s.port) });
  await stop(s.p);
}
