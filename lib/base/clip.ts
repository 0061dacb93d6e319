/**
 * `text` cut to at most `max` characters, an ellipsis marking the cut, never splitting a surrogate
 * pair: what reaches Events, logs, `/status` and notification receivers stays small (and Slack and
 * PagerDuty refuse a field that is too long).
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}
