/** `text` cut to at most `max` characters, an ellipsis marking the cut: what reaches Events, logs and `/status` stays small. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}
