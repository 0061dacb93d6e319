import { Background } from "../base/background.ts";
import { log } from "../base/log.ts";
import { sleep } from "../base/timing.ts";
import { splice, startTlsHop } from "./tls_hop.ts";
import { clientOf, ClientShares } from "./client_shares.ts";
import {
  BAD_FRAMING,
  type ClosedAt,
  closeQuietly,
  type Connection,
  countSent,
  endConnection,
  newConnection,
  type Phase,
  TOO_LARGE,
  writeAll,
} from "./guard_connection.ts";

export type { ClosedAt };

/** Limits on connections that Deno's HTTP server does not bound by itself. */
export interface GuardLimits {
  /** How long a request's head may take: from the connection's start, or its first byte after an idle spell. */
  headerTimeoutMs: number;
  /** How long a kept-alive connection may wait for its next request. */
  idleTimeoutMs: number;
  /** How long one request may hold a connection before it is closed (the handler answers first). */
  requestTimeoutMs: number;
  /**
   * Connections open at once: when all are taken, an idle one is shed for a newcomer, else one
   * waiting for its head (`client_shares.ts`), else the newcomer is closed as it arrives.
   */
  maxConnections: number;
  /** Connections one client (IPv4 address, IPv6 /64) may hold at once; its own idle ones go first. */
  maxConnectionsPerClient: number;
  /**
   * Bytes one request may send, head and body with its chunk framing; past them it is answered
   * 413 and closed as the bytes arrive (the server behind reads bodies whole). Each HTTP/2
   * stream has its own, which no other stream's end gives back (`h2_streams.ts`).
   */
  maxRequestBytes: number;
}

/** Options of {@link startGuard}. */
export interface GuardOptions extends GuardLimits {
  /** The public address. */
  listen: { hostname: string; port: number };
  /**
   * Serve TLS (PEM): the guard ends TLS itself (the head's limit covers the handshake) and relays
   * plain HTTP to the server behind, so it sees HTTP/2 frames whether or not they were encrypted.
   */
  tls?: { cert: string; key: string };
  /** Told when a connection is closed by a limit, with the limit's name. */
  closed?: (limit: ClosedAt) => void;
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

/** How long a head the client stopped sending may wait for its request to start. */
const HEAD_GRACE_MS = 1000;

/**
 * A TCP front for Deno's HTTP server, which bounds neither how long a request's head
 * may take nor how long a kept-alive connection may idle nor how many connections are open.
 * It accepts each connection, relays its bytes to the server on loopback, and closes it when a
 * limit passes: the head not complete in `headerTimeoutMs`, no next request in
 * `idleTimeoutMs`, a request overstaying `requestTimeoutMs`, more than `maxConnections` (or a
 * client's share of them). It learns where a request starts and ends from the wrapped handler
 * (the loopback port of each relayed connection names it); of HTTP/1.1 it parses nothing, of
 * HTTP/2 the frame headers (`h2_streams.ts`).
 */
export function startGuard(options: GuardOptions): Guard {
  const listener = Deno.listen(options.listen);
  const shares = new ClientShares<Connection>();
  const open = shares.open;
  /** Relayed connections by their loopback port, as the server sees them. */
  const byPort = new Map<number, Connection>();
  let backPort: number | undefined;
  let accepting = true;
  const background = options.background ?? new Background();
  const tlsHop = options.tls ? startTlsHop(options.tls, background) : undefined;

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
    c.since = performance.now();
    // A request's bytes count from its head's first byte (the server may start it late).
    if (phase === "head") [c.sent, c.quiet] = [0, true];
    clearTimeout(c.timer);
    const [ms, limit] = phase === "head"
      ? [options.headerTimeoutMs, "header" as const]
      : phase === "idle"
      ? [options.idleTimeoutMs, "idle" as const]
      : [options.requestTimeoutMs + 5000, "request" as const];
    c.timer = setTimeout(
      background.guard("connections", () => {
        closeAt(c, limit);
      }),
      ms,
    );
  };

  const closeAt = (c: Connection, limit: ClosedAt, deliver = false) => {
    options.closed?.(limit);
    log("server").debug("Closed a connection at the {limit} limit", { limit });
    end(c, deliver);
  };

