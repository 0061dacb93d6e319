// A minimal HTTP/2 client over a raw connection, for what fetch cannot express: streams of one
// connection interleaved at will (a body's DATA frames with other requests between them). It sends
// the preface, SETTINGS, HEADERS (HPACK literals, never indexed, never Huffman) and DATA within the
// server's flow-control windows; it reads frames back and decodes each answer's status.

const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7, WINDOW_UPDATE = 8;
const END_STREAM = 1, END_HEADERS = 4, ACK = 1;

function frame(type: number, flags: number, stream: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(9 + payload.length);
  f.set([payload.length >> 16, (payload.length >> 8) & 255, payload.length & 255, type, flags]);
  new DataView(f.buffer).setUint32(5, stream);
  f.set(payload, 9);
  return f;
}

/** An HPACK integer with an `n`-bit prefix (RFC 7541, 5.1). */
function hpackInt(value: number, n: number, first = 0): number[] {
  const max = (1 << n) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  for (value -= max; value >= 128; value >>= 7) out.push((value & 127) | 128);
  out.push(value);
  return out;
}

/** A header block of literals without indexing, with new names. */
function headerBlock(headers: [string, string][]): Uint8Array {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (const [name, value] of headers) {
    const n = enc.encode(name), v = enc.encode(value);
    out.push(0, ...hpackInt(n.length, 7), ...n, ...hpackInt(v.length, 7), ...v);
  }
  return new Uint8Array(out);
}

/** Huffman codes of the digits (RFC 7541, Appendix B): enough to read a `:status`. */
const DIGITS: Record<string, string> = {
  "00000": "0",
  "00001": "1",
  "00010": "2",
  "011001": "3",
  "011010": "4",
  "011011": "5",
  "011100": "6",
  "011101": "7",
  "011110": "8",
  "011111": "9",
};
const STATIC_STATUS: Record<number, string> = {
  8: "200",
  9: "204",
  10: "206",
  11: "304",
  12: "400",
  13: "404",
  14: "500",
};

/** The `:status` of an answer's header block: its first field, as servers send it. */
function statusOf(block: Uint8Array): string | undefined {
  const b = block[0];
  if (b & 0x80) return STATIC_STATUS[b & 0x7f];
  // A literal whose name is the static table's `:status` (index 8..14).
  const len = block[1] & 0x7f;
  const value = block.subarray(2, 2 + len);
  if (!(block[1] & 0x80)) return new TextDecoder().decode(value);
  const bits = [...value].map((x) => x.toString(2).padStart(8, "0")).join("");
  let out = "", code = "";
  for (const bit of bits) {
    code += bit;
    if (DIGITS[code]) [out, code] = [out + DIGITS[code], ""];
    if (out.length === 3) break;
  }
  return out;
}

/** A client connection: see {@link h2Connect}. */
export interface H2Client {
  /** Opens a stream with a request head; the body, if any, follows with {@link H2Client.data}. */
  request(
    path: string,
    options?: { method?: string; headers?: [string, string][]; end?: boolean },
  ): number;
  /** Sends body bytes on a stream within the flow-control windows; false once the connection ended. */
  data(stream: number, bytes: Uint8Array, end?: boolean): Promise<boolean>;
  /** The status of a stream's answer, once it came; undefined if the connection ended first. */
  status(stream: number, limitMs?: number): Promise<string | undefined>;
  /** Body bytes the server acknowledged reading (its WINDOW_UPDATEs on stream 0). */
  readonly consumed: number;
  /** Whether the connection has ended. */
  readonly closed: boolean;
  /** The server's SETTINGS, by identifier. */
  readonly settings: Map<number, number>;
  close(): void;
}

