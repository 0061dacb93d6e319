import assert from "node:assert/strict";
import { FrameHeaders, H2Streams } from "../../../lib/server/h2_streams.ts";

const DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, CONTINUATION = 9;
const END_STREAM = 1, END_HEADERS = 4;

/** A frame of `length` payload bytes (zeros). */
function frame(type: number, flags: number, stream: number, length: number): Uint8Array {
  const f = new Uint8Array(9 + length);
  f.set([length >> 16, (length >> 8) & 255, length & 255, type, flags]);
  new DataView(f.buffer).setUint32(5, stream);
  return f;
}

const LIMITS = { maxStreamBytes: 1000, maxStreams: 3, strayBytes: 500 };

Deno.test("FrameHeaders reads each frame's header however the bytes are split, skipping payloads", () => {
  const bytes = new Uint8Array([
    ...frame(HEADERS, END_HEADERS, 1, 20),
    ...frame(DATA, END_STREAM, 1, 7),
    ...frame(SETTINGS, 0, 0, 0),
  ]);
  for (const size of [1, 2, 9, 10, 64]) {
    const seen: string[] = [];
    const reader = new FrameHeaders();
    for (let i = 0; i < bytes.length; i += size) {
      reader.feed(bytes.subarray(i, i + size), (f) => {
        seen.push(`${f.type}/${f.flags}/${f.stream}/${f.length}`);
        return true;
      });
    }
    assert.deepEqual(seen, ["1/4/1/20", "0/1/1/7", "4/0/0/0"], `split every ${size} bytes`);
  }
});

Deno.test("H2Streams cuts a stream that sends more than its bytes, headers and frames included", () => {
  const h2 = new H2Streams(LIMITS);
  assert.equal(h2.client(frame(HEADERS, END_HEADERS, 1, 100)), undefined);
  assert.equal(h2.client(frame(DATA, 0, 1, 800)), undefined);
  assert.equal(h2.client(frame(DATA, 0, 1, 100)), "body");
});

Deno.test("H2Streams gives no stream's bytes back when other streams end or are answered", () => {
  const h2 = new H2Streams(LIMITS);
  h2.client(frame(HEADERS, END_HEADERS, 1, 10));
  h2.client(frame(DATA, 0, 1, 600));
  for (let s = 3; s < 40; s += 2) {
    assert.equal(h2.client(frame(HEADERS, END_HEADERS | END_STREAM, s, 10)), undefined);
    h2.server(frame(HEADERS, END_STREAM | END_HEADERS, s, 5));
  }
  assert.equal(h2.open, 1);
  assert.equal(h2.client(frame(DATA, 0, 1, 600)), "body");
});

Deno.test("H2Streams counts bytes on a stream the server or the client ended against one allowance never given back", () => {
  const h2 = new H2Streams(LIMITS);
  h2.client(frame(HEADERS, END_HEADERS, 1, 10));
  h2.server(frame(RST_STREAM, 0, 1, 4));
  h2.client(frame(HEADERS, END_HEADERS, 3, 10));
  h2.client(frame(RST_STREAM, 0, 3, 4));
  assert.equal(h2.open, 0);
  assert.equal(h2.client(frame(DATA, 0, 1, 200)), undefined);
  assert.equal(h2.client(frame(DATA, 0, 3, 200)), undefined);
  // A HEADERS frame that reuses an old stream opens nothing either.
  assert.equal(h2.client(frame(HEADERS, END_HEADERS, 1, 200)), "body");
});

Deno.test("H2Streams keeps a stream open until its END_STREAM header block is complete", () => {
  const h2 = new H2Streams(LIMITS);
  h2.client(frame(HEADERS, END_STREAM, 1, 10));
  assert.equal(h2.open, 1);
  h2.client(frame(CONTINUATION, 0, 1, 10));
  assert.equal(h2.open, 1);
  h2.client(frame(CONTINUATION, END_HEADERS, 1, 10));
  assert.equal(h2.open, 0);
});

Deno.test("H2Streams closes a connection that opens more streams than allowed at once", () => {
  const h2 = new H2Streams(LIMITS);
  for (const s of [1, 3, 5]) assert.equal(h2.client(frame(HEADERS, END_HEADERS, s, 10)), undefined);
  assert.equal(h2.client(frame(HEADERS, END_HEADERS, 7, 10)), "streams");
});

Deno.test("H2Streams does not count frames that carry no request", () => {
  const h2 = new H2Streams(LIMITS);
  for (let i = 0; i < 1000; i++) assert.equal(h2.client(frame(SETTINGS, 0, 0, 6)), undefined);
});