  /** Ends a connection: see {@link endConnection}; the last of a delivery a moment later. */
  const end = (c: Connection, deliver = false) =>
    endConnection(
      c,
      deliver,
      (close) => setTimeout(background.guard("connections", close), HEAD_GRACE_MS),
    );

  /** With TLS, the client's bytes go through the hop and the guard reads the decrypted ones. */
  const secure = async (c: Connection): Promise<void> => {
    const { hop, plain } = await tlsHop!.open();
    [c.hop, c.plain] = [hop, plain];
    // Closed at the head's limit while the hop was opening.
    if (c.closed) return end(c);
    c.piped = background.settled("connections", async () => {
      await splice(c.front, hop);
      end(c);
    });
  };

  const relay = async (c: Connection): Promise<void> => {
    try {
      if (tlsHop) await secure(c);
      if (c.closed) return;
      const client = c.plain ?? c.front;
      c.back = await Deno.connect({ hostname: "127.0.0.1", port: backPort! });
      const port = (c.back.localAddr as Deno.NetAddr).port;
      byPort.set(port, c);
      try {
        const up = (async () => {
          const buf = new Uint8Array(4096);
          for (;;) {
            let n: number | null;
            try {
              n = await client.read(buf);
            } catch {
              // Reset by the client: it is gone, whatever was pending.
              end(c);
              return;
            }
            if (n === null) break;
            // The first bytes after an idle spell start the next request's head.
            if (c.phase === "idle") arm(c, "head");
            const over = countSent(c, buf.subarray(0, n), options.maxRequestBytes);
            if (over) {
              if (over === "body" && !c.h2) await writeAll(client, TOO_LARGE).catch(() => {});
              closeAt(c, over, true);
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
            c.quiet = false;
            c.h2?.server(buf.subarray(0, n));
            await writeAll(client, buf.subarray(0, n));
          }
          // The server dropped a request it had not answered, while node-heal still serves: its
          // framing was invalid (a 400 for the client, rather than a closed connection to retry).
          const pending = c.phase === "request" || (c.phase === "head" && c.sent > 0);
          if (accepting && pending && c.quiet && !c.h2 && !c.clientDone && !c.closed) {
            await writeAll(client, BAD_FRAMING).catch(() => {});
            closeAt(c, "framing", true);
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
      // What the server answered still goes out (through the TLS hop, within a moment).
      if (!c.closed) end(c, true);
      await c.piped;
      shares.delete(c);
    }
  };

  /** Whether a new connection from `client` may open, having shed one to make room if need be. */
  const admitted = (client: string): boolean => {
    const verdict = shares.admit(client, {
      maxConnections: options.maxConnections,
      maxPerClient: options.maxConnectionsPerClient,
    });
    if (typeof verdict === "string") {
      options.closed?.(verdict);
      return false;
    }
    if (verdict.shed) shed(verdict.shed, client);
    return true;
  };

  /**
   * Frees a connection's slot at once. An idle one ends as at shutdown, the server closing it
   * once its last answer is out (within a moment); one still waiting for its head ends now.
   */
  const shed = (c: Connection, newcomer: string) => {
    options.closed?.("shed");
    shares.shed(c, newcomer);
    if (c.phase !== "idle") return end(c);
    clearTimeout(c.timer);
    c.timer = setTimeout(background.guard("connections", () => end(c)), HEAD_GRACE_MS);
    c.back?.closeWrite().catch(() => end(c));
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
      const client = clientOf((front.remoteAddr as Deno.NetAddr).hostname);
      if (!accepting || backPort === undefined || !admitted(client)) {
        closeQuietly(front);
        continue;
      }
      const c = newConnection(front, client);
      shares.add(c);
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
          // An answered HTTP/1.1 request gives its allowance back (the next one is read after
          // it); an HTTP/2 stream's bytes are its own and give nothing back.
          const answered = () => {
            c.active--;
            if (!c.h2) c.sent = Math.max(0, c.sent - options.maxRequestBytes);
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
      tlsHop?.close();
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
