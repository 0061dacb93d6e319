import { Background } from "../background.ts";
import { log } from "../log.ts";
import { sleep } from "../timing.ts";

/** Limits on connections that Deno's HTTP server does not bound by itself. */
export interface GuardLimits {
  /** How long a request's head may take: from the connection's start, or its first byte after an idle spell. */
  headerTimeoutMs: number;
  /** How long a kept-alive connection may wait for its next request. */
  idleTimeoutMs: number;
  /** How long one request may hold a connection before it is closed (the handler answers first). */
  requestTimeoutMs: number;
  /** Connections open at once; a further one is closed as it arrives. */
  maxConnections: number;
  /**
   * Bytes one request may send, head and body with its chunk framing; past them it is answered
   * 413 and closed as the bytes arrive (the server behind reads bodies whole).
   */
  maxRequestBytes: number;
}

/** Defaults of the connection limits; `docs/limits.md` lists them with their flags. */
export const GUARD_DEFAULTS = {
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxConnections: 1024,
} as const;

/** Options of {@link startGuard}. */
export interface GuardOptions extends GuardLimits {
  /** The public address. */
  listen: { hostname: string; port: number };
  /**
   * Whether the server behind speaks TLS: the guard relays the encrypted bytes as they are (so
   * the head's limit covers the handshake), and cuts an oversized request without an answer.
   */
  tls?: boolean;
  /** Told when a connection is closed by a limit, with the limit's name. */
  closed?: (limit: "header" | "idle" | "request" | "connections" | "body") => void;
  /** Runs the accepting and the relays (the service's: a throw is logged and counted). */
  background?: Background;
}

/** A running guard in front of an HTTP server. */
export interface Guard {
  /** The public address it listens on. */
  addr: Deno.NetAddr;
  /** Where the HTTP server behind it listens, once {@link Guard.forward} was called. */
  forward(port: number): void;
  /** Wraps the server's handler, so the guard knows when each connection's request starts and ends. */
  wrap(
    handler: (req: Request) => Promise<Response>,
  ): (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Promise<Response>;
  /**
   * Stops accepting connections, closes the idle ones, and closes each other one once its
   * answer is out (a graceful shutdown: in-flight requests finish).
   */
  stopAccepting(): void;
  /** Closes every connection still open. */
  close(): Promise<void>;
}

type Phase = "head" | "request" | "idle";

/** How an HTTP/2 connection without TLS begins. */
const H2_PREFACE = new TextEncoder().encode("PRI * HTTP/2.0");

/** How long a head the client stopped sending may wait for its request to start. */
const HEAD_GRACE_MS = 1000;

function startsWith(buf: Uint8Array, n: number, prefix: Uint8Array): boolean {
  return n >= prefix.length && prefix.every((b, i) => buf[i] === b);
}

const TOO_LARGE_BODY = JSON.stringify({
  status: "error",
  error: "Request body too large: it sent far more than the body limit",
}) + "\n";

/** The answer to a request that sends far more than its limit: the only HTTP the guard writes. */
const TOO_LARGE = new TextEncoder().encode(
  "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\nconnection: close\r\n" +
    `content-length: ${TOO_LARGE_BODY.length}\r\n\r\n${TOO_LARGE_BODY}`,
);

interface Connection {
  front: Deno.Conn;
  back?: Deno.Conn;
  phase: Phase;
  timer?: ReturnType<typeof setTimeout>;
  /** Requests seen on it: a response's end only idles the connection if no later request began. */
  requests: number;
  /**
   * Bytes the client sent since the connection was last idle, less a request's worth for each
   * request answered since: pipelined and multiplexed requests each get their own allowance.
   */
  sent: number;
  /** Requests the server is handling on it now (several with HTTP/2). */
  active: number;
  /** The client closed its side: once nothing is pending, the connection ends. */
  clientDone: boolean;
  /** HTTP/2 without TLS: the guard writes no HTTP/1.1 answer into it. */
  h2: boolean;
  closed: boolean;
  done: Promise<void>;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // Already closed.
  }
}

/**
 * A TCP front for Deno's HTTP server, which bounds neither how long a request's head
 * may take nor how long a kept-alive connection may idle nor how many connections are open.
 * It accepts each connection, relays its bytes to the server on loopback, and closes it when a
 * limit passes: the head not complete in `headerTimeoutMs`, no next request in
 * `idleTimeoutMs`, a request overstaying `requestTimeoutMs`, or more than `maxConnections`.
 * It learns where a request starts and ends from the wrapped handler (the loopback port of
 * each relayed connection names it); it never parses HTTP itself.
 */
