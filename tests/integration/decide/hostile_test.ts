// node-heal under hostile input, through the running server: raw sockets where an HTTP client
// cannot express the attack (chunks, trickles, heads that never end), the cluster read back
// with the real client library. Memory and time are measured in `deno task bench:hostile`.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { notification, type ServiceFixture, waitFor, withService } from "../../support/helpers.ts";
import { closeQuietly, statusLine } from "../../support/raw_http.ts";

const encoder = new TextEncoder();
const INSTANCE = "172.18.0.3:9100"; // heal-worker
const RELAXED = parsePolicy(
  "acknowledge: [minHealthyZero]\ngates: { minHealthy: 0, cooldown: 0s }",
);

async function connect(f: ServiceFixture): Promise<Deno.TcpConn> {
  const url = new URL(f.service.url);
  return await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
}

/** A chunked request head for the webhook. */
const CHUNKED_HEAD = "POST /webhook HTTP/1.1\r\nHost: node-heal\r\n" +
  "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

/** A webhook request with its length, as Alertmanager sends it. */
function webhookRequest(body: string): string {
  return "POST /webhook HTTP/1.1\r\nHost: node-heal\r\nContent-Type: application/json\r\n" +
    `Content-Length: ${new TextEncoder().encode(body).length}\r\n\r\n${body}`;
}

/** Sends `body` as one-byte chunks, many to a write so the test is quick. */
async function sendOneByteChunks(conn: Deno.Conn, body: string, end: boolean): Promise<void> {
  for (let i = 0; i < body.length; i += 500) {
    const part = [...body.slice(i, i + 500)].map((ch) => `1\r\n${ch}\r\n`).join("");
    await conn.write(encoder.encode(part));
  }
  if (end) await conn.write(encoder.encode("0\r\n\r\n"));
}

async function metric(f: ServiceFixture, pattern: RegExp): Promise<boolean> {
  const text = await (await fetch(`${f.service.url}/metrics`)).text();
  return pattern.test(text);
}

async function nodeHealAnnotations(f: ServiceFixture, node: string) {
  const n = await f.core.readNode({ name: node });
  return Object.fromEntries(
    Object.entries(n.metadata?.annotations ?? {}).filter(([k]) => k.startsWith("node-heal.io/")),
  );
}

async function unschedulable(f: ServiceFixture, node: string): Promise<boolean> {
  return (await f.core.readNode({ name: node })).spec?.unschedulable === true;
}

function firing(fingerprint: string, extra: Record<string, string> = {}) {
  return notification("firing", [{
    labels: { alertname: "NodeHighCPU", heal: "true", instance: INSTANCE, ...extra },
    fingerprint,
  }]);
}

Deno.test("a body with its length, sent a byte at a time, is read whole and handled", async () => {
  await using f = await withService();
  const body = JSON.stringify(firing("trickled")).padEnd(5000, " ");
  const conn = await connect(f);
  await conn.write(encoder.encode(
    "POST /webhook HTTP/1.1\r\nHost: node-heal\r\nContent-Type: application/json\r\n" +
      `Content-Length: ${body.length}\r\n\r\n`,
  ));
  for (const ch of body) await conn.write(encoder.encode(ch));
  assert.equal(await statusLine(conn), "HTTP/1.1 200 OK");
  closeQuietly(conn);
  assert.equal(await unschedulable(f, "heal-worker"), true);
});

Deno.test("a body of 20,000 one-byte chunks is read whole and handled", async () => {
  await using f = await withService();
  const body = JSON.stringify(firing("chunky")).padEnd(20_000, " ");
  const conn = await connect(f);
  await conn.write(encoder.encode(CHUNKED_HEAD));
  await sendOneByteChunks(conn, body, true);
  assert.equal(await statusLine(conn), "HTTP/1.1 200 OK");
  closeQuietly(conn);
  assert.equal(await unschedulable(f, "heal-worker"), true);
});

