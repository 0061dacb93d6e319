// The tokenizer behind the backtest's streamed answers: the same tokens wherever the chunks split
// the bytes, and every token bounded as it grows.
import assert from "node:assert/strict";
import { JsonTokens, MAX_STRING_BYTES, TokenTooLong } from "../../../lib/backtest/json_tokens.ts";

/** Every token of `text` fed in chunks of `size` bytes, as [kind, value]. */
function tokens(text: string, size: number): [string, unknown][] {
  const bytes = new TextEncoder().encode(text);
  const t = new JsonTokens();
  const out: [string, unknown][] = [];
  const record = () => {
    const k = t.kind();
    out.push([k, k === "string" || k === "number" || k === "literal" ? t.value : undefined]);
  };
  for (let at = 0; at < bytes.length; at += size) {
    t.push(bytes.subarray(at, at + size));
    while (t.next()) record();
  }
  t.end();
  while (t.rest()) {
    t.next();
    record();
  }
  return out;
}

const DOC =
  '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"\\u00e9\\"x\\\\","b":"é"},"values":[[1793491200.5,"-1.5e+3"],[-0,"NaN"]]}]},"n":[true,false,null,0,12.5e-3]}';

Deno.test("JsonTokens reads the same tokens wherever the chunks split the bytes", () => {
  const whole = tokens(DOC, DOC.length * 2);
  assert.deepEqual(whole.filter(([k]) => k === "string").map(([, v]) => v).slice(8, 11), [
    'é"x\\',
    "b",
    "é",
  ]);
  assert.deepEqual(whole.filter(([k]) => k === "number").map(([, v]) => v), [
    1793491200.5,
    -0,
    0,
    12.5e-3,
  ]);
  for (const size of [1, 2, 3, 7, 64]) {
    assert.deepEqual(tokens(DOC, size), whole, `chunks of ${size}`);
  }
});

Deno.test("JsonTokens refuses a string over 64 KiB and a number over 64 characters as they grow", () => {
  const long = `["${"x".repeat(MAX_STRING_BYTES)}"]`;
  assert.throws(() => tokens(long, 4096), TokenTooLong);
  assert.throws(() => tokens(`[${"1".repeat(65)}]`, 8), TokenTooLong);
  // Just under the bound is read.
  assert.equal(tokens(`["${"x".repeat(MAX_STRING_BYTES - 2)}"]`, 4096)[1][1], "x".repeat(65_534));
});

Deno.test("JsonTokens refuses what is not JSON, naming it", () => {
  for (
    const [text, message] of [
      ["<html>", /starts no JSON value/],
      ["[tru]", /a bad word/],
      ['["a\nb"]', /a control character inside a string/],
      ['["\\x"]', /a bad escape/],
      ["[01]", /a bad number "01"/],
      ['["open', /a string is not closed/],
    ] as const
  ) {
    const t = new JsonTokens();
    t.push(new TextEncoder().encode(text));
    t.end();
    assert.throws(() => {
      while (t.next());
    }, message);
  }
});
