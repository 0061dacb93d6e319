// Text for the backtest's HTML page: escaping (every string of a report may come from alert
// labels, so it is hostile), times in UTC (the page has no script to localize them) and waits as
// people read them.

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

const UNITS: [string, number][] = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
];

/** A wait as people read it, its two largest units: `1h 5m`, `2d 3h`, `45s`, `0s`. */
export function formatWait(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return "0s";
  if (ms < 1000) return "<1s";
  let rest = Math.floor(ms / 1000) * 1000;
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    if (parts.length === 2) break;
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
    else if (parts.length > 0) break;
  }
  return parts.join(" ");
}