Deno.test("a chunked body past --max-body-bytes is answered 413", async () => {
  await using f = await withService({ limits: { maxBodyBytes: 4096 } });
  const conn = await connect(f);
  await conn.write(encoder.encode(CHUNKED_HEAD));
  await sendOneByteChunks(conn, "x".repeat(5000), true);
  assert.equal(await statusLine(conn), "HTTP/1.1 413 Payload Too Large");
  closeQuietly(conn);
});

Deno.test("a chunked body that never ends is cut with 413 as it passes twice the limit", async () => {
  await using f = await withService({ limits: { maxBodyBytes: 4096 } });
  const conn = await connect(f);
  await conn.write(encoder.encode(CHUNKED_HEAD));
  // No last chunk: only a limit enforced as bytes arrive can answer before the request timeout.
  const chunk = encoder.encode(`400\r\n${"x".repeat(1024)}\r\n`);
  let sent = 0;
  try {
    for (; sent < 1000; sent++) await conn.write(chunk);
  } catch {
    // Cut by node-heal.
  }
  assert.equal(await statusLine(conn), "HTTP/1.1 413 Payload Too Large");
  closeQuietly(conn);
  assert.ok(await metric(f, /nodeheal_connections_closed_total\{limit="body"\} 1/));
});

Deno.test("a body that trickles in is answered 503 once the request timeout passes, so Alertmanager retries", async () => {
  await using f = await withService({ limits: { requestTimeoutMs: 500 } });
  const conn = await connect(f);
  await conn.write(encoder.encode(
    "POST /webhook HTTP/1.1\r\nHost: node-heal\r\nContent-Type: application/json\r\n" +
      "Content-Length: 1000\r\n\r\n{",
  ));
  const trickle = setInterval(() => conn.write(encoder.encode(" ")).catch(() => {}), 100);
  try {
    assert.equal(await statusLine(conn), "HTTP/1.1 503 Service Unavailable");
  } finally {
    clearInterval(trickle);
    closeQuietly(conn);
  }
  assert.ok(
    await metric(f, /nodeheal_alertmanager_notifications_total\{status="unknown",code="503"\} 1/),
  );
});

Deno.test("a connection whose request head never ends is closed at --header-timeout", async () => {
  await using f = await withService({ limits: { headerTimeoutMs: 300 } });
  const conn = await connect(f);
  await conn.write(encoder.encode("POST /webhook HTTP/1.1\r\nHost: node-heal\r\n"));
  assert.equal(await statusLine(conn), "closed");
  closeQuietly(conn);
  assert.ok(await metric(f, /nodeheal_connections_closed_total\{limit="header"\} 1/));
});

Deno.test("a kept-alive connection left idle is closed at --idle-timeout", async () => {
  await using f = await withService({ limits: { idleTimeoutMs: 300 } });
  const conn = await connect(f);
  await conn.write(encoder.encode("GET /healthz HTTP/1.1\r\nHost: node-heal\r\n\r\n"));
  assert.equal(await statusLine(conn), "HTTP/1.1 200 OK");
  // The same connection serves a second request, then idles until it is closed.
  await conn.write(encoder.encode("GET /healthz HTTP/1.1\r\nHost: node-heal\r\n\r\n"));
  assert.equal(await statusLine(conn), "HTTP/1.1 200 OK");
  assert.equal(await statusLine(conn), "closed");
  closeQuietly(conn);
  assert.ok(await metric(f, /nodeheal_connections_closed_total\{limit="idle"\} 1/));
});

Deno.test("a client that half-closes after its request still gets the answer, however long it takes", async () => {
  await using f = await withService();
  // A probe answered at once, then a notification that writes to the cluster before it answers.
  const cases: [string, string][] = [
    ["GET /healthz HTTP/1.1\r\nHost: node-heal\r\n\r\n", "HTTP/1.1 200 OK"],
    [webhookRequest(JSON.stringify(firing("half-closed"))), "HTTP/1.1 200 OK"],
  ];
  for (const [request, expected] of cases) {
    const conn = await connect(f);
    await conn.write(encoder.encode(request));
    await conn.closeWrite();
    assert.equal(await statusLine(conn), expected);
    closeQuietly(conn);
  }
  assert.equal(await unschedulable(f, "heal-worker"), true);
});

