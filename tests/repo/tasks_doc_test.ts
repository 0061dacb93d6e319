// Every `deno task NAME` the README and the docs tell people to run is a task of deno.json: the
// README as a whole, and in docs/*.md each fenced code block and each inline code span.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** The names after `deno task` in `text` (flags such as `-q` before the name skipped). */
export function taskNames(text: string): string[] {
  return [...text.matchAll(/deno task((?:\s+-{1,2}[a-z][\w-]*)*)\s+([A-Za-z0-9][\w:.-]*)/g)]
    .map((m) => m[2]);
}

/** The code of a Markdown page: its fenced blocks and its inline code spans. */
export function codeOf(markdown: string): string[] {
  const fenced = [...markdown.matchAll(/^(```|~~~)[^\n]*\n([\s\S]*?)^\1/gm)].map((m) => m[2]);
  const prose = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1/gm, "");
  const inline = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
  return [...fenced, ...inline];
}

Deno.test("taskNames() and codeOf() find the tasks a page names in code", () => {
  const page =
    "Run `deno task dev`.\n\n```sh\ndeno task -q backtest --demo\ndeno task bench:notify\n```\n";
  assert.deepEqual(codeOf(page).flatMap(taskNames).sort(), ["backtest", "bench:notify", "dev"]);
});

Deno.test("every deno task the README and docs/*.md name is in deno.json's tasks", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const tasks = new Set(Object.keys(config.tasks));
  const named: { page: string; name: string }[] = [];
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  for (const name of taskNames(readme)) named.push({ page: "README.md", name });
  for (const entry of Deno.readDirSync(new URL("docs/", ROOT))) {
    if (!entry.isFile || !entry.name.endsWith(".md")) continue;
    const text = await Deno.readTextFile(new URL(`docs/${entry.name}`, ROOT));
    for (const code of codeOf(text)) {
      for (const name of taskNames(code)) named.push({ page: `docs/${entry.name}`, name });
    }
  }
  assert.ok(named.some((n) => n.page === "README.md" && n.name === "test"));
  assert.ok(named.length > 20, `found ${named.length} tasks named`);
  const missing = named.filter((n) => !tasks.has(n.name)).map((n) => `${n.page}: ${n.name}`);
  assert.deepEqual([...new Set(missing)], [], "deno task names that deno.json does not have");
});
