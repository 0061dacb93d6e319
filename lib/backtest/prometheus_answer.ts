// An answer of Prometheus's query API read as its bytes arrive (json_tokens.ts), never held whole:
// the series are built as they stream in, samples outside the window asked for are dropped (and
// counted) as they come, and every bound (bytes, series, samples, labels) is checked as it grows,
// so a hostile or broken server ends the read with one line at a cost node-heal's heap can take.
import { clip } from "../base/clip.ts";
import { JsonTokens, NotJson, type TokenKind, TokenTooLong } from "./json_tokens.ts";

/** One series of an answer: its labels, and its samples as [time (ms), value]. */
export interface Series {
  labels: Record<string, string>;
  points: [number, number][];
}

/** The bounds of one answer. */
export interface AnswerLimits {
  /** Bytes read (the body as sent). */
  bytes: number;
  /** Series, empty ones included. */
  series: number;
  /** Samples kept (inside the window). */
  samples: number;
  /** Labels kept, all series together. */
  labels: number;
  /** Bytes of the labels kept (names and values), all series together. */
  labelBytes: number;
}

/** The default bounds: 64 MiB read, and what it keeps well under the binary's 192 MB heap. */
export const ANSWER_LIMITS: AnswerLimits = {
  bytes: 64 * 2 ** 20,
  series: 20_000,
  samples: 600_000,
  labels: 400_000,
  labelBytes: 16 * 2 ** 20,
};

/** How the reader names what is wrong: the caller's messages, which know the server and the query. */
export interface AnswerErrors {
  /** A field of the wrong shape: `wants` what it must be, `got` what it was (described). */
  bad(field: string, wants: string, got: string): Error;
  /** A `resultType` other than the one expected. */
  wrongType(type: string): Error;
  /** A bound passed (`what`: "more than 20,000 series"). */
  tooBig(what: string): Error;
}

/** Options of {@link readAnswer}. */
export interface ReadOptions {
  expected: "matrix" | "vector";
  limits: AnswerLimits;
  errors: AnswerErrors;
  /** A range answer's window (ms): samples outside it are dropped as they arrive. */
  window?: { from: number; to: number };
}

/** What an answer said: its status and error, and its series if it was a success. */
export interface Answer {
  /** The top level is not an object: nothing after its first token was read. */
  notApi?: boolean;
  status?: string;
  errorType?: string;
  error?: string;
  resultType?: string;
  /** `data.result` was read (an array). */
  result: boolean;
  /** The series: those of a range answer with no sample in the window are left out. */
  series: Series[];
  /** Samples outside the window, dropped. */
  dropped: number;
  /** The first bytes of the body, to quote in a message. */
  head: string;
}

/** The body is not JSON: `head`, its first bytes, to quote. */
export class NotJsonAnswer extends Error {
  constructor(readonly head: string, reason: string) {
    super(reason);
    this.name = "NotJsonAnswer";
  }
}

const HEAD_BYTES = 512;
/** The last time a sample may have (ms): 9999-12-31T23:59:59.999Z. */
const LAST_TIME = 253_402_300_799_999;
const MAX_DEPTH = 64;

type Walk = Generator<void, void, void>;

interface State {
  t: JsonTokens;
  o: ReadOptions;
  a: Answer;
  series: number;
  samples: number;
  labels: number;
  labelBytes: number;
}

