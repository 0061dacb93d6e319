/** FNV-1a over the UTF-16 code units of `text`, 32 bits: a short, stable, non-cryptographic hash. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
