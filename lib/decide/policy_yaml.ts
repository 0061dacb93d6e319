// A policy's YAML, parsed within bounds. Whoever edits the ConfigMap writes this text, so its size,
// its nesting and what its aliases expand to are bounded before and while it is parsed: the YAML
// parser runs out of a 192 MB heap on 200,000 nested `[` (400 KB), and 99 aliases of one map make
// an 899 KB file a 90 MB document for whatever walks it.
import { CST, Lexer, parse as parseYaml } from "yaml";
import { PolicyRefused } from "./policy_refusal.ts";
import { clip } from "../base/clip.ts";
import { excerpt } from "./policy_excerpt.ts";

/** The bounds on a policy's text (docs/limits.md, "Policy and configuration files"). */
export const POLICY_LIMITS = {
  /** Bytes of the file, checked before it is read whole. */
  bytes: 256 * 1024,
  /** Collections inside collections. */
  depth: 32,
  /** Columns of indentation on a line (block nesting is bounded by it). */
  indent: 128,
  /** Values in the parsed document, each alias counted as all it repeats. */
  values: 20_000,
  /** The YAML parser's `maxAliasCount`. */
  aliases: 100,
} as const;

const OPEN = new Set(["flow-seq-start", "flow-map-start"]);
const CLOSE = new Set(["flow-seq-end", "flow-map-end"]);
const BLOCK = new Set(["seq-item-ind", "explicit-key-ind", "map-value-ind"]);

/**
 * Refuses text that would cost the parser more than the bounds, by its tokens alone: too long,
 * flow collections nested too deep, a line indented too far or with too many block indicators.
 */
function checkTokens(text: string): void {
  const { bytes, depth, indent } = POLICY_LIMITS;
  if (text.length > bytes) {
    throw new PolicyRefused(`it is larger than ${bytes} bytes (${text.length} characters)`);
  }
  let flow = 0;
  let line = 1;
  let atLineStart = true;
  let indicators = 0;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (type === "newline") {
      line++;
      atLineStart = true;
      indicators = 0;
      continue;
    }
    if (atLineStart && type === "space" && token.length > indent) {
      throw new PolicyRefused(`line ${line} is indented more than ${indent} columns`);
    }
    atLineStart = false;
    if (type && OPEN.has(type) && ++flow > depth) {
      throw new PolicyRefused(`it nests collections deeper than ${depth} levels (line ${line})`);
    }
    if (type && CLOSE.has(type)) flow = Math.max(0, flow - 1);
    if (flow === 0 && type && BLOCK.has(type) && ++indicators > depth) {
      throw new PolicyRefused(`it nests collections deeper than ${depth} levels (line ${line})`);
    }
  }
}

/**
 * Refuses a parsed document with more than `values` values or deeper than `depth`, counting an
 * alias as everything it repeats: the walk stops at the bound, so it costs at most the bound.
 */
function checkSize(root: unknown): void {
  const { values, depth } = POLICY_LIMITS;
  const stack: [unknown, number][] = [[root, 0]];
  let count = 0;
  while (stack.length > 0) {
    const [value, level] = stack.pop()!;
    if (++count > values) {
      throw new PolicyRefused(
        `it holds more than ${values} values (an alias counts as all it repeats)`,
      );
    }
    if (value === null || typeof value !== "object") continue;
    if (level >= depth) {
      throw new PolicyRefused(`it nests collections deeper than ${depth} levels`);
    }
    const children = Array.isArray(value) ? value : Object.values(value);
    for (const child of children) stack.push([child, level + 1]);
  }
}

/**
 * Why the YAML parser refused `text`, in one line: where (line and column), what it said, and that
 * line quoted with a caret at the column: "line 4, column 5:" alone says nothing to change.
 */
function notYaml(text: string, err: Error & { linePos?: { line: number; col: number }[] }): string {
  const said = clip(err.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, ""), 200);
  const pos = err.linePos?.[0];
  if (!pos) return `not YAML: ${said}`;
  return `not YAML at line ${pos.line}, column ${pos.col}: ${said}: ${
    excerpt(text, pos.line, pos.col)
  }`;
}

/** Parses a policy's YAML within {@link POLICY_LIMITS}; throws {@link PolicyRefused}, one short line. */
export function parsePolicyYaml(text: string): unknown {
  checkTokens(text);
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: POLICY_LIMITS.aliases });
  } catch (err) {
    throw new PolicyRefused(notYaml(text, err as Error));
  }
  checkSize(raw);
  return raw;
}
