/**
 * Byte accounting of one HTTP/2 connection, per stream, from the frame headers that pass through
 * the connection guard (`guard.ts`) in both directions. The guard holds no payload: it reads the
 * 9-byte header of each frame (RFC 9113, 4.1) as the bytes go by, and skips its payload.
 *
 * A stream's request (HEADERS, CONTINUATION and DATA frames, headers included) may send at most
 * `maxStreamBytes`; a stream is open until the client ends it (END_STREAM, or RST_STREAM) or the
 * server does (its END_STREAM or RST_STREAM). Bytes sent on a stream that is no longer open count
 * against one allowance of the connection that is never given back, so no stream's end, and no
 * answered request, refunds another stream's bytes. Frames that carry no request (SETTINGS, PING,
 * WINDOW_UPDATE, PRIORITY, GOAWAY) are not counted: the server bounds them, and holds none.
 */

/** Frame types (RFC 9113, 6). */
const DATA = 0, HEADERS = 1, RST_STREAM = 3, CONTINUATION = 9;
/** Frame flags. */
const END_STREAM = 1, END_HEADERS = 4;
/** What a client sends first on an HTTP/2 connection (RFC 9113, 3.4). */
export const H2_PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** One frame's header. */
export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  stream: number;
}

/** Reads the frame headers out of a byte stream as it passes, after `skip` leading bytes. */
export class FrameHeaders {
  #head = new Uint8Array(9);
  #have = 0;
  /** Bytes still to pass before the next frame header: a preface, then each frame's payload. */
  #skip: number;

  constructor(skip = 0) {
    this.#skip = skip;
  }

  /** Calls `onFrame` for each frame header completed by `bytes`; stops when it returns false. */
  feed(bytes: Uint8Array, onFrame: (frame: FrameHeader) => boolean): boolean {
    let off = 0;
    while (off < bytes.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, bytes.length - off);
        this.#skip -= n;
        off += n;
        continue;
      }
      const n = Math.min(9 - this.#have, bytes.length - off);
      this.#head.set(bytes.subarray(off, off + n), this.#have);
      this.#have += n;
      off += n;
      if (this.#have < 9) break;
      this.#have = 0;
      const h = this.#head;
      const frame = {
        length: (h[0] << 16) | (h[1] << 8) | h[2],
        type: h[3],
        flags: h[4],
        stream: ((h[5] & 0x7f) << 24 | h[6] << 16 | h[7] << 8 | h[8]) >>> 0,
      };
      this.#skip = frame.length;
      if (!onFrame(frame)) return false;
    }
    return true;
  }
}

/** The limits of {@link H2Streams}. */
export interface H2Limits {
  /** Bytes one stream's request may send, its frames' headers included. */
  maxStreamBytes: number;
  /** Streams the client may have open at once (the server advertises 200). */
  maxStreams: number;
  /** Bytes the connection may send, in all, on streams that are no longer open (never given back). */
  strayBytes: number;
}

/** Why a connection must be closed: a stream sent too much, or too many streams are open. */
export type H2Verdict = "body" | "streams";

/** The accounting of one HTTP/2 connection: see the module's documentation. */
export class H2Streams {
  #limits: H2Limits;
  #fromClient = new FrameHeaders();
  #fromServer = new FrameHeaders();
  /** Bytes sent by each open stream. */
  #open = new Map<number, number>();
  /** Open streams whose END_STREAM came in a HEADERS frame still continued. */
  #ending = new Set<number>();
  #highest = 0;
  #stray = 0;
  #verdict: H2Verdict | undefined;

  constructor(limits: H2Limits) {
    this.#limits = limits;
  }

  /** Streams open now. */
  get open(): number {
    return this.#open.size;
  }

  /** Counts bytes the client sent after its preface; a verdict once the connection must be closed. */
  client(bytes: Uint8Array): H2Verdict | undefined {
    this.#fromClient.feed(bytes, (f) => this.#clientFrame(f) === undefined);
    return this.#verdict;
  }

  /** Learns from bytes the server sent which streams it has ended. */
  server(bytes: Uint8Array): void {
    this.#fromServer.feed(bytes, (f) => {
      const ends = f.type === RST_STREAM ||
        ((f.type === HEADERS || f.type === DATA) && f.flags & END_STREAM);
      if (ends) this.#close(f.stream);
      return true;
    });
  }

  #clientFrame(f: FrameHeader): H2Verdict | undefined {
    if (f.type === RST_STREAM) this.#close(f.stream);
    if (f.type !== DATA && f.type !== HEADERS && f.type !== CONTINUATION) return undefined;
    if (f.type === HEADERS && f.stream > this.#highest) {
      this.#highest = f.stream;
      this.#open.set(f.stream, 0);
      if (this.#open.size > this.#limits.maxStreams) return this.#verdict = "streams";
    }
    const sent = this.#open.get(f.stream);
    if (sent === undefined) {
      this.#stray += 9 + f.length;
      if (this.#stray > this.#limits.strayBytes) return this.#verdict = "body";
      return undefined;
    }
    if (sent + 9 + f.length > this.#limits.maxStreamBytes) return this.#verdict = "body";
    this.#open.set(f.stream, sent + 9 + f.length);
    // The client ends its side with END_STREAM, once its header block is complete.
    if (f.type !== CONTINUATION && f.flags & END_STREAM) {
      if (f.type === DATA || f.flags & END_HEADERS) this.#close(f.stream);
      else this.#ending.add(f.stream);
    } else if (f.type === CONTINUATION && f.flags & END_HEADERS && this.#ending.has(f.stream)) {
      this.#close(f.stream);
    }
    return undefined;
  }

  #close(stream: number): void {
    this.#open.delete(stream);
    this.#ending.delete(stream);
  }
}
