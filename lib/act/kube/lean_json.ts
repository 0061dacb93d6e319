// Parsing a Node without the parts node-heal never reads. Of a real Node's JSON (18 KB in the
// embedded cluster), `status.images` is over half and `metadata.managedFields` a fifth: each PATCH
// answer, list page and watch event parsed whole made objects of them only to drop them
// (convert.ts `toNode`). Here their arrays are emptied in the text, found by native string search,
// before JSON.parse.

/** The members whose arrays node-heal never reads. */
const UNREAD = ['"managedFields":[', '"images":['];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * `JSON.parse(text)`, less the arrays of members named `managedFields` and `images`, at any depth
 * (a Node has them at `metadata.managedFields` and `status.images`): each is parsed as `[]`. Only
 * a member as a compact encoder writes it (`{"images":[` or `,"images":[`, as the API server's
 * and JSON.stringify do) is emptied; any other layout is parsed as it is. Strings within an
 * emptied array are skipped as JSON reads them (escaped quotes, backslashes); what the array
 * holds is not otherwise checked, as it is not read.
 */
export function parseLean(text: string): unknown {
  const cuts = unreadArrays(text);
  if (cuts.length === 0) return JSON.parse(text);
  let lean = "";
  let from = 0;
  for (const [start, end] of cuts) {
    lean += text.slice(from, start + 1) + "]";
    from = end;
  }
  return JSON.parse(lean + text.slice(from));
}

/** Where the unread arrays lie: each `[` and just past its `]`; none where the text is not JSON. */
function unreadArrays(text: string): [number, number][] {
  const cuts: [number, number][] = [];
  // Where each member name occurs next, at or after `at` (-1: nowhere): each is looked for again
  // only once passed, so the text is searched through once per name, whatever it holds.
  const next = UNREAD.map((k) => text.indexOf(k));
  let at = 0;
  for (;;) {
    let k = -1;
    for (let i = 0; i < UNREAD.length; i++) {
      if (next[i] >= 0 && next[i] < at) next[i] = text.indexOf(UNREAD[i], at);
      if (next[i] >= 0 && (k < 0 || next[i] < next[k])) k = i;
    }
    if (k < 0) return cuts;
    const found = next[k];
    const open = found + UNREAD[k].length - 1;
    const before = text.charCodeAt(found - 1);
    // A quote after `{` or `,` is not escaped, so it opens or closes a string; closing one, the
    // text is not JSON (a name follows it). So in JSON it opens a key: the member is one. After
    // anything else (a backslash: an escaped quote within a string) it is not.
    if (before === 0x7b || before === 0x2c) {
      const end = arrayEnd(text, open);
      if (end < 0) return [];
      cuts.push([open, end]);
      at = end;
    } else at = found + 1;
  }
}

/** Whether the quote at `q` is escaped (an odd run of backslashes before it). */
function escaped(text: string, q: number): boolean {
  let n = 0;
  while (q - 1 - n >= 0 && text.charCodeAt(q - 1 - n) === BACKSLASH) n++;
  return n % 2 === 1;
}

/** Just past the `]` that closes the array opened at `open`, strings skipped; -1 if none does. */
function arrayEnd(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let q = text.indexOf('"', i + 1);
      while (q >= 0 && escaped(text, q)) q = text.indexOf('"', q + 1);
      if (q < 0) return -1;
      i = q;
    } else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0) return c === 0x5d ? i + 1 : -1;
    }
  }
  return -1;
}
