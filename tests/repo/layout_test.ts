// The layout docs/development.md draws holds for every file: lib/ keeps no loose file, and every
// folder of lib/ (two levels down) is a row of the layout table.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

function folders(dir: string, depth: number): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(new URL(dir, ROOT))) {
    if (!e.isDirectory) continue;
    out.push(`${dir}${e.name}/`);
    if (depth > 1) out.push(...folders(`${dir}${e.name}/`, depth - 1));
  }
  return out;
}

Deno.test("lib/ has no loose file: every module is in a room", () => {
  const loose = [...Deno.readDirSync(new URL("lib/", ROOT))].filter((e) => e.isFile)
    .map((e) => e.name);
  assert.deepEqual(loose, []);
});

Deno.test("every folder of lib/ is named in docs/development.md's layout table", async () => {
  const text = await Deno.readTextFile(new URL("docs/development.md", ROOT));
  const layout = text.slice(
    text.indexOf("## Layout"),
    text.indexOf("\n## ", text.indexOf("## Layout") + 1),
  );
  const rows = [...layout.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]);
  // A folder is named by its own row, or by its parent's row naming it (`replace/`).
  const named = (f: string) =>
    rows.includes(f) ||
    rows.some((r) => f.startsWith(r) && layout.includes(`\`${f.slice(r.length)}\``));
  const missing = folders("lib/", 2).filter((f) => !named(f));
  assert.deepEqual(missing, [], "folders of lib/ the layout table does not name");
});
