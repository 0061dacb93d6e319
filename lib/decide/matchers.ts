// Alertmanager's matcher syntax, as policy rules use it.

/** One Alertmanager-style matcher: `name="value"`, `name!="value"`, `name=~"re"`, `name!~"re"`. */
export interface Matcher {
  name: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
  regex?: RegExp;
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
  if (!m) throw new Error(`must be a matcher such as heal="true", got "${text}"`);
  const value = m[3] !== undefined ? unescape(m[3]) : m[4];
  const op = m[2] as Matcher["op"];
  const matcher: Matcher = { name: m[1], op, value };
  if (op === "=~" || op === "!~") {
    // Alertmanager's regexes are RE2: no lookaround and no backreferences.
    if (/\(\?[=!<]|\\[1-9]/.test(value)) {
      throw new Error(
        `has a regular expression Alertmanager would refuse (RE2 has no lookaround or backreferences): "${value}"`,
      );
    }
    try {
      matcher.regex = new RegExp(`^(?:${value})$`);
    } catch {
      throw new Error(`has an invalid regular expression "${value}"`);
    }
  }
  return matcher;
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
