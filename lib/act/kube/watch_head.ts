// The head of a watch event, read without parsing the rest: its type, and its object's name and
// resourceVersion. A Node is about 18 KB of JSON; when node-heal holds that version already (its
// own write, whose answer it took in), the event is passed over unparsed.

/** What {@link watchHead} reads of an event. */
export interface WatchHead {
  type: string;
  name: string;
  resourceVersion: string;
}

/** How far into an event its head is looked for (bytes). */
export const WATCH_HEAD_BYTES = 4096;

/** The longest key compared (longer ones are skipped as other keys). */
const MAX_KEY = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A JSON string in the bytes: where its text lies, and whether that text is plain ASCII. */
interface Str {
  from: number;
  to: number;
  next: number;
  plain: boolean;
}

/**
 * The head of the event in `line`, or undefined unless it is laid out as the API server writes
 * events (Go's encoder follows the structs; the embedded server does the same): `{"type":…,
 * "object":{…,"metadata":{…}}}` with only string fields before `metadata`, and `name` and
 * `resourceVersion` among the string fields that open `metadata`, within the first
 * {@link WATCH_HEAD_BYTES}. Anything else (a nested value first, an escape or a non-ASCII byte in
 * a value read, a key out of place) gives undefined, and the event is parsed whole. The server
 * writes each key once: a key seen twice before both are read gives undefined, and what follows
 * them is not read at all (a second `name` after both, which JSON.parse would take, or the rest of
 * a line cut short, is not seen).
 */
export function watchHead(line: Uint8Array): WatchHead | undefined {
  const end = Math.min(line.length, WATCH_HEAD_BYTES);
  const head: Partial<WatchHead> = {};
  let i = open(line, 0, end);
  if (i < 0) return undefined;
  // The event: string fields (its type) until its object.
  for (;;) {
    const key = member(line, i, end);
    if (!key) return undefined;
    if (key.name === "object") {
      if (head.type === undefined) return undefined;
      i = open(line, key.next, end);
      break;
    }
    const value = str(line, key.next, end);
    if (!value) return undefined;
    if (key.name === "type") {
      if (!value.plain || head.type !== undefined) return undefined;
      head.type = text(line, value);
    }
    i = after(line, value.next, end);
    if (i < 0) return undefined;
  }
  // The object: string fields (kind, apiVersion) until its metadata.
  for (;;) {
    if (i < 0) return undefined;
    const key = member(line, i, end);
    if (!key) return undefined;
    if (key.name === "metadata") {
      i = open(line, key.next, end);
      break;
    }
    const value = str(line, key.next, end);
    if (!value) return undefined;
    i = after(line, value.next, end);
  }
  // The metadata's string fields, until both are read.
  for (;;) {
    if (i < 0) return undefined;
    const key = member(line, i, end);
    if (!key) return undefined;
    const value = str(line, key.next, end);
    if (!value) return undefined;
    if (key.name === "name" || key.name === "resourceVersion") {
      if (!value.plain || head[key.name] !== undefined) return undefined;
      head[key.name] = text(line, value);
      if (head.name !== undefined && head.resourceVersion !== undefined) return head as WatchHead;
    }
    i = after(line, value.next, end);
  }
}

/** Past the `{` at `i` (after whitespace), or -1. */
function open(b: Uint8Array, i: number, end: number): number {
  i = space(b, i, end);
  return i < end && b[i] === 0x7b ? i + 1 : -1;
}

/** Past the `,` that follows a value, or -1 at the object's end or anything else. */
function after(b: Uint8Array, i: number, end: number): number {
  i = space(b, i, end);
  return i < end && b[i] === 0x2c ? i + 1 : -1;
}

/**
 * A key and its colon at `i`: the key (undefined where longer than {@link MAX_KEY}) and where its
 * value starts; undefined where the key is escaped (it might read as any other).
 */
function member(
  b: Uint8Array,
  i: number,
  end: number,
): { name: string | undefined; next: number } | undefined {
  const key = str(b, space(b, i, end), end);
  if (!key?.plain) return undefined;
  const colon = space(b, key.next, end);
  if (colon >= end || b[colon] !== 0x3a) return undefined;
  const name = key.to - key.from <= MAX_KEY ? text(b, key) : undefined;
  return { name, next: space(b, colon + 1, end) };
}

/** The JSON string at `i`, or undefined where there is none, or it does not end before `end`. */
function str(b: Uint8Array, i: number, end: number): Str | undefined {
  if (i >= end || b[i] !== QUOTE) return undefined;
  let plain = true;
  for (let j = i + 1; j < end; j++) {
    const c = b[j];
    if (c === QUOTE) return { from: i + 1, to: j, next: j + 1, plain };
    if (c === BACKSLASH) {
      plain = false;
      j++;
    } else if (c < 0x20 || c >= 0x80) plain = false;
  }
  return undefined;
}

function space(b: Uint8Array, i: number, end: number): number {
  while (i < end && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  return i;
}

/** The text of a plain (ASCII, unescaped) string. */
function text(b: Uint8Array, s: Str): string {
  return String.fromCharCode(...b.subarray(s.from, s.to));
}
