// No function of lib/ is longer than a screen, and no file of lib/pipeline/ longer than 250 lines
// (issue 29): a long one is split into named steps where it grows, not found by a review later.
import assert from "node:assert/strict";
import { longFunctions, MAX_FUNCTION_LINES } from "./function_length.ts";

Deno.test(`no function of lib/ is over ${MAX_FUNCTION_LINES} lines, seed data aside`, () => {
  assert.deepEqual(longFunctions(), []);
});

Deno.test("the length check finds a long function, a method and an arrow", () => {
  const found = longFunctions(40).map((f) => f.lines);
  assert.ok(found.length > 0, "functions over 40 lines exist: the parser reads lib/");
  assert.ok(found.every((n) => n > 40));
});

Deno.test("every file of lib/pipeline/ is under 250 lines", () => {
  const root = new URL("../../lib/pipeline/", import.meta.url);
  const long = [...Deno.readDirSync(root)]
    .filter((e) => e.isFile && e.name.endsWith(".ts"))
    .map((e) => ({
      file: e.name,
      lines: Deno.readTextFileSync(new URL(e.name, root)).split("\n").length,
    }))
    .filter((f) => f.lines >= 250);
  assert.deepEqual(long, []);
});