/** Speaks HTTP/2 with prior knowledge over `conn` (plain TCP for h2c, or TLS with ALPN h2). */
export function h2Connect(conn: Deno.Conn, authority = "node-heal"): H2Client {
  let next = 1, closed = false, consumed = 0;
  let connWindow = 65_535, initialWindow = 65_535;
  const windows = new Map<number, number>();
  const statuses = new Map<number, string>();
  const settings = new Map<number, number>();
  let wake = Promise.withResolvers<void>();
  const notify = () => {
    wake.resolve();
    wake = Promise.withResolvers<void>();
  };
  let writing = Promise.resolve();
  const write = (bytes: Uint8Array) => {
    writing = writing.then(async () => {
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    }).catch(() => {
      closed = true;
      notify();
    });
    return writing;
  };
  const onFrame = (type: number, flags: number, stream: number, p: Uint8Array) => {
    const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
    if (type === SETTINGS && !(flags & ACK)) {
      for (let i = 0; i + 6 <= p.length; i += 6) {
        settings.set(view.getUint16(i), view.getUint32(i + 2));
        if (view.getUint16(i) !== 4) continue;
        // A new initial window changes every open stream's by the difference (RFC 9113, 6.9.2).
        const delta = view.getUint32(i + 2) - initialWindow;
        initialWindow += delta;
        for (const [id, w] of windows) windows.set(id, w + delta);
      }
      write(frame(SETTINGS, ACK, 0, new Uint8Array()));
    } else if (type === PING && !(flags & ACK)) write(frame(PING, ACK, 0, p));
    else if (type === WINDOW_UPDATE) {
      const inc = view.getUint32(0) & 0x7fffffff;
      if (stream === 0) [connWindow, consumed] = [connWindow + inc, consumed + inc];
      else windows.set(stream, (windows.get(stream) ?? initialWindow) + inc);
    } else if (type === HEADERS && !statuses.has(stream)) {
      const pad = flags & 8 ? p[0] + 1 : 0, prio = flags & 0x20 ? 5 : 0;
      statuses.set(stream, statusOf(p.subarray(pad + prio)) ?? "?");
    } else if (type === RST_STREAM && !statuses.has(stream)) statuses.set(stream, "reset");
    else if (type === GOAWAY) closed = true;
    else if (type === DATA && p.length > 0) {
      // Give back what the server sent, so its answers are never held up by our windows.
      const inc = new Uint8Array(4);
      new DataView(inc.buffer).setUint32(0, p.length);
      write(frame(WINDOW_UPDATE, 0, 0, inc));
      if (!(flags & END_STREAM)) write(frame(WINDOW_UPDATE, 0, stream, inc));
    }
    notify();
  };
  (async () => {
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(65_536);
    try {
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) break;
        const joined = new Uint8Array(buf.length + n);
        joined.set(buf);
        joined.set(chunk.subarray(0, n), buf.length);
        let off = 0;
        while (joined.length - off >= 9) {
          const len = (joined[off] << 16) | (joined[off + 1] << 8) | joined[off + 2];
          if (joined.length - off < 9 + len) break;
          const stream = new DataView(joined.buffer).getUint32(off + 5) & 0x7fffffff;
          onFrame(joined[off + 3], joined[off + 4], stream, joined.slice(off + 9, off + 9 + len));
          off += 9 + len;
        }
        buf = joined.slice(off);
      }
    } catch {
      // Reset by the server.
    }
    closed = true;
    notify();
  })();
  write(PREFACE);
  write(frame(SETTINGS, 0, 0, new Uint8Array()));

  return {
    request(path, options = {}) {
      const stream = next;
      next += 2;
      const block = headerBlock([
        [":method", options.method ?? "GET"],
        [":scheme", "http"],
        [":authority", authority],
        [":path", path],
        ...(options.headers ?? []),
      ]);
      write(frame(HEADERS, END_HEADERS | (options.end ?? true ? END_STREAM : 0), stream, block));
      return stream;
    },
    async data(stream, bytes, end = false) {
      for (let off = 0; off < bytes.length || (end && off === 0 && bytes.length === 0);) {
        if (closed) return false;
        const window = Math.min(connWindow, windows.get(stream) ?? initialWindow);
        const n = Math.min(16_384, window, bytes.length - off);
        if (n <= 0 && bytes.length > 0) {
          await wake.promise;
          continue;
        }
        const last = end && off + n === bytes.length;
        connWindow -= n;
        windows.set(stream, (windows.get(stream) ?? initialWindow) - n);
        await write(frame(DATA, last ? END_STREAM : 0, stream, bytes.subarray(off, off + n)));
        off += n;
        if (bytes.length === 0) break;
      }
      return !closed;
    },
    async status(stream, limitMs = 10_000) {
      const deadline = Date.now() + limitMs;
      while (!statuses.has(stream) && !closed && Date.now() < deadline) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([wake.promise, new Promise((r) => timer = setTimeout(r, 50))]);
        clearTimeout(timer);
      }
      return statuses.get(stream);
    },
    get consumed() {
      return consumed;
    },
    get closed() {
      return closed;
    },
    settings,
    close() {
      closed = true;
      try {
        conn.close();
      } catch {
        // Closed already.
      }
      notify();
    },
  };
}
