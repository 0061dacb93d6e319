// Attacks on node-heal's HTTP edge, each through a running `main.ts serve`: shared by
// tests/integration/server/edge_test.ts (which asserts the bounds) and tests/bench/edge.ts (which prints
// the figures, before and after).
import { h2Connect } from "./h2.ts";
import { closeQuietly, statusLine } from "./raw_http.ts";
import { rssMiB, startServe, watched } from "./processes.ts";
import { waitFor } from "./wait.ts";

const encoder = new TextEncoder();
const MiB = 1024 * 1024;

/**
 * Starts `main.ts serve` (the production heap) against the cluster of `kubeconfig`, with these
 * flags, and waits until it is ready (`client` trusts its certificate when it serves TLS).
 */
export async function serveEdge(kubeconfig: string, extra: string[], client?: Deno.HttpClient) {
  const p = watched(startServe([
    "--listen=127.0.0.1:0",
    `--kubeconfig=${kubeconfig}`,
    "--log-format=json",
    ...extra,
  ]));
  const started = await waitFor(
    "the start-up line",
    () => p.out.records.find((r) => String(r.message).includes("listening on")),
    15_000,
  );
  const url = new URL((started.properties as { url: string }).url);
  await waitFor("readiness", async () => {
    const r = await fetch(`${url}readyz`, { client });
    await r.body?.cancel();
    return r.ok;
  }, 15_000);
  return { p, url: url.origin, port: Number(url.port), pid: p.child.pid };
}

/** What one attack let through, and what it cost. */
export interface Spent {
  /** Body bytes the client sent on its one webhook stream before the connection ended. */
  sent: number;
  /** Body bytes the server acknowledged reading (its connection WINDOW_UPDATEs). */
  consumed: number;
  /** /healthz streams answered between the DATA frames. */
  probes: number;
  rssBefore: number;
  rssPeak: number;
  /** Whether the connection ended before `total` bytes were sent. */
  cut: boolean;
  /** The status of the webhook stream, if it got one. */
  status?: string;
  seconds: number;
}

/**
 * One authenticated webhook stream sends `total` bytes of body, a MiB at a time, and between
 * each MiB a `/healthz` stream (no token) is answered on the same HTTP/2 connection: on a relay
 * that refunds an answered request's allowance, the webhook's body is never cut.
 */
export async function h2InterleavedBody(
  conn: Deno.Conn,
  pid: number,
  options: { total: number; token?: string },
): Promise<Spent> {
  const started = performance.now();
  const rssBefore = await rssMiB(pid);
  let rssPeak = rssBefore, sent = 0, probes = 0;
  const h2 = h2Connect(conn);
  const auth: [string, string][] = options.token
    ? [["authorization", `Bearer ${options.token}`]]
    : [];
  const hook = h2.request("/webhook", {
    method: "POST",
    headers: [["content-type", "application/json"], ...auth],
    end: false,
  });
  const chunk = new Uint8Array(MiB).fill(0x20);
  chunk[0] = 0x7b; // "{": never valid JSON, never acted on.
  while (sent < options.total) {
    if (!await h2.data(hook, sent === 0 ? chunk : chunk.fill(0x20, 0, 1))) break;
    sent += chunk.length;
    const probe = h2.request("/healthz");
    if (await h2.status(probe, 5000) !== "200") break;
    probes++;
    if (probes % 16 === 0) rssPeak = Math.max(rssPeak, await rssMiB(pid));
  }
  rssPeak = Math.max(rssPeak, await rssMiB(pid));
  const cut = sent < options.total;
  const status = cut
    ? undefined
    : (await h2.data(hook, new Uint8Array(), true), await h2.status(hook));
  const consumed = h2.consumed;
  h2.close();
  return {
    sent,
    consumed,
    probes,
    rssBefore,
    rssPeak,
    cut,
    status,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The status line answering a chunked webhook body (one chunk) with an extension of `bytes`. */
export async function chunkExtension(
  port: number,
  bytes: number,
  body = "{",
): Promise<string | undefined> {
  const size = encoder.encode(body).length.toString(16);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(
      "POST /webhook HTTP/1.1\r\nHost: node-heal\r\nContent-Type: application/json\r\n" +
        `Transfer-Encoding: chunked\r\n\r\n${size};ext=${
          "x".repeat(bytes)
        }\r\n${body}\r\n0\r\n\r\n`,
    )).catch(() => {});
    return await statusLine(conn);
  } finally {
    closeQuietly(conn);
  }
}

/** The status line answering a chunked webhook body with a chunk size that is not hex. */
export async function badChunkSize(port: number): Promise<string | undefined> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(
      "POST /webhook HTTP/1.1\r\nHost: node-heal\r\nContent-Type: application/json\r\n" +
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n{\r\n0\r\n\r\n",
    ));
    return await statusLine(conn);
  } finally {
    closeQuietly(conn);
  }
}

