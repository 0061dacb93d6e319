/**
 * TLS ended inside the connection guard (`guard.ts`), so that it sees the HTTP/2 frames of an
 * encrypted connection as it sees those of a plain one. Deno's TLS listener cannot be trusted with
 * the client's own socket: closing a connection it accepted whose handshake never came leaves the
 * socket open (Deno 2.9.6). So the guard accepts the client over plain TCP, pipes its bytes as they
 * are through a loopback hop to a TLS listener of its own, and reads the decrypted bytes from
 * there; closing the hop's client side ends any handshake at once.
 */
import type { Background } from "../base/background.ts";

/** One client connection's TLS: the loopback hop, and the decrypted connection behind it. */
export interface Hopped {
  /** The guard's side of the hop: the client's encrypted bytes go in, the answers come out. */
  hop: Deno.Conn;
  /** The decrypted connection, as the TLS listener accepted it. */
  plain: Deno.TlsConn;
}

/** A TLS listener on loopback for the guard: see the module's documentation. */
export interface TlsHop {
  /** Connects a new hop and gives it with the decrypted connection it was accepted as. */
  open(): Promise<Hopped>;
  /** Stops accepting. */
  close(): void;
}

/** Starts the guard's TLS listener on loopback, offering HTTP/2 and HTTP/1.1 (ALPN). */
export function startTlsHop(tls: { cert: string; key: string }, background: Background): TlsHop {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    ...tls,
    alpnProtocols: ["h2", "http/1.1"],
  });
  const port = (listener.addr as Deno.NetAddr).port;
  /** Hops waiting for their accepted side, and accepted sides waiting for their hop, by port. */
  const waiting = new Map<number, (plain: Deno.TlsConn) => void>();
  const early = new Map<number, Deno.TlsConn>();
  background.run("connections", async () => {
    for (;;) {
      let plain: Deno.TlsConn;
      try {
        plain = await listener.accept();
      } catch (err) {
        if (err instanceof Deno.errors.BadResource) return;
        continue;
      }
      const from = (plain.remoteAddr as Deno.NetAddr).port;
      const resolve = waiting.get(from);
      waiting.delete(from);
      // Accepted before its hop knew its own port: it waits for the hop.
      if (resolve) resolve(plain);
      else early.set(from, plain);
    }
  });
  return {
    async open() {
      const hop = await Deno.connect({ hostname: "127.0.0.1", port });
      const from = (hop.localAddr as Deno.NetAddr).port;
      const plain = early.get(from);
      early.delete(from);
      if (plain) return { hop, plain };
      const { promise, resolve } = Promise.withResolvers<Deno.TlsConn>();
      waiting.set(from, resolve);
      return { hop, plain: await promise };
    },
    close() {
      try {
        listener.close();
      } catch {
        // Closed already.
      }
      for (const plain of early.values()) plain.close();
      early.clear();
    },
  };
}

/** Copies both ways between a client's connection and its hop, each end passed on, until both end. */
export async function splice(front: Deno.Conn, hop: Deno.Conn): Promise<void> {
  await Promise.all([
    pipe(front, hop).then(() => hop.closeWrite()).catch(() => {}),
    pipe(hop, front).then(() => front.closeWrite()).catch(() => {}),
  ]);
}

/** Copies `from` into `to` until `from` ends; a failure either way ends the copy. */
async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16_384);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) return;
      for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
    }
  } catch {
    // One side went away: the copy ends.
  }
}
