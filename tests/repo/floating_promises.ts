// Finds promises nobody handles, with TypeScript's own checker: `deno lint` has no rule for them,
// and one un-awaited reconcile that threw ended every replica in turn. Three shapes are found:
//
// - a statement that drops a promise: `pipeline.reconcile(name);`, `p.then(f);`, `p.finally(f);`
// - a promise kept in a field, where nothing awaits it now: `this.#worker = this.#work();`
// - a function that returns a promise where a function returning void is expected, so that its
//   caller drops the promise: `setInterval(() => this.#read(), ms)`, `due: (n) => this.reconcile(n)`
//
// What passes: `await p`; `p.catch(h)` and `p.then(f, h)`; a promise made by `Background.settled`
// (lib/base/background.ts: it never rejects); and `void p` with a comment on the line before that
// says why it cannot reject. Run it alone to list what it finds:
// `deno run --allow-read --allow-run --allow-env tests/repo/floating_promises.ts`.
import ts from "npm:typescript@5.6.3";

const ROOT = new URL("../../", import.meta.url).pathname;

/** One promise nobody handles: where, which shape, and the code. */
export interface Floating {
  /** `lib/service/service.ts:103`. */
  at: string;
  kind: "dropped" | "stored" | "void-callback";
  code: string;
}

/** What a check found: the promises nobody handles, and what makes its answer trustworthy. */
export interface FloatingReport {
  floating: Floating[];
  /** Names and modules the checker could not resolve: each would make types `any` and hide a promise. */
  unresolved: string[];
  /** Expressions of a promise type it saw (awaited or not): a check that sees none saw nothing. */
  promisesSeen: number;
}

/** The `.ts` files under `dirs`, as git knows them, relative to the repository. */
export function sourceFiles(dirs: string[]): string[] {
  const out = new Deno.Command("git", { args: ["-C", ROOT, "ls-files", ...dirs], stdout: "piped" })
    .outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").filter((f) => f.endsWith(".ts"));
}

/** Checks `files` (relative to the repository, or absolute), with `extra` sources in memory by path. */
export function findFloating(files: string[], extra: Record<string, string> = {}): FloatingReport {
  const paths = files.map((f) => f.startsWith("/") ? f : ROOT + f);
  const program = makeProgram([...paths, ...Object.keys(extra)], extra);
  const checker = program.getTypeChecker();
  const unresolved = program.getSemanticDiagnostics()
    .filter((d) => (d.code === 2307 && /['"]\.\.?\//.test(message(d))) || d.code === 2304)
    .map((d) => `${d.file ? where(d.file, d.start ?? 0) : "?"}: ${message(d)}`);
  const report: FloatingReport = { floating: [], unresolved, promisesSeen: 0 };
  for (const path of [...paths, ...Object.keys(extra)]) {
    const file = program.getSourceFile(path);
    if (!file) throw new Error(`Cannot check ${path}: the program does not hold it`);
    visit(file, file, checker, report);
  }
  return report;
}

function message(d: ts.Diagnostic): string {
  return ts.flattenDiagnosticMessageText(d.messageText, " ");
}

function where(file: ts.SourceFile, pos: number): string {
  const line = file.getLineAndCharacterOfPosition(pos).line + 1;
  return `${
    file.fileName.startsWith(ROOT) ? file.fileName.slice(ROOT.length) : file.fileName
  }:${line}`;
}

/** Deno's global types (`deno types`), with the timers Deno types from its Node.js types. */
const DENO_TYPES = "/deno-types/lib.deno.d.ts";

function denoTypes(): string {
  const out = new Deno.Command(Deno.execPath(), { args: ["types"], stdout: "piped" }).outputSync();
  // Its `deno.*` libraries are inlined already; TypeScript knows none of them by name.
  return new TextDecoder().decode(out.stdout).replace(
    /^\/\/\/ <reference lib="deno\.[^"]*" \/>$/gm,
    "",
  ) +
    `
declare function setTimeout(handler: (...args: any[]) => void, timeout?: number, ...args: any[]): number;
declare function setInterval(handler: (...args: any[]) => void, timeout?: number, ...args: any[]): number;
declare function clearTimeout(id?: number): void;
declare function clearInterval(id?: number): void;
`;
}

/** deno.json's npm imports, as paths into Deno's npm cache (their own dependencies stay `any`). */
function npmPaths(): Record<string, string[]> {
  const info = new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .outputSync();
  const cache = `${JSON.parse(new TextDecoder().decode(info.stdout)).npmCache}/registry.npmjs.org/`;
  const imports = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).imports as Record<
    string,
    string
  >;
  const paths: Record<string, string[]> = {};
  for (const [name, target] of Object.entries(imports)) {
    const m = /^npm:\/?((?:@[^/]+\/)?[^@/]+)@([^/]+)/.exec(target);
    if (!m) continue;
    const dir = `${cache}${m[1]}/${m[2]}`;
    paths[name.endsWith("/") ? `${name}*` : name] = [name.endsWith("/") ? `${dir}/*` : dir];
  }
  return paths;
}

function makeProgram(roots: string[], extra: Record<string, string>): ts.Program {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    lib: ["lib.esnext.d.ts"],
    types: [],
    paths: npmPaths(),
  };
  const host = ts.createCompilerHost(options);
  const deno = denoTypes();
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) => {
    const text = name === DENO_TYPES ? deno : extra[name];
    return text !== undefined
      ? ts.createSourceFile(name, text, language, true)
      : getSourceFile(name, language, ...rest);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === DENO_TYPES || name in extra || fileExists(name);
  return ts.createProgram([...roots, DENO_TYPES], options, host);
}