Deno.test("pipelined requests of nearly the body limit each get their answer", async () => {
  await using f = await withService();
  const bodies = ["p1", "p2", "p3"].map((fp) =>
    JSON.stringify(notification("resolved", [{
      labels: { alertname: "NodeHighCPU", heal: "true", instance: INSTANCE },
      fingerprint: fp,
    }])).padEnd(1_000_000, " ")
  );
  const conn = await connect(f);
  const writing = conn.write(encoder.encode(bodies.map(webhookRequest).join("")));
  // Three answers on one connection: read until three status lines came.
  const buf = new Uint8Array(65_536);
  let text = "";
  const deadline = setTimeout(() => conn.close(), 20_000);
  try {
    // An answer's JSON body does not end its line: the next status line follows it directly.
    while ((text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length < 3) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } catch {
    // Closed by the deadline.
  } finally {
    clearTimeout(deadline);
  }
  await writing.catch(() => {});
  closeQuietly(conn);
  assert.deepEqual(text.match(/HTTP\/1\.1 \d{3}/g), [
    "HTTP/1.1 200",
    "HTTP/1.1 200",
    "HTTP/1.1 200",
  ]);
});

const PYTHON = await new Deno.Command("python3", { args: ["--version"], stdout: "null" }).output()
  .then((o) => o.success, () => false);

Deno.test({
  name: "a connection reset before it is accepted does not stop node-heal accepting the next",
  ignore: !PYTHON,
  fn: async () => {
    await using f = await withService();
    const port = new URL(f.service.url).port;
    // A reset (SO_LINGER 0) right after connecting: accept() fails for that connection only.
    const reset = await new Deno.Command("python3", {
      args: [
        "-c",
        "import socket,struct,sys\nfor _ in range(3):\n s=socket.create_connection(('127.0.0.1',int(sys.argv[1])))\n s.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack('ii',1,0))\n s.close()",
        port,
      ],
    }).output();
    assert.ok(reset.success);
    const res = await fetch(`${f.service.url}/healthz`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  },
});

Deno.test("connections past --max-connections are closed as they arrive", async () => {
  await using f = await withService({ limits: { maxConnections: 2 } });
  const held = [await connect(f), await connect(f)];
  for (const c of held) await c.write(encoder.encode("GET /healthz HTTP/1.1\r\n"));
  const third = await connect(f);
  assert.equal(await statusLine(third), "closed");
  closeQuietly(third);
  for (const c of held) closeQuietly(c);
  const counted = await waitFor("the closed connection in the metrics", async () => {
    try {
      // Tries made while the held connections were still open were closed too: at least 1.
      return await metric(f, /nodeheal_connections_closed_total\{limit="connections"\} [1-9]/);
    } catch {
      return false; // The held connections are still being let go.
    }
  });
  assert.ok(counted);
});

Deno.test("webhook requests past --max-in-flight are answered 503 with Retry-After", async () => {
  // A request holds its slot until its answer, at most --request-timeout.
  await using f = await withService({ limits: { maxInFlight: 1, requestTimeoutMs: 1000 } });
  const slow = await connect(f);
  await slow.write(encoder.encode(
    "POST /webhook HTTP/1.1\r\nHost: node-heal\r\nContent-Type: application/json\r\n" +
      "Content-Length: 500\r\n\r\n{",
  ));
  const busy = await waitFor("a second request to be refused", async () => {
    const res = await f.post(firing("busy"));
    await res.body?.cancel();
    return res.status === 503 ? res : undefined;
  });
  assert.equal(busy.headers.get("retry-after"), "5");
  assert.equal(await unschedulable(f, "heal-worker"), false, "the refused alert did nothing");
  closeQuietly(slow);
  await waitFor("the slot to be free again", async () => {
    const res = await f.post(firing("busy"));
    await res.body?.cancel();
    return res.status === 200;
  });
  assert.equal(await unschedulable(f, "heal-worker"), true);
});

Deno.test("a body cut off by shutdown is answered 503, so Alertmanager sends it again", async () => {
  const f = await withService();
  const conn = await connect(f);
  await conn.write(encoder.encode(
    "POST /webhook HTTP/1.1\r\nHost: node-heal\r\nContent-Type: application/json\r\n" +
      "Content-Length: 500\r\n\r\n{",
  ));
  // Once a probe on another connection is answered, the webhook's head is in and it is reading.
  const probe = await fetch(`${f.service.url}/healthz`);
  await probe.body?.cancel();
  const closing = f.service.close();
  const got = await statusLine(conn);
  await closing;
  closeQuietly(conn);
  assert.equal(got, "HTTP/1.1 503 Service Unavailable");
});

Deno.test("a 900 KB fingerprint is refused with 400 naming the field, and nothing is written", async () => {
  await using f = await withService();
  f.cluster.api.traffic.reset();
  const res = await f.post(firing("0".repeat(900_000)));
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.match(body.error, /field "alerts\[0\]\.fingerprint" must be at most 64 characters/);
  assert.ok(body.error.length < 300, "the error does not echo the fingerprint");
  assert.deepEqual(await nodeHealAnnotations(f, "heal-worker"), {});
  const writes = f.cluster.api.traffic.requests.filter((r) =>
    ["create", "update", "patch", "delete"].includes(r.verb)
  );
  assert.deepEqual(writes.map((r) => `${r.verb} ${r.resource}`), []);
});

Deno.test("the largest label values and summaries leave Events, annotations and /status small", async () => {
  await using f = await withService();
  const big = notification("firing", [{
    labels: { alertname: "A".repeat(4096), heal: "true", instance: INSTANCE },
    fingerprint: "f".repeat(64),
    summary: "S".repeat(16_384),
  }]);
  (big.alerts as Record<string, unknown>[])[0].generatorURL = `http://x/${"g".repeat(4000)}`;
  const res = await f.post(big);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).alerts[0].outcome, "cordon");
  const annotations = await nodeHealAnnotations(f, "heal-worker");
  assert.ok(
    JSON.stringify(annotations).length < 1024,
    `node-heal's annotations are ${JSON.stringify(annotations).length} bytes`,
  );
  const events = await f.core.listNamespacedEvent({ namespace: "default" });
  assert.ok(events.items.length > 0);
  for (const e of events.items) {
    assert.ok((e.message ?? "").length <= 1024, `an Event of ${e.message?.length} characters`);
  }
  const status = await (await fetch(`${f.service.url}/status`)).text();
  assert.ok(status.length < 8192, `/status is ${status.length} bytes`);
});