/** Reads an answer as its bytes arrive, within `options.limits`; cancels the body when it stops early. */
export async function readAnswer(
  body: ReadableStream<Uint8Array> | null,
  options: ReadOptions,
): Promise<Answer> {
  const t = new JsonTokens();
  const a: Answer = { result: false, series: [], dropped: 0, head: "" };
  const s: State = { t, o: options, a, series: 0, samples: 0, labels: 0, labelBytes: 0 };
  const head = new Uint8Array(HEAD_BYTES);
  let headSize = 0, bytes = 0, finished = false;
  const walk = document(s);
  const reader = (body ?? new Response("").body!).getReader();
  try {
    let done = walk.next().done;
    while (true) {
      const read = await reader.read();
      if (read.done) {
        finished = true;
        t.end();
        if (!done && !walk.next().done) throw new NotJson("the document ends early");
        if (t.rest()) throw new NotJson("more after the document");
        break;
      }
      const chunk = read.value;
      bytes += chunk.byteLength;
      if (bytes > options.limits.bytes) {
        throw options.errors.tooBig(`more than ${mib(options.limits.bytes)} (--max-answer-bytes)`);
      }
      if (headSize < HEAD_BYTES) {
        const part = chunk.subarray(0, HEAD_BYTES - headSize);
        head.set(part, headSize);
        headSize += part.byteLength;
        a.head = new TextDecoder().decode(head.subarray(0, headSize));
      }
      t.push(chunk);
      if (!done) done = walk.next().done;
      else if (t.rest()) throw new NotJson("more after the document");
      if (done && a.notApi) break;
    }
  } catch (err) {
    if (err instanceof NotJson) throw new NotJsonAnswer(a.head, err.message);
    if (err instanceof TokenTooLong) throw options.errors.tooBig(err.message);
    throw err;
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  return a;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toLocaleString("en", { maximumFractionDigits: 1 })} MiB`;
}

function* document(s: State): Walk {
  const { t, a } = s;
  while (!t.next()) yield;
  if (t.kind() !== "{") {
    a.notApi = true;
    return;
  }
  yield* object(s, function* (key) {
    while (!t.next()) yield;
    if (key === "data" && t.kind() === "{") return yield* data(s);
    const text = t.kind() === "string" ? t.value as string : undefined;
    if (key === "status") a.status = text ?? (t.kind() === "literal" && !t.value ? "" : "?");
    else if (key === "errorType" && text !== undefined) a.errorType = text;
    else if (key === "error" && text !== undefined) a.error = text;
    yield* skip(s);
  });
}

/** Reads the members of an object whose `{` was just read: `member(key)` reads each value. */
function* object(s: State, member: (key: string) => Walk): Walk {
  const { t } = s;
  while (!t.next()) yield;
  if (t.kind() === "}") return;
  while (true) {
    if (t.kind() !== "string") throw new NotJson("an object key that is not a string");
    const key = t.value as string;
    while (!t.next()) yield;
    if (t.kind() !== ":") throw new NotJson("an object key without a colon");
    yield* member(key);
    while (!t.next()) yield;
    if (t.kind() === "}") return;
    if (t.kind() !== ",") throw new NotJson("object members without a comma");
    while (!t.next()) yield;
  }
}

/** Skips the value whose first token was just read, nested at most {@link MAX_DEPTH} deep. */
function* skip(s: State): Walk {
  const { t } = s;
  if (t.kind() !== "{" && t.kind() !== "[") {
    if (isStructural(t.kind())) throw new NotJson(`a "${t.kind()}" where a value belongs`);
    return;
  }
  for (let depth = 1; depth > 0;) {
    while (!t.next()) yield;
    if (t.kind() === "{" || t.kind() === "[") depth++;
    else if (t.kind() === "}" || t.kind() === "]") depth--;
    if (depth > MAX_DEPTH) throw s.o.errors.tooBig(`values nested more than ${MAX_DEPTH} deep`);
  }
}

function isStructural(kind: TokenKind): boolean {
  return kind !== "string" && kind !== "number" && kind !== "literal";
}

/** The token just read, as a message names what it got. */
function described(t: JsonTokens): string {
  if (t.kind() === "{") return "an object";
  if (t.kind() === "[") return "an array";
  if (t.kind() === "string") return quoted(t.value as string);
  return isStructural(t.kind()) ? `a "${t.kind()}"` : String(t.value);
}

function quoted(text: string): string {
  return JSON.stringify(clip(text.replace(/\s+/g, " ").trim(), 200));
}

function* data(s: State): Walk {
  const { t, o, a } = s;
  yield* object(s, function* (key) {
    while (!t.next()) yield;
    if (key === "resultType" && t.kind() === "string") {
      a.resultType = t.value as string;
      if (a.resultType !== o.expected) throw o.errors.wrongType(a.resultType);
    } else if (key === "result") {
      if (t.kind() !== "[") throw o.errors.bad("data.result", "an array", described(t));
      a.result = true;
      yield* result(s);
    } else yield* skip(s);
  });
}

function* result(s: State): Walk {
  const { t, o, a } = s;
  while (!t.next()) yield;
  if (t.kind() === "]") return;
  for (let i = 0;; i++) {
    if (++s.series > o.limits.series) {
      throw o.errors.tooBig(`more than ${o.limits.series.toLocaleString("en")} series`);
    }
    const at = `data.result[${i}]`;
    if (t.kind() !== "{") throw o.errors.bad(at, "an object", described(t));
    const series: Series = { labels: {}, points: [] };
    yield* item(s, series, at);
    if (o.expected === "vector" || series.points.length > 0) a.series.push(series);
    while (!t.next()) yield;
    if (t.kind() === "]") return;
    if (t.kind() !== ",") throw new NotJson("array items without a comma");
    while (!t.next()) yield;
  }
}

function* item(s: State, series: Series, at: string): Walk {
  const { t, o } = s;
  const field = o.expected === "matrix" ? `${at}.values` : `${at}.value`;
  let present = false;
  const labels: Record<string, string> = Object.create(null);
  yield* object(s, function* (key) {
    while (!t.next()) yield;
    if (key === "metric") {
      if (t.kind() === "literal" && t.value === null) return;
      if (t.kind() !== "{") throw o.errors.bad(`${at}.metric`, "an object", described(t));
      yield* object(s, function* (name) {
        while (!t.next()) yield;
        if (t.kind() !== "string") {
          throw o.errors.bad(`${at}.metric.${name}`, "a string", described(t));
        }
        keepLabel(s, name, t.value as string);
        labels[name] = t.value as string;
      });
    } else if (key === (o.expected === "matrix" ? "values" : "value")) {
      present = true;
      if (o.expected === "vector") return yield* point(s, series, field);
      if (t.kind() !== "[") throw o.errors.bad(field, "an array", described(t));
      while (!t.next()) yield;
      if (t.kind() === "]") return;
      for (let j = 0;; j++) {
        yield* point(s, series, `${field}[${j}]`);
        while (!t.next()) yield;
        if (t.kind() === "]") return;
        if (t.kind() !== ",") throw new NotJson("array items without a comma");
        while (!t.next()) yield;
      }
    } else yield* skip(s);
  });
  if (!present) {
    throw o.errors.bad(field, o.expected === "matrix" ? "an array" : '[time, "value"]', "nothing");
  }
  series.labels = { ...labels };
}

function keepLabel(s: State, name: string, value: string): void {
  const { limits, errors } = s.o;
  if (++s.labels > limits.labels) {
    throw errors.tooBig(`more than ${limits.labels.toLocaleString("en")} labels`);
  }
  s.labelBytes += name.length + value.length;
  if (s.labelBytes > limits.labelBytes) {
    throw errors.tooBig(`labels of more than ${mib(limits.labelBytes)}`);
  }
}

/** One sample `[time, "value"]`, its `[` just read; kept when inside the window, else counted. */
function* point(s: State, series: Series, f: string): Walk {
  const { t, o, a } = s;
  const wants = '[time, "value"]';
  if (t.kind() !== "[") throw o.errors.bad(f, wants, described(t));
  while (!t.next()) yield;
  const seconds = t.value as number;
  if (t.kind() !== "number" || !Number.isFinite(seconds)) throw o.errors.bad(f, wants, "an array");
  while (!t.next()) yield;
  if (t.kind() !== ",") throw o.errors.bad(f, wants, "an array");
  while (!t.next()) yield;
  const text = t.value as string;
  if (t.kind() !== "string") throw o.errors.bad(f, wants, "an array");
  while (!t.next()) yield;
  if (t.kind() !== "]") throw o.errors.bad(f, wants, "an array");
  const value = sampleValue(text);
  if (value === undefined) {
    throw o.errors.bad(`${f}[1]`, 'a number such as "1.5", "NaN" or "+Inf"', quoted(text));
  }
  const ms = Math.round(seconds * 1000);
  if (!(ms >= 0 && ms <= LAST_TIME)) {
    throw o.errors.bad(`${f}[0]`, "a time from 1970 to 9999 in seconds", String(seconds));
  }
  if (o.window && !(ms >= o.window.from && ms <= o.window.to)) {
    a.dropped++;
    return;
  }
  if (++s.samples > o.limits.samples) {
    throw o.errors.tooBig(`more than ${o.limits.samples.toLocaleString("en")} samples`);
  }
  series.points.push([ms, value]);
}

/** A sample value as Prometheus writes it (Go's float formatting, `NaN`, `+Inf`, `-Inf`). */
function sampleValue(text: string): number | undefined {
  if (text === "NaN") return NaN;
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  // Prometheus writes a float without an exponent ('f'): at most 309 digits before the point and
  // 1,074 after. Each digit is matched one way only (\d+\.?\d* was quadratic: 5.7 s on 65,000).
  if (text.length > 1100) return undefined;
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : undefined;
}
