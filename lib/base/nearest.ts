// The nearest of a few known words to one that is not known: a misspelled key or flag, answered
// with "did you mean …?". The word comes from whoever wrote it, so it is clipped before it costs.

/** Characters of the unknown word compared, at most. */
const WORD_MAX = 64;

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, before[j - 2] + 1);
      }
      row.push(d);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length];
}

/** A word as spelling compares it: lower case, without `_` and `-` (`drain_after`, `drainAfter`). */
function folded(word: string): string {
  return word.toLowerCase().replace(/[_-]/g, "");
}

/**
 * The known word nearest to `word`, if one is near enough to be what was meant: the same but for
 * case, `_` or `-`, or at most one edit away (two for words of six letters or more); else undefined.
 */
export function nearest(word: string, known: readonly string[]): string | undefined {
  const w = folded(word.slice(0, WORD_MAX));
  const most = w.length >= 6 ? 2 : 1;
  let best: { word: string; distance: number } | undefined;
  for (const k of known) {
    const f = folded(k);
    if (Math.abs(f.length - w.length) > most) continue;
    const distance = editDistance(w, f);
    if (distance <= most && (!best || distance < best.distance)) best = { word: k, distance };
  }
  return best?.word;
}
