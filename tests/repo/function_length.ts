// The functions of lib/ longer than a screen, found with TypeScript's own parser: a function (a
// declaration, a method, an arrow, a constructor) counts from its first line to its last; a nested
// function counts inside its parent too. The embedded cluster's seed data is left out: the seeded
// topology and what a seeded Node looks like on each cloud (its builders are tables written as
// code, such as cloudNode's labels and annotations). Run it alone to list them:
// `deno run --allow-read --allow-env tests/repo/function_length.ts`.
import ts from "npm:typescript@5.6.3";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The longest a function of lib/ may be, in lines. */
export const MAX_FUNCTION_LINES = 80;

/** Folders of lib/ whose functions are data: the seeded cluster and its Nodes. */
const DATA = ["lib/embedded/seed/", "lib/embedded/nodes/"];

export interface LongFunction {
  at: string;
  name: string;
  lines: number;
}

function* files(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
    const path = `${dir}${e.name}`;
    if (e.isDirectory) yield* files(`${path}/`);
    else if (path.endsWith(".ts")) yield path;
  }
}

function nameOf(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name && ts.isIdentifier(named.name)) return named.name.text;
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) {
    return parent.name.text;
  }
  if (parent && ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) {
    return parent.name.text;
  }
  return "(anonymous)";
}

/** Every function of lib/ over {@link MAX_FUNCTION_LINES} lines, longest first. */
export function longFunctions(max = MAX_FUNCTION_LINES): LongFunction[] {
  const out: LongFunction[] = [];
  for (const path of files("lib/")) {
    if (DATA.some((d) => path.startsWith(d))) continue;
    const text = Deno.readTextFileSync(`${ROOT}${path}`);
    const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && (node as { body?: ts.Node }).body) {
        const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        if (end - start + 1 > max) {
          out.push({ at: `${path}:${start + 1}`, name: nameOf(node), lines: end - start + 1 });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return out.sort((a, b) => b.lines - a.lines);
}

if (import.meta.main) {
  for (const f of longFunctions()) console.log(`${f.lines}\t${f.name}\t${f.at}`);
}