export function startGuard(options: GuardOptions): Guard {
  const listener = Deno.listen(options.listen);
  const open = new Set<Connection>();
  /** Relayed connections by their loopback port, as the server sees them. */
  const byPort = new Map<number, Connection>();
  let backPort: number | undefined;
  let accepting = true;
  const background = options.background ?? new Background();

  const arm = (c: Connection, phase: Phase) => {
    if (c.closed) return;
    // Shutting down, or the client is done: an idle connection ends, the server closing it once
    // it sees the end (so that all it sent is relayed first).
    if (phase === "idle" && (!accepting || c.clientDone)) {
      clearTimeout(c.timer);
      c.phase = phase;
      return void c.back?.closeWrite().catch(() => end(c));
    }
    c.phase = phase;
    // A request's bytes count from its head's first byte (the server may start it late).
    if (phase === "head") c.sent = 0;
    clearTimeout(c.timer);
    const [ms, limit] = phase === "head"
      ? [options.headerTimeoutMs, "header" as const]
      : phase === "idle"
      ? [options.idleTimeoutMs, "idle" as const]
      : [options.requestTimeoutMs + 5000, "request" as const];
    c.timer = setTimeout(
      background.guard("connections", () => {
        options.closed?.(limit);
        log("server").debug("Closed a connection at the {limit} limit", { limit });
        end(c);
      }),
      ms,
    );
  };

  const end = (c: Connection) => {
    c.closed = true;
    clearTimeout(c.timer);
    closeQuietly(c.front);
    closeQuietly(c.back);
  };

  const relay = async (c: Connection): Promise<void> => {
    try {
      c.back = await Deno.connect({ hostname: "127.0.0.1", port: backPort! });
      const port = (c.back.localAddr as Deno.NetAddr).port;
      byPort.set(port, c);
      try {
        const up = (async () => {
          const buf = new Uint8Array(4096);
          for (;;) {
            let n: number | null;
            try {
              n = await c.front.read(buf);
            } catch {
              // Reset by the client: it is gone, whatever was pending.
              end(c);
              return;
            }
            if (n === null) break;
            if (c.requests === 0 && c.sent === 0) c.h2 = startsWith(buf, n, H2_PREFACE);
            // The first bytes after an idle spell start the next request's head.
            if (c.phase === "idle") arm(c, "head");
            // Each request the server has started has its allowance, and one more may arrive
            // ahead: a pipelined request can be here whole before the server starts the one
            // before it (under load, sooner than it reads).
            if ((c.sent += n) > options.maxRequestBytes * (2 + c.active)) {
              options.closed?.("body");
              if (!options.tls && !c.h2) await writeAll(c.front, TOO_LARGE).catch(() => {});
              end(c);
              return;
            }
            await writeAll(c.back!, buf.subarray(0, n));
          }
          // A half-closed client still gets its answer: the server sees the end only once
          // nothing is pending (it would drop a connection that ends under a request).
          c.clientDone = true;
          if (c.active > 0) return false;
          if (c.phase === "head" && c.sent > 0) {
            // A head the server has not started a request for: give it a moment (a complete
            // one starts at once), then let the server see the end of an incomplete one.
            await sleep(HEAD_GRACE_MS);
            if (c.active > 0 || c.phase !== "head") return false;
          }
          await c.back!.closeWrite();
          return true;
        })();
        const down = (async () => {
          const buf = new Uint8Array(16_384);
          for (;;) {
            const n = await c.back!.read(buf);
            if (n === null) break;
            await writeAll(c.front, buf.subarray(0, n));
          }
        })();
        // The server closing its side ends the connection, once all it sent is relayed. The
        // client's end does too when it sent nothing since its last answer; else the answer to
        // what it sent is still relayed (within the head's or the request's limit).
        const relayed = down.catch(() => {});
        const clientGone = up.then((gone) => gone === true, () => false);
        await Promise.race([relayed, clientGone.then((gone) => gone ? undefined : relayed)]);
      } finally {
        byPort.delete(port);
      }
    } catch {
      // The client or the server went away: the connection ends.
    } finally {
      end(c);
      open.delete(c);
    }
  };

  background.run("connections", async () => {
    for (;;) {
      let front: Deno.Conn;
      try {
        front = await listener.accept();
      } catch (err) {
        // A peer that reset before it was accepted fails this accept only; a closed listener
        // ends the loop.
        if (!accepting || err instanceof Deno.errors.BadResource) return;
        continue;
      }
      if (!accepting || open.size >= options.maxConnections || backPort === undefined) {
        if (accepting && backPort !== undefined) options.closed?.("connections");
        closeQuietly(front);
        continue;
      }
      const c = {
        front,
        phase: "head",
        requests: 0,
        sent: 0,
        active: 0,
        clientDone: false,
        h2: false,
        closed: false,
      } as Connection;
      open.add(c);
      arm(c, "head");
      c.done = background.settled("connections", () => relay(c));
    }
  });

  return {
    addr: listener.addr as Deno.NetAddr,
    forward(port) {
      backPort = port;
    },
    wrap(handler) {
      return async (req, info) => {
        const c = byPort.get(info.remoteAddr.port);
        if (c) {
          const seq = ++c.requests;
          c.active++;
          arm(c, "request");
          const answered = () => {
            c.active--;
            c.sent = Math.max(0, c.sent - options.maxRequestBytes);
          };
          info.completed.then(() => {
            answered();
            if (c.requests === seq && c.active === 0) arm(c, "idle");
          }, answered);
        }
        return await handler(req);
      };
    },
    stopAccepting() {
      if (!accepting) return;
      accepting = false;
      for (const c of open) if (c.phase === "idle") c.back?.closeWrite().catch(() => {});
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    },
    async close() {
      this.stopAccepting();
      // Answers the server has already written are still being relayed: let them finish.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all([...open].map((c) => c.done)),
        new Promise((r) => timer = setTimeout(r, 1000)),
      ]);
      clearTimeout(timer);
      for (const c of open) end(c);
      await Promise.all([...open].map((c) => c.done));
    },
  };
}
