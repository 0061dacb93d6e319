import { statusError } from "./status_error.ts";
import { watchHead } from "./watch_head.ts";
import { parseLean } from "./lean_json.ts";

/** One event of a watch as the API server sends it: ADDED, MODIFIED, DELETED, BOOKMARK, ERROR. */
export interface WatchEvent {
  type: string;
  object: Record<string, unknown>;
}

/**
 * How long one watch request may take, and how much one event may hold. A request that outlives
 * a bound is aborted and fails: no answer, no byte, or no end in time is a connection that died
 * without a word (a dropped TCP connection, a proxy that stopped forwarding), and the index it
 * feeds is stale.
 */
export interface WatchBounds {
  /** From sending the request to its answer's status and headers (ms). */
  answerMs: number;
  /** The longest time without a byte of the body (ms). */
  idleMs: number;
  /** From sending the request to the end of its body (ms): the server's timeoutSeconds, and a margin. */
  deadlineMs: number;
  /** The longest event line (bytes): a longer one fails the watch instead of filling memory. */
  maxEventBytes: number;
}

/** What {@link readWatch} tells as the watch goes. */
export interface WatchReader {
  /** The server answered 200: the events follow. */
  opened(): void;
  /** One event, parsed, as it arrives. */
  event(event: WatchEvent): void;
  /**
   * Whether the object `name` at `resourceVersion` is held already: an ADDED or MODIFIED event of
   * it is then told as its head alone (kind of object, `metadata.name` and `resourceVersion`),
   * unparsed (`watch_head.ts`).
   */
  known?(name: string, resourceVersion: string): boolean;
}

/**
 * Makes one watch request with `open` and reads its answer, newline-delimited JSON events, each
 * told as it arrives and no line held longer than `maxEventBytes`. Resolves when the server ends
 * the stream; rejects when the answer is not 200 (an error carrying `code` and `body`), the
 * connection fails, a line is too long or not an event, a bound of {@link WatchBounds} passes, or
 * `signal` aborts (with its reason). Every wait races the bounds itself, so a transport that
 * never tells of its own abort cannot hold it; the request is aborted however it ends.
 */
export async function readWatch(
  open: (signal: AbortSignal) => Promise<Response>,
  reader: WatchReader,
  options: WatchBounds & { signal: AbortSignal },
): Promise<void> {
  const request = new AbortController();
  const stop = () => request.abort(options.signal.reason);
  if (options.signal.aborted) stop();
  options.signal.addEventListener("abort", stop, { once: true });
  // Each wait is raced against the abort with a listener of its own, removed once it settles:
  // racing every read against one promise that settles only at the end would keep each read's
  // chunk (a reaction per race) until the watch ends, all it streamed for minutes.
  const within = <T>(p: Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const abort = () => reject(request.signal.reason);
      if (request.signal.aborted) return abort();
      request.signal.addEventListener("abort", abort, { once: true });
      // Never rejects: `p`'s rejection is handed to `reject`, and the cleanup cannot throw.
      void p.then(resolve, reject).finally(() =>
        request.signal.removeEventListener("abort", abort)
      );
    });
  const fail = (message: string) => () =>
    request.abort(Object.assign(new Error(message), { name: "TimeoutError" }));
  const deadline = setTimeout(
    fail(`the watch had not ended ${options.deadlineMs} ms after it was sent`),
    options.deadlineMs,
  );
  const idle = setTimeout(
    fail(`the API server did not answer the watch within ${options.answerMs} ms`),
    options.answerMs,
  );
  // Once it answers, the time of its last byte, looked at a few times within the idle bound: a
  // timer made again for every chunk cost more than reading the chunk.
  let lastByte = 0;
  let silence: ReturnType<typeof setInterval> | undefined;
  const quiet = () => {
    lastByte = performance.now();
    if (silence !== undefined) return;
    clearTimeout(idle);
    const bound = options.idleMs;
    const late = fail(`the watch sent nothing for ${bound} ms`);
    silence = setInterval(() => {
      if (performance.now() - lastByte >= bound) late();
    }, Math.max(5, Math.min(1000, bound / 10)));
  };
  let body: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    const response = await within(open(request.signal));
    if (response.status !== 200) {
      throw statusError(response.status, await within(textUpTo(response, options.maxEventBytes)));
    }
    reader.opened();
    quiet();
    body = response.body?.getReader();
    const lines = new Lines(options.maxEventBytes);
    while (body) {
      const { done, value } = await within(body.read());
      if (done) break;
      quiet();
      for (const line of lines.push(value)) reader.event(eventOf(line, reader));
    }
    const last = lines.rest();
    if (last) reader.event(eventOf(last, reader));
  } finally {
    clearTimeout(deadline);
    clearTimeout(idle);
    clearInterval(silence);
    options.signal.removeEventListener("abort", stop);
    // Ended or not, the request lets its connection go; not awaited, as a transport that does
    // not tell of its abort may never settle the cancel either.
    request.abort();
    body?.cancel().catch(() => {});
  }
}