function visit(
  node: ts.Node,
  file: ts.SourceFile,
  checker: ts.TypeChecker,
  report: FloatingReport,
) {
  const found = (kind: Floating["kind"], n: ts.Node) =>
    report.floating.push({
      at: where(file, n.getStart(file)),
      kind,
      code: n.getText(file).replace(/\s+/g, " ").slice(0, 100),
    });
  if (ts.isExpression(node) && isThenable(checker.getTypeAtLocation(node))) report.promisesSeen++;
  if (ts.isExpressionStatement(node)) {
    const e = skipParens(node.expression);
    if (ts.isVoidExpression(e)) {
      if (isThenable(checker.getTypeAtLocation(e.expression)) && !commented(node, file)) {
        found("dropped", node);
      }
    } else if (isStore(e)) {
      if (dropsRejection(e.right, checker)) found("stored", node);
    } else if (!ts.isBinaryExpression(e) || !isAssignment(e.operatorToken.kind)) {
      if (dropsRejection(e, checker)) found("dropped", node);
    }
  }
  if (returnsPromiseWhereVoidExpected(node, checker)) found("void-callback", node);
  ts.forEachChild(node, (child) => visit(child, file, checker, report));
}

function skipParens(e: ts.Expression): ts.Expression {
  while (ts.isParenthesizedExpression(e)) e = e.expression;
  return e;
}

function isAssignment(kind: ts.SyntaxKind): boolean {
  return kind >= ts.SyntaxKind.FirstAssignment && kind <= ts.SyntaxKind.LastAssignment;
}

/** `this.#x = ...`, `c.done ??= ...`: a value kept in a field, where nothing awaits it now. */
function isStore(e: ts.Expression): e is ts.BinaryExpression {
  return ts.isBinaryExpression(e) && isAssignment(e.operatorToken.kind) &&
    (ts.isPropertyAccessExpression(e.left) || ts.isElementAccessExpression(e.left));
}

/** Whether `e` is a promise whose rejection nothing handles. */
function dropsRejection(e: ts.Expression, checker: ts.TypeChecker): boolean {
  e = skipParens(e);
  if (ts.isAwaitExpression(e) || !isThenable(checker.getTypeAtLocation(e))) return false;
  if (ts.isConditionalExpression(e)) {
    return dropsRejection(e.whenTrue, checker) || dropsRejection(e.whenFalse, checker);
  }
  if (!ts.isCallExpression(e)) return true;
  if (ts.isPropertyAccessExpression(e.expression)) {
    const method = e.expression.name.text;
    if (method === "catch" && e.arguments.length >= 1) return false;
    if (method === "then" && e.arguments.length >= 2) return false;
  }
  return !neverRejects(e, checker);
}

/** A call of `Background.settled` (lib/base/background.ts), whose promise never rejects. */
function neverRejects(call: ts.CallExpression, checker: ts.TypeChecker): boolean {
  const decl = checker.getResolvedSignature(call)?.getDeclaration();
  return decl !== undefined && ts.isMethodDeclaration(decl) && decl.name.getText() === "settled" &&
    ts.isClassDeclaration(decl.parent) && decl.parent.name?.text === "Background" &&
    decl.getSourceFile().fileName.endsWith("/lib/base/background.ts");
}

function isThenable(type: ts.Type): boolean {
  if (type.isUnion()) return type.types.some(isThenable);
  if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return false;
  const then = type.getProperty("then");
  return then !== undefined &&
    (then.flags & (ts.SymbolFlags.Method | ts.SymbolFlags.Property)) !== 0;
}

/** A comment ending on the line just before the statement (the reason a `void` is safe). */
function commented(statement: ts.Node, file: ts.SourceFile): boolean {
  const before = ts.getLeadingCommentRanges(file.text, statement.getFullStart()) ?? [];
  const line = (pos: number) => file.getLineAndCharacterOfPosition(pos).line;
  const own = line(statement.getStart(file));
  return before.some((c) => line(c.end) === own - 1);
}

/**
 * An arrow, function expression or object-literal method that returns a promise, given where
 * every call signature of the expected type returns void: its caller drops the promise.
 */
function returnsPromiseWhereVoidExpected(node: ts.Node, checker: ts.TypeChecker): boolean {
  let expected: ts.Type | undefined;
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
    expected = checker.getContextualType(node);
  } else if (ts.isMethodDeclaration(node) && ts.isObjectLiteralExpression(node.parent)) {
    const property = checker.getContextualType(node.parent)?.getNonNullableType()
      .getProperty(node.name.getText());
    expected = property && checker.getTypeOfSymbolAtLocation(property, node);
  } else {
    return false;
  }
  if (!expected) return false;
  const signature = checker.getSignatureFromDeclaration(node as ts.SignatureDeclaration);
  if (!signature || !isThenable(checker.getReturnTypeOfSignature(signature))) return false;
  const wanted = expected.getNonNullableType().getCallSignatures();
  return wanted.length > 0 &&
    wanted.every((s) => (checker.getReturnTypeOfSignature(s).flags & ts.TypeFlags.Void) !== 0);
}

if (import.meta.main) {
  const report = findFloating(sourceFiles(Deno.args.length ? Deno.args : ["lib", "main.ts"]));
  for (const u of report.unresolved) console.log(`unresolved ${u}`);
  for (const f of report.floating) console.log(`${f.at} ${f.kind}: ${f.code}`);
  console.log(
    `${report.floating.length} floating, ${report.promisesSeen} promise expressions seen`,
  );
}