Deno.test("5,000 resolved alerts that hold nothing cost at most one read per node", async () => {
  await using f = await withService();
  f.cluster.api.traffic.reset();
  const ips = ["172.18.0.3", "172.18.0.4", "172.18.0.5"];
  // As compact as Alertmanager's own, so that 5,000 fit in the 1 MiB body limit.
  const res = await f.post({
    version: "4",
    status: "resolved",
    alerts: Array.from({ length: 5000 }, (_, i) => ({
      status: "resolved",
      labels: { alertname: "NodeHighCPU", heal: "true", instance: `${ips[i % 3]}:9100` },
      startsAt: "2026-11-28T10:00:00Z",
      fingerprint: `r${i}`,
    })),
  });
  assert.equal(res.status, 200);
  const outcomes = new Set((await res.json()).alerts.map((a: { outcome: string }) => a.outcome));
  assert.deepEqual([...outcomes], ["skipped"]);
  const reads = f.cluster.api.traffic.requests.filter((r) =>
    r.verb === "get" && r.resource === "nodes"
  );
  assert.ok(reads.length <= 3, `${reads.length} node reads for 3 nodes`);
});

Deno.test("a node held by 200 alerts stays cordoned until the last of them resolves", async () => {
  await using f = await withService();
  const alerts = Array.from({ length: 200 }, (_, i) => ({
    labels: { alertname: `Alert${i}`, heal: "true", instance: INSTANCE },
    fingerprint: `h${String(i).padStart(3, "0")}`,
  }));
  assert.equal((await f.post(notification("firing", alerts))).status, 200);
  assert.equal(await unschedulable(f, "heal-worker"), true);
  const annotations = await nodeHealAnnotations(f, "heal-worker");
  assert.ok(JSON.stringify(annotations).length < 16_384, "the record of 200 holds stays small");
  for (let i = 0; i < 199; i += 50) {
    const res = await f.post(notification("resolved", alerts.slice(i, Math.min(i + 50, 199))));
    assert.equal(res.status, 200);
    assert.equal(await unschedulable(f, "heal-worker"), true, `after ${i + 50} resolved`);
  }
  const last = await f.post(notification("resolved", alerts.slice(199)));
  assert.equal((await last.json()).alerts[0].outcome, "uncordon");
  assert.equal(await unschedulable(f, "heal-worker"), false);
});