/** Connections one client holds open: each sends a head it never finishes, or keeps alive. */
export interface Hog {
  /** Connections it holds now. */
  readonly held: number;
  /** Connections it opened in all (the server closed the rest). */
  readonly opened: number;
  stop(): void;
}

/**
 * One client takes every connection it can get, again as they are closed: half of them idle after
 * a /healthz (kept alive), half in a request head it never finishes.
 */
export function hog(port: number, options: { connections: number }): Hog {
  const open = new Set<Deno.Conn>();
  let opened = 0, stopped = false;
  const hold = async (i: number) => {
    while (!stopped) {
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      opened++;
      open.add(conn);
      try {
        const head = i % 2 === 0
          ? "GET /healthz HTTP/1.1\r\nHost: node-heal\r\n\r\n"
          : "POST /webhook HTTP/1.1\r\nHost: node-heal\r\n";
        await conn.write(encoder.encode(head));
        // Read until the server closes it (a /healthz answer, then idle).
        const buf = new Uint8Array(4096);
        while (!stopped && await conn.read(buf) !== null);
      } catch {
        // Closed by the server.
      }
      open.delete(conn);
      closeQuietly(conn);
    }
  };
  for (let i = 0; i < options.connections; i++) hold(i);
  return {
    get held() {
      return open.size;
    },
    get opened() {
      return opened;
    },
    stop() {
      stopped = true;
      for (const c of open) closeQuietly(c);
    },
  };
}

/**
 * Posts `count` notifications one after another from source address `from` (another loopback
 * address than the hog's), each in its own connection, through python3 (Deno cannot choose a
 * source address): the statuses, or "failed" for a connection that was closed.
 */
export async function postsFrom(
  from: string,
  port: number,
  body: string,
  options: { count: number; token?: string },
): Promise<string[]> {
  const script = `
import http.client, sys
port, count, token, body = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
headers = {"content-type": "application/json", "connection": "close"}
if token: headers["authorization"] = "Bearer " + token
for _ in range(count):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(sys.argv[5], 0))
        c.request("POST", "/webhook", body=body, headers=headers)
        print(c.getresponse().status, flush=True)
        c.close()
    except Exception as e:
        print("failed", flush=True)
`;
  const out = await new Deno.Command("python3", {
    args: ["-c", script, String(port), String(options.count), options.token ?? "", body, from],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim().split("\n");
}

/** Connections held from many source addresses at once, by one python3 process. */
export interface SpreadHog {
  /** Resolves once every address has had a connection accepted. */
  ready: Promise<void>;
  /** Stops it: connections it opened in all. */
  stop(): Promise<{ opened: number }>;
}

/**
 * One connection from each of `addresses` source addresses (127.0.1.1, 127.0.1.2, …), each
 * sending a request head it never finishes, and opened again at once whenever the server closes it
 * (50 ms after a failed connect): python3, since Deno cannot choose a source address.
 */
export function spreadHog(port: number, options: { addresses: number }): SpreadHog {
  const script = `
import socket, sys, threading, time
port, n = int(sys.argv[1]), int(sys.argv[2])
opened, lock, stopped = [0], threading.Lock(), [False]
def hold(src):
    while not stopped[0]:
        s = socket.socket()
        try:
            s.bind((src, 0))
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            time.sleep(0.05)
            continue
        try:
            s.sendall(b"POST /webhook HTTP/1.1\\r\\nHost: node-heal\\r\\n")
            with lock:
                opened[0] += 1
                if opened[0] == n: print("ready", flush=True)
            while not stopped[0] and s.recv(4096): pass
        except OSError:
            pass
        finally:
            s.close()
for i in range(n):
    threading.Thread(target=hold, args=(f"127.0.{1 + i // 250}.{1 + i % 250}",), daemon=True).start()
sys.stdin.read()
stopped[0] = True
print(opened[0], flush=True)
`;
  const child = new Deno.Command("python3", {
    args: ["-c", script, String(port), String(options.addresses)],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const next = async (): Promise<string> => {
    for (;;) {
      const nl = seen.indexOf("\n");
      if (nl >= 0) {
        const line = seen.slice(0, nl);
        seen = seen.slice(nl + 1);
        return line;
      }
      const { value, done } = await lines.read();
      if (done) return "";
      seen += value;
    }
  };
  const ready = next().then((line) => {
    if (line !== "ready") throw new Error(`the hog's python3 ended: ${line}`);
  });
  let stopped: Promise<{ opened: number }> | undefined;
  return {
    ready,
    stop: () =>
      stopped ??= (async () => {
        await child.stdin.close().catch(() => {});
        const opened = Number(await next());
        while (!(await lines.read()).done);
        await child.status;
        return { opened };
      })(),
  };
}
