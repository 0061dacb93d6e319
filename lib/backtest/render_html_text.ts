// Text for the backtest's HTML page: escaping (every string of a report may come from alert
// labels, so it is hostile) and times in UTC (the page has no script to localize them).

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** `value` as text, safe both between tags and inside a quoted attribute. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** `1 node`, `7 nodes`: a count and its noun, escaped. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return escapeHtml(`${count} ${count === 1 ? one : many}`);
}

/** A class name from free text (an outcome, a gate): lower-case letters, digits and dashes. */
export function safeClass(text: string): string {
  return String(text).toLowerCase().replace(/[^a-z0-9-]/g, "");
}

/** Options of {@linkcode formatUtc}. */
export interface UtcOptions {
  /** Show the seconds (`14:05:09`); by default the minute. */
  seconds?: boolean;
  /** Leave out the date (`14:05`). */
  timeOnly?: boolean;
}

/** `2026-03-02 14:05` in UTC; the text as given when it is not a date. */
export function formatUtc(iso: string, options: UtcOptions = {}): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return String(iso);
  const s = new Date(t).toISOString();
  const time = s.slice(11, options.seconds ? 19 : 16);
  return options.timeOnly ? time : `${s.slice(0, 10)} ${time}`;
}

/** A `<time>` element for `iso`, its text {@linkcode formatUtc}'s, escaped. */
export function timeTag(iso: string, options: UtcOptions = {}): string {
  const t = Date.parse(iso);
  const text = escapeHtml(formatUtc(iso, options));
  if (!Number.isFinite(t)) return `<span>${text}</span>`;
  return `<time datetime="${new Date(t).toISOString()}">${text}</time>`;
}

/** A table of already-escaped cells; `numeric` lists the columns aligned right. */
export function table(
  head: string[],
  rows: string[][],
  options: { cls?: string; numeric?: number[] } = {},
): string {
  const c = (i: number) => options.numeric?.includes(i) ? ' class="num"' : "";
  return `<div class="scroll"><table${options.cls ? ` class="${options.cls}"` : ""}><thead><tr>${
    head.map((h, i) => `<th${c(i)}>${escapeHtml(h)}</th>`).join("")
  }</tr></thead><tbody>${
    rows.map((r) => `<tr>${r.map((v, i) => `<td${c(i)}>${v}</td>`).join("")}</tr>`).join("")
  }</tbody></table></div>`;
}
