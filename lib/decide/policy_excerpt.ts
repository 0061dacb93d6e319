// The line of a policy where its YAML breaks, as a refusal quotes it: a caret at the column, a few
// characters either side, never the whole line (whoever edits the ConfigMap wrote it), and nothing
// of a line that may hold a secret (a refusal is logged, printed and put in an Event).
import { isSecretKey } from "./policy_refusal.ts";

/** Characters of a line an excerpt shows either side of its caret, at most. */
export const EXCERPT_SIDE = 40;

/** Whether a line may hold a secret: a secret's key anywhere in it, a URL, a token-like run. */
function maySecret(line: string): boolean {
  return isSecretKey(line) || line.includes("://") || /[A-Za-z0-9+/=_.-]{24,}/.test(line);
}

/**
 * Line `line` of `text` (from 1) quoted, with a `^` before column `col` (from 1), at most
 * {@link EXCERPT_SIDE} characters either side of it; or why it is not shown.
 */
export function excerpt(text: string, line: number, col: number): string {
  const whole = (text.split("\n")[line - 1] ?? "").replace(/\r$/, "");
  if (maySecret(whole)) return "(the line is not shown: it may hold a secret)";
  const at = Math.min(Math.max(col - 1, 0), whole.length);
  const start = Math.max(0, at - EXCERPT_SIDE);
  const end = Math.min(whole.length, at + EXCERPT_SIDE);
  const before = `${start > 0 ? "…" : ""}${whole.slice(start, at)}`;
  const after = `${whole.slice(at, end)}${end < whole.length ? "…" : ""}`;
  return JSON.stringify(`${before}^${after}`);
}
