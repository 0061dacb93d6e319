// What a reference to the repository's own files names: a path, and maybe a heading's anchor as
// GitHub makes it. Shared by the tests that keep manifests' comments and docs' links pointing at
// something that exists.

/** The repository's root, as a file URL ending in a slash. */
export const ROOT = new URL("../../", import.meta.url);

/**
 * GitHub's anchor for a heading: lower case, punctuation dropped (hyphens and underscores kept),
 * spaces become hyphens. `## Runbook: NodeHighCPU` is `#runbook-nodehighcpu`.
 */
export function githubSlug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replaceAll(" ", "-");
}

/** The anchors of a Markdown text's headings (code blocks left out), a repeated one numbered. */
export function anchorsOf(markdown: string): Set<string> {
  const prose = markdown.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of prose.matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const slug = githubSlug(m[1]);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** One reference: the text it was found in, the path it names (from the root), its anchor. */
export interface Reference {
  where: string;
  path: string;
  anchor?: string;
}

/**
 * The repository paths a text names: `docs/x.md#anchor`, `manifests/...`, `tests/...`, `lib/...`,
 * `README.md`, `CHANGELOG.md`, each standing alone or after a GitHub `/blob/main/`.
 */
export function referencesIn(text: string, where: string): Reference[] {
  const pattern =
    /(?:^|[\s(`'"]|\/blob\/main\/)((?:docs|manifests|tests|lib)\/[\w./-]*[\w/]|README\.md|CHANGELOG\.md)(?:#([\w-]+))?/g;
  return [...text.matchAll(pattern)].map((m) => ({ where, path: m[1], anchor: m[2] }));
}

/** Why a reference names nothing, or undefined when its file (and heading) exist. */
export async function brokenReason(ref: Reference): Promise<string | undefined> {
  const url = new URL(ref.path, ROOT);
  let text: string;
  try {
    const info = await Deno.stat(url);
    if (info.isDirectory) {
      return ref.anchor ? `${ref.where}: ${ref.path} is a folder, not a file` : undefined;
    }
    text = await Deno.readTextFile(url);
  } catch {
    return `${ref.where}: ${ref.path} does not exist`;
  }
  if (ref.anchor && !anchorsOf(text).has(ref.anchor)) {
    return `${ref.where}: ${ref.path} has no heading whose anchor is #${ref.anchor}`;
  }
  return undefined;
}

/** Every file under a folder of the repository, recursively, as paths from the root. */
export function filesUnder(folder: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(new URL(folder, ROOT))) {
    const path = `${folder}${e.name}`;
    if (e.isDirectory) out.push(...filesUnder(`${path}/`));
    else out.push(path);
  }
  return out.sort();
}

/** One fenced code block of a Markdown text: its language, its text, the `## ` section it is in. */
export interface CodeBlock {
  lang: string;
  text: string;
  section: string;
}

/** The fenced code blocks of a Markdown text, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  let section = "";
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const heading = /^## +(.+)$/.exec(lines[i]);
    if (heading) section = heading[1];
    const fence = /^(`{3,})(\w*)\s*$/.exec(lines[i]);
    if (!fence) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith(fence[1]));
    blocks.push({ lang: fence[2], text: lines.slice(i + 1, end).join("\n") + "\n", section });
    i = end;
  }
  return blocks;
}
