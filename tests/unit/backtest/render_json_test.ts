import assert from "node:assert/strict";
import fc from "fast-check";
import { renderJson, writePieces } from "../../../lib/backtest/render_json.ts";

Deno.test("renderJson() writes what JSON.stringify(value, null, 2) writes, for any JSON value", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      assert.equal([...renderJson(value)].join(""), JSON.stringify(value, null, 2));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("renderJson() leaves out undefined fields and writes null for undefined elements, as JSON.stringify does", () => {
  const value = { a: undefined, b: [undefined, 1, { c: undefined }], d: {} };
  assert.equal([...renderJson(value)].join(""), JSON.stringify(value, null, 2));
});

Deno.test("writePieces() writes the pieces in batches and ends them with a newline", async () => {
  const chunks: Uint8Array[] = [];
  const pieces = Array.from({ length: 5_000 }, (_, i) => `"piece ${i}", `);
  await writePieces(pieces, { write: (b) => Promise.resolve(chunks.push(b)) });
  assert.ok(chunks.length > 1 && chunks.length < 10);
  const text = new TextDecoder().decode(
    new Uint8Array(chunks.flatMap((c) => [...c])),
  );
  assert.equal(text, `${pieces.join("")}\n`);
});
