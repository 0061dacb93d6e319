// One connection relayed by the connection guard (`guard.ts`): its state, the bytes its client
// sent as the guard counts them, and the only HTTP answers the guard writes itself.
import { H2_PREFACE, H2Streams } from "./h2_streams.ts";

/** Why the guard closes a connection, in the order the docs list them. */
export const CLOSED_AT = [
  "header",
  "idle",
  "request",
  "connections",
  "client",
  "shed",
  "body",
  "streams",
  "framing",
] as const;

/** Why the guard closed a connection (`nodeheal_connections_closed_total{limit}`). */
export type ClosedAt = (typeof CLOSED_AT)[number];

/** HTTP/2 streams a client may have open on one connection (the server behind advertises 200). */
export const MAX_H2_STREAMS = 256;

export type Phase = "head" | "request" | "idle";

/** An HTTP/1.1 answer the guard writes itself, closing the connection. */
function answer(status: string, error: string): Uint8Array {
  const body = JSON.stringify({ status: "error", error }) + "\n";
  return new TextEncoder().encode(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\nconnection: close\r\n` +
      `content-length: ${body.length}\r\n\r\n${body}`,
  );
}

/** The answer to a request that sends far more than its limit. */
export const TOO_LARGE = answer(
  "413 Payload Too Large",
  "Request body too large: it sent far more than the body limit",
);

/**
 * The answer to a request the server dropped unanswered (a chunk size that is not hex, say):
 * final, since sending the same bytes again cannot succeed.
 */
export const BAD_FRAMING = answer(
  "400 Bad Request",
  "Cannot read the request: its HTTP/1.1 framing is invalid (chunk sizes, chunk extensions)",
);

/** A relayed connection. */
export interface Connection {
  front: Deno.Conn;
  back?: Deno.Conn;
  /** With TLS: the hop that carries the client's encrypted bytes to the guard's TLS listener. */
  hop?: Deno.Conn;
  /** With TLS: the decrypted connection, which the guard reads and answers (else `front`). */
  plain?: Deno.TlsConn;
  /** With TLS: the copies between `front` and `hop`, both ways, until both end. */
  piped?: Promise<void>;
  /** The client's address, whose share of the connections this one is. */
  client: string;
  phase: Phase;
  /** When the phase last changed (ms, monotonic). */
  since: number;
  /** Nothing was relayed to the client since the current request began. */
  quiet: boolean;
  /** When the phase's limit passes (ms, monotonic; Infinity: none). */
  deadline: number;
  /** A moment's grace before the connection ends (a shed, a delivery). */
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
  /** How many of the client's first bytes matched the HTTP/2 preface; -1 once they did not. */
  preface: number;
  /** HTTP/2 (after its preface): the bytes of each stream, and the guard writes no HTTP/1.1. */
  h2?: H2Streams;
  closed: boolean;
  done: Promise<void>;
}

/** Writes all of `bytes`. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/** Closes a connection that may be closed already. */
export function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // Already closed.
  }
}

/** A connection just accepted from `client`, waiting for its first request's head. */
export function newConnection(front: Deno.Conn, client: string): Connection {
  return {
    front,
    client,
    phase: "head",
    since: performance.now(),
    deadline: Infinity,
    quiet: true,
    requests: 0,
    sent: 0,
    active: 0,
    clientDone: false,
    preface: 0,
    closed: false,
  } as Connection;
}

/**
 * Counts what the client sent, HTTP/2 per stream (once its preface came whole), HTTP/1.1 per
 * request (the server reads them one at a time): the limit passed, if one was.
 */
export function countSent(
  c: Connection,
  bytes: Uint8Array,
  maxRequestBytes: number,
): ClosedAt | undefined {
  if (c.preface >= 0 && c.preface < H2_PREFACE.length) {
    const k = Math.min(bytes.length, H2_PREFACE.length - c.preface);
    const matches = bytes.subarray(0, k).every((b, i) => b === H2_PREFACE[c.preface + i]);
    c.preface = matches ? c.preface + k : -1;
    if (c.preface === H2_PREFACE.length) {
      c.h2 = new H2Streams({
        maxStreamBytes: maxRequestBytes,
        maxStreams: MAX_H2_STREAMS,
        strayBytes: maxRequestBytes,
      });
      return c.h2.client(bytes.subarray(k));
    }
  }
  if (c.h2) return c.h2.client(bytes);
  // Each request the server has started has its allowance, and one more may arrive ahead: a
  // pipelined request can be here whole before the server starts the one before it (under load,
  // sooner than it reads).
  return (c.sent += bytes.length) > maxRequestBytes * (2 + c.active) ? "body" : undefined;
}

/**
 * Ends a connection. With TLS and `deliver`, what was written to it still passes through the hop:
 * its TLS side closes its writing, and the client's side closes once that is out, or when `later`
 * runs the close it is given (a moment later); else at once.
 */
export function endConnection(
  c: Connection,
  deliver: boolean,
  later: (close: () => void) => ReturnType<typeof setTimeout>,
): void {
  c.closed = true;
  clearTimeout(c.timer);
  closeQuietly(c.back);
  if (deliver && c.plain) {
    const close = () => endConnection(c, false, later);
    c.plain.closeWrite().catch(close);
    c.timer = later(close);
    return;
  }
  closeQuietly(c.front);
  closeQuietly(c.hop);
  closeQuietly(c.plain);
}
