import { Background } from "../base/background.ts";
import { log } from "../base/log.ts";
import { splice, startTlsHop, type TlsHop } from "./tls_hop.ts";
import { clientOf, ClientShares } from "./client_shares.ts";
import {
  type ClosedAt,
  closeQuietly,
  type Connection,
  endConnection,
  newConnection,
  type Phase,
} from "./guard_connection.ts";
import { HEAD_GRACE_MS, relayDown, type RelayHooks, relayUp } from "./guard_relay.ts";

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
  const guard = new ConnectionGuard(options);
  guard.start();
  return guard;
}

/** The guard of {@link startGuard}: its connections, and the limits each one is held to. */
export class ConnectionGuard implements Guard {
  readonly addr: Deno.NetAddr;
  readonly #options: GuardOptions;
  readonly #listener: Deno.Listener;
  readonly #shares = new ClientShares<Connection>();
  /** Relayed connections by their loopback port, as the server sees them. */
  readonly #byPort = new Map<number, Connection>();
  readonly #background: Background;
  readonly #tlsHop?: TlsHop;
  #backPort: number | undefined;
  #sweeping?: ReturnType<typeof setInterval>;
  #accepting = true;
  /** What the relays of its connections ask of the guard. */
  readonly #hooks: RelayHooks = {
    accepting: () => this.#accepting,
    maxRequestBytes: () => this.#options.maxRequestBytes,
    arm: (c, phase) => this.#arm(c, phase),
    end: (c) => this.#end(c),
    closeAt: (c, limit) => this.#closeAt(c, limit, true),
  };

  /** Listens on the public address; {@link start} accepts. */
  constructor(options: GuardOptions) {
    this.#options = options;
    this.#listener = Deno.listen(options.listen);
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.#background = options.background ?? new Background();
    this.#tlsHop = options.tls ? startTlsHop(options.tls, this.#background) : undefined;
  }

  /** Accepts connections until {@link stopAccepting}, and holds them to their limits until {@link close}. */
  start(): void {
    this.#background.run("connections", () => this.#acceptAll());
    const { headerTimeoutMs, idleTimeoutMs, requestTimeoutMs } = this.#options;
    // A limit is enforced within a tenth of the shortest (at most a quarter second) of its end.
    const every = Math.min(
      250,
      Math.max(5, Math.min(headerTimeoutMs, idleTimeoutMs, requestTimeoutMs) / 10),
    );
    this.#sweeping = setInterval(this.#background.guard("connections", () => this.#sweep()), every);
  }

  forward(port: number): void {
    this.#backPort = port;
  }

  wrap(
    handler: (req: Request) => Promise<Response>,
  ): (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Promise<Response> {
    return async (req, info) => {
      const c = this.#byPort.get(info.remoteAddr.port);
      if (c) this.#requestStarted(c, info.completed);
      return await handler(req);
    };
  }

  stopAccepting(): void {
    if (!this.#accepting) return;
    this.#accepting = false;
    this.#tlsHop?.close();
    for (const c of this.#shares.open) {
      if (c.phase === "idle") c.back?.closeWrite().catch(() => {});
    }
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
  }

  async close(): Promise<void> {
    this.stopAccepting();
    const open = this.#shares.open;
    // Answers the server has already written are still being relayed: let them finish.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([...open].map((c) => c.done)),
      new Promise((r) => timer = setTimeout(r, 1000)),
    ]);
    clearTimeout(timer);
    for (const c of open) this.#end(c);
    await Promise.all([...open].map((c) => c.done));
    clearInterval(this.#sweeping);
  }

  async #acceptAll(): Promise<void> {
    for (;;) {
      let front: Deno.Conn;
      try {
        front = await this.#listener.accept();
      } catch (err) {
        // A peer that reset before it was accepted fails this accept only; a closed listener
        // ends the loop.
        if (!this.#accepting || err instanceof Deno.errors.BadResource) return;
        continue;
      }
      const client = clientOf((front.remoteAddr as Deno.NetAddr).hostname);
      if (!this.#accepting || this.#backPort === undefined || !this.#admitted(client)) {
        closeQuietly(front);
        continue;
      }
      const c = newConnection(front, client);
      this.#shares.add(c);
      this.#arm(c, "head");
      c.done = this.#background.settled("connections", () => this.#relay(c));
    }
  }

  /** A request started on `c`; `completed` settles once its answer is out. */
  #requestStarted(c: Connection, completed: Promise<void>): void {
    const seq = ++c.requests;
    c.active++;
    this.#arm(c, "request");
    // An answered HTTP/1.1 request gives its allowance back (the next one is read after
    // it); an HTTP/2 stream's bytes are its own and give nothing back.
    const answered = () => {
      c.active--;
      if (!c.h2) c.sent = Math.max(0, c.sent - this.#options.maxRequestBytes);
    };
    completed.then(() => {
      answered();
      if (c.requests === seq && c.active === 0) this.#arm(c, "idle");
    }, answered);
  }

  /**
   * Enters `phase`, with its limit's deadline, which {@link #sweep} enforces: one timer for every
   * connection, not one made per request (three a request took a tenth of what the guard costs).
   */
  #arm(c: Connection, phase: Phase): void {
    if (c.closed) return;
    // A moment's grace given at a shed or a delivery ends when the connection moves on.
    if (c.timer !== undefined) c.timer = void clearTimeout(c.timer);
    // Shutting down, or the client is done: an idle connection ends, the server closing it once
    // it sees the end (so that all it sent is relayed first).
    if (phase === "idle" && (!this.#accepting || c.clientDone)) {
      c.phase = phase;
      c.deadline = Infinity;
      return void c.back?.closeWrite().catch(() => this.#end(c));
    }
    c.phase = phase;
    c.since = performance.now();
    // A request's bytes count from its head's first byte (the server may start it late).
    if (phase === "head") [c.sent, c.quiet] = [0, true];
    const { headerTimeoutMs, idleTimeoutMs, requestTimeoutMs } = this.#options;
    c.deadline = c.since +
      (phase === "head"
        ? headerTimeoutMs
        : phase === "idle"
        ? idleTimeoutMs
        : requestTimeoutMs + 5000);
  }

  /** Closes each connection whose phase has outlasted its limit. */
  #sweep(): void {
    const now = performance.now();
    for (const c of this.#shares.open) {
      if (c.closed || c.deadline > now) continue;
      this.#closeAt(c, c.phase === "head" ? "header" : c.phase === "idle" ? "idle" : "request");
    }
  }

  #closeAt(c: Connection, limit: ClosedAt, deliver = false): void {
    this.#options.closed?.(limit);
    log("server").debug("Closed a connection at the {limit} limit", { limit });
    this.#end(c, deliver);
  }

  /** Ends a connection: see {@link endConnection}; the last of a delivery a moment later. */
  #end(c: Connection, deliver = false): void {
    endConnection(
      c,
      deliver,
      (close) => setTimeout(this.#background.guard("connections", close), HEAD_GRACE_MS),
    );
  }

  /** With TLS, the client's bytes go through the hop and the guard reads the decrypted ones. */
  async #secure(c: Connection): Promise<void> {
    const { hop, plain } = await this.#tlsHop!.open();
    [c.hop, c.plain] = [hop, plain];
    // Closed at the head's limit while the hop was opening.
    if (c.closed) return this.#end(c);
    c.piped = this.#background.settled("connections", async () => {
      await splice(c.front, hop);
      this.#end(c);
    });
  }

  async #relay(c: Connection): Promise<void> {
    try {
      if (this.#tlsHop) await this.#secure(c);
      if (c.closed) return;
      const client = c.plain ?? c.front;
      const back = await Deno.connect({ hostname: "127.0.0.1", port: this.#backPort! });
      c.back = back;
      const port = (back.localAddr as Deno.NetAddr).port;
      this.#byPort.set(port, c);
      try {
        const up = relayUp(this.#hooks, { c, client, back });
        const down = relayDown(this.#hooks, { c, client, back });
        // The server closing its side ends the connection, once all it sent is relayed. The
        // client's end does too when it sent nothing since its last answer; else the answer to
        // what it sent is still relayed (within the head's or the request's limit).
        const relayed = down.catch(() => {});
        const clientGone = up.then((gone) => gone === true, () => false);
        await Promise.race([relayed, clientGone.then((gone) => gone ? undefined : relayed)]);
      } finally {
        this.#byPort.delete(port);
      }
    } catch {
      // The client or the server went away: the connection ends.
    } finally {
      // What the server answered still goes out (through the TLS hop, within a moment).
      if (!c.closed) this.#end(c, true);
      await c.piped;
      this.#shares.delete(c);
    }
  }

  /** Whether a new connection from `client` may open, having shed one to make room if need be. */
  #admitted(client: string): boolean {
    const verdict = this.#shares.admit(client, {
      maxConnections: this.#options.maxConnections,
      maxPerClient: this.#options.maxConnectionsPerClient,
    });
    if (typeof verdict === "string") {
      this.#options.closed?.(verdict);
      return false;
    }
    if (verdict.shed) this.#shed(verdict.shed, client);
    return true;
  }

  /**
   * Frees a connection's slot at once. An idle one ends as at shutdown, the server closing it
   * once its last answer is out (within a moment); one still waiting for its head ends now.
   */
  #shed(c: Connection, newcomer: string): void {
    this.#options.closed?.("shed");
    this.#shares.shed(c, newcomer);
    if (c.phase !== "idle") return this.#end(c);
    clearTimeout(c.timer);
    c.timer = setTimeout(this.#background.guard("connections", () => this.#end(c)), HEAD_GRACE_MS);
    c.back?.closeWrite().catch(() => this.#end(c));
  }
}
