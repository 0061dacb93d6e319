// Cutting texts to a receiver's limits: Slack and PagerDuty refuse a field that is too long, so
// every free text (a node name, an alert summary) is cut before it is sent.

/** `text` cut to `max` characters with an ellipsis, never splitting a surrogate pair. */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}
