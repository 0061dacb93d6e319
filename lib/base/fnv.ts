/** FNV-1a's offset basis: the hash of the empty text. */
const FNV_OFFSET = 0x811c9dc5;

/**
 * FNV-1a over the UTF-16 code units of `text`, 32 bits: a short, stable, non-cryptographic hash.
 * Given `seed`, the hash of a text before it, it goes on from there: `fnv1a32(b, fnv1a32(a))` is
 * `fnv1a32(a + b)`, without the joined text.
 */
export function fnv1a32(text: string, seed: number = FNV_OFFSET): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
