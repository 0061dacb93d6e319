// Reading an answer from outside the process within a byte bound, as it arrives: a receiver, a
// cloud API, Prometheus or the API server that answers with more than node-heal can hold must cost
// at most the bound, never the whole answer (`res.text()` holds it all before anyone can look).

/** An answer that went past its bound: reading stopped there and the rest was cancelled. */
export class AnswerTooLarge extends Error {
  constructor(readonly what: string, readonly limit: number, readonly declared?: number) {
    super(
      `${what} is larger than node-heal reads (${
        declared !== undefined ? `${declared} bytes declared, ` : ""
      }the limit is ${limit} bytes); it was not read`,
    );
    this.name = "AnswerTooLarge";
  }
}

/** What {@link readPrefix} read: at most its limit, and whether there was more. */
export interface Prefix {
  bytes: Uint8Array;
  /** There was more than the limit: the rest was cancelled unread. */
  cut: boolean;
}

/**
 * Reads at most `limit` bytes of a body, then cancels the rest: for an answer node-heal needs only
 * the start of (a receiver's reply, quoted in a log line). A missing body is empty.
 */
export async function readPrefix(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<Prefix> {
  if (!body) return { bytes: new Uint8Array(0), cut: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let cut = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.byteLength > limit) {
        chunks.push(value.subarray(0, limit - size));
        size = limit;
        cut = true;
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    if (cut) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  return { bytes: join(chunks, size), cut };
}

/**
 * Reads a file within `limit` bytes: its stat first (`check` may refuse what it says, say a file
 * that is not a regular one), then nothing when its size is past the limit, else at most the
 * limit and one byte more (a file that grows, or a device whose size says 0). `cut` says it was
 * larger; `size` is what its stat said.
 */
export async function readFileWithin(
  path: string,
  limit: number,
  check?: (stat: Deno.FileInfo) => void,
): Promise<Prefix & { size: number }> {
  const file = await Deno.open(path);
  let handed = false;
  try {
    const stat = await file.stat();
    check?.(stat);
    if (stat.size > limit) return { bytes: new Uint8Array(0), cut: true, size: stat.size };
    handed = true; // readPrefix reads it to its end or cancels it: either closes the file.
    return { ...await readPrefix(file.readable, limit), size: stat.size };
  } finally {
    if (!handed) file.close();
  }
}

/**
 * Reads a whole answer of at most `limit` bytes as text, or throws {@link AnswerTooLarge} without
 * reading past the limit: for an answer node-heal must have whole (a JSON document). A declared
 * `content-length` over the limit is refused before a byte is read. `what` may be given as a
 * function, to make its text only for the error.
 */
export function readCapped(
  res: Response,
  limit: number,
  what: string | (() => string),
): Promise<string> {
  const declared = res.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) return refuse(res, limit, what, declared);
  // A length declared within the bound is all the client reads (it stops there): the runtime's
  // own read, several times cheaper than chunks through JavaScript, holds no more than the bound.
  if (declared !== null && /^\d+$/.test(declared)) return res.text();
  return readStreamed(res, limit, what);
}

/** Cancels an answer whose declared length is past `limit`, and throws AnswerTooLarge. */
async function refuse(
  res: Response,
  limit: number,
  what: string | (() => string),
  declared: string,
): Promise<never> {
  await res.body?.cancel().catch(() => {});
  throw new AnswerTooLarge(nameOf(what), limit, Number(declared));
}

/** An answer of no declared length, read in chunks within `limit`. */
async function readStreamed(
  res: Response,
  limit: number,
  what: string | (() => string),
): Promise<string> {
  const { bytes, cut } = await readPrefix(res.body, limit);
  if (cut) throw new AnswerTooLarge(nameOf(what), limit);
  return new TextDecoder().decode(bytes);
}

function nameOf(what: string | (() => string)): string {
  return typeof what === "string" ? what : what();
}

function join(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * `body` passed on as it is read, until more than `limit` bytes have come: then the stream errors
 * with {@link AnswerTooLarge} and the rest is cancelled unread. For an answer a library reads
 * whole (the AWS and Google SDKs), where node-heal can only hand it a bounded stream.
 */
export function capStream(
  body: ReadableStream<Uint8Array>,
  limit: number,
  what: string,
): ReadableStream<Uint8Array> {
  let size = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        if (size > limit) controller.error(new AnswerTooLarge(what, limit));
        else controller.enqueue(chunk);
      },
    }),
  );
}

/**
 * A `fetch` whose answers' bodies are capped at `limit` bytes (see {@link capStream}), for a
 * library that takes a fetch to send with.
 */
export function cappedFetch(limit: number, what: string): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!res.body) return res;
    return new Response(capStream(res.body, limit, what), {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
}

/**
 * Why a file could not be read, for a message that already names it: a path outside the image's
 * `--allow-read` list says so and where the list is, instead of Deno's advice to run again with a
 * flag (a binary takes none); any other error its kind or message.
 */
export function whyUnreadable(err: unknown): string {
  if (err instanceof Deno.errors.NotCapable) {
    return "node-heal's permissions do not reach it (the image reads only under the paths " +
      'docs/security.md lists in "Permissions"; mount it there)';
  }
  return err instanceof Error ? err.message : String(err);
}
