// Alertmanager's matcher syntax, as policy rules use it. Regexes are RE2, as Alertmanager's are
// (Go's regexp): matched in time linear in the value, so no pattern and no alert can freeze node-heal.
import { RE2JS } from "re2js";
import { clip } from "../base/clip.ts";

/** The longest regular expression a matcher may carry, in characters (docs/limits.md). */
export const MAX_PATTERN_LENGTH = 16_384;

/** How much of a matcher's text an error quotes. */
const QUOTED = 200;

/** One Alertmanager-style matcher: `name="value"`, `name!="value"`, `name=~"re"`, `name!~"re"`. */
export interface Matcher {
  name: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
  /** For `=~` and `!~`: the value as an RE2 expression, anchored at both ends as Alertmanager anchors it. */
  regex?: Pattern;
}

/** A compiled, anchored expression. */
export interface Pattern {
  /** Whether the whole of `value` matches; linear in its length. */
  test(value: string): boolean;
}

const MATCHER =
  /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s,{}]*))\s*$/;

/** Alertmanager's unescaping of a quoted value: `\\`, `\"` and `\n`; other escapes stay as written. */
function unescape(value: string): string {
  return value.replace(/\\(["\\n])/g, (_, c) => c === "n" ? "\n" : c);
}

/** Splits `a="x", b=~"y"` (optionally in braces) into matchers, on commas outside quotes. */
export function splitMatchers(text: string): string[] {
  let t = text.trim();
  if (t.startsWith("{") && t.endsWith("}")) t = t.slice(1, -1);
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (ch === "\\" && quoted) {
      current += ch + (t[i + 1] ?? "");
      i++;
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === "," && !quoted) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

/** Parses one matcher in Alertmanager's syntax; throws a message naming the text. */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER.exec(text);
  if (!m) throw new Error(`must be a matcher such as heal="true", got "${clip(text, QUOTED)}"`);
  const value = m[3] !== undefined ? unescape(m[3]) : m[4];
  const op = m[2] as Matcher["op"];
  const matcher: Matcher = { name: m[1], op, value };
  if (op === "=~" || op === "!~") matcher.regex = compile(value);
  return matcher;
}

/**
 * Compiles a matcher's expression as Alertmanager does, `^(?:value)$` in RE2 syntax: no lookaround,
 * no backreferences, repeat counts up to 1000; `.` does not match a newline.
 */
export function compile(value: string): Pattern {
  if (value.length > MAX_PATTERN_LENGTH) {
    throw new Error(
      `has a regular expression of ${value.length} characters; the limit is ${MAX_PATTERN_LENGTH}`,
    );
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(`^(?:${value})$`);
  } catch (err) {
    // RE2's own words say what is wrong ("invalid or unsupported Perl syntax: `(?=`").
    const why = String((err as Error)?.message ?? err).replace(/^error parsing regexp: /, "");
    throw new Error(
      `has a regular expression Alertmanager would refuse (RE2: ${clip(why, QUOTED)}): "${
        clip(value, QUOTED)
      }"`,
    );
  }
  return { test: (v) => re.matches(v) };
}

/** Whether a label set satisfies a matcher (a missing label reads as empty, as in Alertmanager). */
export function matches(m: Matcher, labels: Record<string, string>): boolean {
  const v = labels[m.name] ?? "";
  switch (m.op) {
    case "=":
      return v === m.value;
    case "!=":
      return v !== m.value;
    case "=~":
      return m.regex!.test(v);
    case "!~":
      return !m.regex!.test(v);
  }
}
