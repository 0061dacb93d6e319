// HMAC-SHA256 in JavaScript (lib/base/hmac_sha256.ts), which seals node-heal's state: RFC 4231's
// test vectors, and the same answer as node:crypto for any key and message.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import fc from "fast-check";
import { HmacSha256, sha256 } from "../../../lib/base/hmac_sha256.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const text = (s: string) => new TextEncoder().encode(s);
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("RFC 4231's HMAC-SHA256 test vectors", () => {
  const cases: [Uint8Array, Uint8Array, string][] = [
    [
      new Uint8Array(20).fill(0x0b),
      text("Hi There"),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ],
    [
      text("Jefe"),
      text("what do ya want for nothing?"),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ],
    [
      new Uint8Array(20).fill(0xaa),
      new Uint8Array(50).fill(0xdd),
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    ],
    [
      hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
      new Uint8Array(50).fill(0xcd),
      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ],
    [
      new Uint8Array(131).fill(0xaa),
      text("Test Using Larger Than Block-Size Key - Hash Key First"),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ],
    [
      new Uint8Array(131).fill(0xaa),
      text(
        "This is a test using a larger than block-size key and a larger than block-size data. " +
          "The key needs to be hashed before being used by the HMAC algorithm.",
      ),
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ],
  ];
  for (const [key, message, expected] of cases) {
    assert.equal(new HmacSha256(key).hex(message), expected);
  }
});

Deno.test("SHA-256 of the empty message and of 'abc' (FIPS 180-4)", () => {
  assert.equal(
    toHex(sha256(new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    toHex(sha256(text("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("the same HMAC and hash as node:crypto for any key and message, bytes or text", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.string({ unit: "grapheme", maxLength: 120 }),
      (key, bytes, message) => {
        const hmac = new HmacSha256(key);
        assert.equal(hmac.hex(bytes), createHmac("sha256", key).update(bytes).digest("hex"));
        // One instance seals many messages: nothing of one is left for the next.
        assert.equal(hmac.hex(message), createHmac("sha256", key).update(message).digest("hex"));
        assert.equal(toHex(sha256(bytes)), createHash("sha256").update(bytes).digest("hex"));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("every message length around the padding's edges (55, 56, 63, 64, 119, 120 bytes)", () => {
  const key = new Uint8Array(32).fill(7);
  const hmac = new HmacSha256(key);
  for (let n = 0; n <= 200; n++) {
    const message = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
    assert.equal(
      hmac.hex(message),
      createHmac("sha256", key).update(message).digest("hex"),
      `${n}`,
    );
  }
});
