// What the manifests' comments and the docs point at exists: every file, and every heading named by
// its GitHub anchor. A comment that names "README, section X" or a quoted title cannot be checked,
// and went stale when the README's sections moved to docs/; so a manifest names docs/x.md#anchor.
import assert from "node:assert/strict";
import {
  anchorsOf,
  brokenReason,
  filesUnder,
  githubSlug,
  type Reference,
  referencesIn,
  ROOT,
} from "./doc_links.ts";

const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

async function broken(refs: Reference[]): Promise<string[]> {
  return (await Promise.all(refs.map(brokenReason))).filter((r): r is string => r !== undefined);
}

/** The relative Markdown links of a file under docs/ or the root, as references from the root. */
function markdownLinks(text: string, file: string): Reference[] {
  const dir = new URL(file.slice(0, file.lastIndexOf("/") + 1), ROOT);
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .filter((m) => !/^[a-z]+:/.test(m[1]))
    .map((m) => {
      const [path, anchor] = m[1].split("#");
      const target = path ? new URL(path, dir).pathname.slice(ROOT.pathname.length) : file;
      return { where: `${file} link ${m[1]}`, path: target, anchor };
    });
}

Deno.test("GitHub's anchors: punctuation dropped, spaces to hyphens, repeats numbered, code blocks ignored", () => {
  assert.equal(githubSlug("Runbook: NodeHighCPU"), "runbook-nodehighcpu");
  assert.equal(githubSlug("node-heal's own alerts"), "node-heals-own-alerts");
  assert.equal(githubSlug("`--status-auth`"), "--status-auth");
  assert.equal(
    githubSlug("Why fetch and google-auth-library, not @google-cloud/compute"),
    "why-fetch-and-google-auth-library-not-google-cloudcompute",
  );
  assert.deepEqual(
    [...anchorsOf("# A\n\n```sh\n# not a heading\n```\n\n## Two words\n\n## Two words\n")],
    ["a", "two-words", "two-words-1"],
  );
});

Deno.test("every file and heading a manifest names exists", async () => {
  const refs: Reference[] = [];
  for (const file of filesUnder("manifests/")) refs.push(...referencesIn(await read(file), file));
  assert.ok(refs.length >= 30, `the manifests name ${refs.length} paths`);
  assert.ok(refs.some((r) => r.anchor && r.path === "docs/design.md"), "anchors are checked too");
  assert.deepEqual(await broken(refs), []);
});

Deno.test("a manifest names a section of the docs by its anchor, never as a README section or a quoted title", async () => {
  const vague: string[] = [];
  for (const file of filesUnder("manifests/")) {
    const lines = (await read(file)).split("\n");
    lines.forEach((line, i) => {
      // A title may wrap onto the next line of a comment: look at two lines at once.
      const text = `${line} ${lines[i + 1]?.replace(/^\s*#/, "") ?? ""}`;
      if (/\bREADME\b(?!\.md)/.test(line) || /\.md,? +(section +)?"/.test(text)) {
        vague.push(`${file}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(vague, []);
});

Deno.test("every repository path and relative link of README.md and docs/ names a file and heading that exist", async () => {
  const refs: Reference[] = [];
  for (const file of ["README.md", ...filesUnder("docs/").filter((f) => f.endsWith(".md"))]) {
    const text = await read(file);
    refs.push(...referencesIn(text, file), ...markdownLinks(text, file));
  }
  assert.ok(refs.some((r) => r.path.startsWith("manifests/")), "manifests' paths are checked");
  assert.ok(refs.filter((r) => r.anchor).length >= 20, "anchors of links are checked");
  assert.deepEqual(await broken(refs), []);
});
