import assert from "node:assert/strict";
import { countSent, newConnection } from "../../../lib/server/guard_connection.ts";
import { H2_PREFACE } from "../../../lib/server/h2_streams.ts";

const fakeConn = {} as Deno.Conn;

function frame(type: number, flags: number, stream: number, length: number): Uint8Array {
  const f = new Uint8Array(9 + length);
  f.set([length >> 16, (length >> 8) & 255, length & 255, type, flags]);
  new DataView(f.buffer).setUint32(5, stream);
  return f;
}

Deno.test("countSent() knows HTTP/2 by its preface even when it comes a byte at a time", () => {
  const c = newConnection(fakeConn, "a");
  for (const b of H2_PREFACE) assert.equal(countSent(c, new Uint8Array([b]), 1000), undefined);
  assert.ok(c.h2, "the connection is HTTP/2");
  assert.equal(countSent(c, frame(1, 4, 1, 500), 1000), undefined);
  // An answered request gives an HTTP/2 stream nothing back: its bytes are its own.
  c.sent = 0;
  assert.equal(countSent(c, frame(0, 0, 1, 500), 1000), "body");
});

Deno.test("countSent() counts an HTTP/1.1 connection's bytes against its requests' allowances", () => {
  const c = newConnection(fakeConn, "a");
  const head = new TextEncoder().encode("POST /webhook HTTP/1.1\r\n");
  assert.equal(countSent(c, head, 1000), undefined);
  assert.equal(c.h2, undefined);
  assert.equal(countSent(c, new Uint8Array(1900), 1000), undefined);
  assert.equal(countSent(c, new Uint8Array(100), 1000), "body");
});