Deno.test("a firing delivered after its own resolution changes nothing; a new firing still acts", async () => {
  await using f = await withService({ policy: RELAXED });
  const at = (status: "firing" | "resolved", startsAt: string) => {
    const n = firing("late");
    for (const a of n.alerts as Record<string, unknown>[]) {
      a.status = status;
      a.startsAt = startsAt;
    }
    n.status = status;
    return n;
  };
  const outcome = async (body: unknown) => (await (await f.post(body)).json()).alerts[0];
  assert.equal((await outcome(at("firing", "2026-11-28T10:00:00Z"))).outcome, "cordon");
  assert.equal((await outcome(at("resolved", "2026-11-28T10:00:00Z"))).outcome, "uncordon");
  const late = await outcome(at("firing", "2026-11-28T10:00:00Z"));
  assert.deepEqual([late.outcome, late.gate], ["skipped", "stale"]);
  assert.equal(await unschedulable(f, "heal-worker"), false);
  // The same alert firing again later is a new alert (a new startsAt): it cordons.
  assert.equal((await outcome(at("firing", "2026-11-28T11:00:00Z"))).outcome, "cordon");
});

Deno.test("alerts with an empty name and with names JSON escapes six times over cordon, hold and release", async () => {
  // Once, an empty name was written in the hold, dropped on reading back, and the Node stayed
  // cordoned for good; names of control characters passed the reader's size bound with fewer alerts.
  await using f = await withService({ policy: RELAXED });
  const holders = [
    ["empty", ""],
    ...Array.from({ length: 20 }, (_, i) => [`ctl-${i}`, "\u0001".repeat(4000)]),
  ];
  for (const [fingerprint, alertname] of holders) {
    const res = await f.post(firing(fingerprint, { alertname }));
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  assert.equal(await unschedulable(f, "heal-worker"), true);
  const held = JSON.parse((await nodeHealAnnotations(f, "heal-worker"))["node-heal.io/alerts"]);
  assert.equal(held.empty.alertname, "unnamed");
  assert.equal(Object.keys(held).length, holders.length);
  assert.equal(
    await metric(f, /nodeheal_untrusted_state_total\{/),
    false,
    "nothing read back dropped",
  );
  // Released only by the last of them.
  for (const [i, [fingerprint, alertname]] of holders.entries()) {
    const res = await f.post(notification("resolved", [{
      labels: { alertname, heal: "true", instance: INSTANCE },
      fingerprint,
    }]));
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(await unschedulable(f, "heal-worker"), i < holders.length - 1, fingerprint);
  }
});