const decoder = new TextDecoder();

/** The event in `line`: its head alone when the reader holds its object's version already. */
function eventOf(line: Uint8Array, reader: WatchReader): WatchEvent {
  const head = reader.known && watchHead(line);
  if (
    head && (head.type === "ADDED" || head.type === "MODIFIED") &&
    reader.known!(head.name, head.resourceVersion)
  ) {
    const { type, name, resourceVersion } = head;
    return { type, object: { metadata: { name, resourceVersion } } };
  }
  return parseEvent(line);
}

function parseEvent(line: Uint8Array): WatchEvent {
  let event: unknown;
  try {
    event = parseLean(decoder.decode(line));
  } catch (err) {
    throw new Error(`a watch event is not JSON: ${(err as Error).message}`);
  }
  const { type, object } = (event ?? {}) as { type?: unknown; object?: unknown };
  if (typeof type !== "string" || object === null || typeof object !== "object") {
    throw new Error("a watch event has no type or no object");
  }
  return { type, object: object as Record<string, unknown> };
}

/**
 * Splits a body into its lines as chunks arrive, holding no more than `max` bytes of a line not
 * yet ended: a longer line throws as soon as it is known to be too long, not once it has all come.
 * Empty lines are skipped.
 */
class Lines {
  #max: number;
  #parts: Uint8Array[] = [];
  #held = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** The lines `chunk` ends. */
  push(chunk: Uint8Array): Uint8Array[] {
    const lines: Uint8Array[] = [];
    let start = 0;
    for (let end = chunk.indexOf(10); end >= 0; end = chunk.indexOf(10, start)) {
      const line = this.#take(chunk.subarray(start, end));
      if (line.length > 0) lines.push(line);
      start = end + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.slice(start);
      this.#hold(rest.length);
      this.#parts.push(rest);
    }
    return lines;
  }

  /** The last line, if the body ended without its newline. */
  rest(): Uint8Array | undefined {
    const line = this.#take(new Uint8Array(0));
    return line.length > 0 ? line : undefined;
  }

  #hold(bytes: number): void {
    this.#held += bytes;
    if (this.#held > this.#max) {
      throw new Error(`a watch event is longer than ${this.#max} bytes`);
    }
  }

  /** The held parts and `end`, as one line; nothing is held after. */
  #take(end: Uint8Array): Uint8Array {
    if (this.#parts.length === 0) {
      this.#hold(end.length);
      this.#held = 0;
      return end;
    }
    this.#hold(end.length);
    const line = new Uint8Array(this.#held);
    let at = 0;
    for (const part of [...this.#parts, end]) {
      line.set(part, at);
      at += part.length;
    }
    this.#parts = [];
    this.#held = 0;
    return line;
  }
}

/** The body as text, at most `max` bytes of it (an error's Status); the rest is not read. */
async function textUpTo(response: Response, max: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return decoder.decode(bytes.subarray(0, max));
}
