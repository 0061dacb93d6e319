// The status page's script is one closure assembled from several modules (ui_js.ts and the parts
// it splices in): a function declared twice there is not an error, the later one silently
// replaces the first everywhere. One did (`duration` in seconds over `duration` in ms), and every
// time on the page read "-2005m ago".
import assert from "node:assert/strict";
import { UI_JS } from "../../../lib/server/ui/ui_js.ts";

Deno.test("no two functions of the status page's script share a name", () => {
  const names = [...UI_JS.matchAll(/\bfunction\s+([A-Za-z_$][\w$]*)\s*\(/g)].map((m) => m[1]);
  assert.ok(names.length > 20, `found only ${names.length} functions: the pattern is stale`);
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  assert.deepEqual(twice, []);
});
