// A policy's YAML, parsed within bounds. Whoever edits the ConfigMap writes this text, so its size,
// its nesting and what its aliases expand to are bounded before and while it is parsed
// (base/yaml_bounds.ts says why).
import { parse as parseYaml } from "yaml";
import { yamlSizeRefusal, yamlTokensRefusal } from "../base/yaml_bounds.ts";
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

/** Throws {@link PolicyRefused} saying why, when `why` says the text is past the bounds. */
function refuse(why: string | undefined): void {
  if (why !== undefined) throw new PolicyRefused(why);
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
  refuse(yamlTokensRefusal(text, POLICY_LIMITS));
  let raw: unknown;
  try {
    // Warnings are not printed: the parser quotes the line, which may hold a secret.
    raw = parseYaml(text, { maxAliasCount: POLICY_LIMITS.aliases, logLevel: "error" });
  } catch (err) {
    throw new PolicyRefused(notYaml(text, err as Error));
  }
  refuse(yamlSizeRefusal(raw, POLICY_LIMITS));
  return raw;
}
