// A TCP relay on loopback in front of a server, which a test breaks the ways networks break: every
// connection closed under its client (a dropped connection, a restarted proxy), or every
// connection kept open and silent (a dead peer, a proxy that stopped forwarding).

/** A running relay; see {@link startRelay}. */
export interface Relay extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Closes every open connection; new ones are closed as soon as they come, until {@link mend}. */
  cut(): void;
  /**
   * Passes nothing on, either way, until {@link mend}: open connections stay open and silent, new
   * ones are accepted and never answered.
   */
  hold(): void;
  /** Passes everything on again (held bytes included); new connections are relayed. */
  mend(): void;
  close(): Promise<void>;
}

/** Starts a {@link Relay} to `port` on 127.0.0.1. */
export function startRelay(port: number): Relay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let state: "passing" | "cut" | "held" = "passing";
  // Read through a call: it changes while a pump awaits.
  const now = () => state;
  let held = Promise.withResolvers<void>();
  let accepted = 0;
  const closeAll = () => {
    for (const c of open) {
      try {
        c.close();
      } catch {
        // Closed already.
      }
    }
    open.clear();
  };
  /** Copies `from` to `to` while not held; held bytes wait in the sockets' buffers. */
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        while (now() === "held") await held.promise;
        const n = await from.read(buf);
        if (n === null) break;
        while (now() === "held") await held.promise;
        if (now() === "cut") break;
        for (let at = 0; at < n;) at += await to.write(buf.subarray(at, n));
      }
    } catch {
      // Closed under it.
    }
    for (const c of [from, to]) {
      open.delete(c);
      try {
        c.close();
      } catch {
        // Closed already.
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      accepted++;
      if (now() === "cut") {
        conn.close();
        continue;
      }
      let up: Deno.Conn;
      try {
        up = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        conn.close();
        continue;
      }
      open.add(conn).add(up);
      pump(conn, up);
      pump(up, conn);
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get accepted() {
      return accepted;
    },
    cut() {
      state = "cut";
      held.resolve();
      closeAll();
    },
    hold() {
      if (now() === "held") return;
      state = "held";
      held = Promise.withResolvers<void>();
    },
    mend() {
      state = "passing";
      held.resolve();
    },
    async close() {
      this.cut();
      listener.close();
      await accepting.catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}
