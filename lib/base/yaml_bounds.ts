// Bounds on YAML written by someone else (a policy, a kubeconfig), checked before and after it is
// parsed: the YAML parser runs out of a 192 MB heap on 200,000 nested `[` (400 KB), and 99 aliases
// of one map make an 899 KB file a 90 MB document for whatever walks it.
import { CST, Lexer } from "yaml";

/** How large, deep and wide a YAML text may be. */
export interface YamlLimits {
  /** Characters of the text. */
  bytes: number;
  /** Collections inside collections. */
  depth: number;
  /** Columns of indentation on a line (block nesting is bounded by it). */
  indent: number;
  /** Values in the parsed document, each alias counted as all it repeats. */
  values: number;
}

const OPEN = new Set(["flow-seq-start", "flow-map-start"]);
const CLOSE = new Set(["flow-seq-end", "flow-map-end"]);
const BLOCK = new Set(["seq-item-ind", "explicit-key-ind", "map-value-ind"]);

/**
 * Why `text` would cost the parser more than `limits`, by its tokens alone (too long, flow
 * collections nested too deep, a line indented too far or with too many block indicators), in a
 * few words that quote none of it; undefined when it is within them.
 */
export function yamlTokensRefusal(text: string, limits: YamlLimits): string | undefined {
  const { bytes, depth, indent } = limits;
  if (text.length > bytes) return `it is larger than ${bytes} bytes (${text.length} characters)`;
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
      return `line ${line} is indented more than ${indent} columns`;
    }
    atLineStart = false;
    if (type && OPEN.has(type) && ++flow > depth) {
      return `it nests collections deeper than ${depth} levels (line ${line})`;
    }
    if (type && CLOSE.has(type)) flow = Math.max(0, flow - 1);
    if (flow === 0 && type && BLOCK.has(type) && ++indicators > depth) {
      return `it nests collections deeper than ${depth} levels (line ${line})`;
    }
  }
  return undefined;
}

/**
 * Why a parsed document is past `limits` (more values than `values`, deeper than `depth`, an
 * alias counted as everything it repeats); undefined when it is within them. The walk stops at
 * the bound, so it costs at most the bound.
 */
export function yamlSizeRefusal(root: unknown, limits: YamlLimits): string | undefined {
  const { values, depth } = limits;
  const stack: [unknown, number][] = [[root, 0]];
  let count = 0;
  while (stack.length > 0) {
    const [value, level] = stack.pop()!;
    if (++count > values) {
      return `it holds more than ${values} values (an alias counts as all it repeats)`;
    }
    if (value === null || typeof value !== "object") continue;
    if (level >= depth) return `it nests collections deeper than ${depth} levels`;
    const children = Array.isArray(value) ? value : Object.values(value);
    for (const child of children) stack.push([child, level + 1]);
  }
  return undefined;
}
