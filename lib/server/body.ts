import { HttpError } from "./http_error.ts";

/** Options of {@link readBody}. */
export interface ReadBodyOptions {
  /** Largest accepted body, in bytes: more is refused (413) as soon as it arrives. */
  limit: number;
  /** Aborted when the request's time is up: reading stops and the answer is 408. */
  signal: AbortSignal;
}

/**
 * Reads a chunked body may take at most. Each read of a request body costs the runtime some
 * kilobytes until the next garbage collection, however small the chunk, so a body of 20,000
 * one-byte chunks would cost over 100 MB; Alertmanager sends its body whole, with a length.
 */
export const MAX_BODY_READS = 4096;

/**
 * Reads a request body within a byte limit and the request's deadline. A body with a declared
 * length (Alertmanager's) is read by the runtime in one piece, which costs its size however it
 * trickles in. A chunked body is read chunk by chunk into one buffer, so the limit holds as
 * bytes arrive (a body that never ends is cut at the limit), and at most
 * {@link MAX_BODY_READS} reads. A body still arriving when the signal fires is answered 408.
 */
export async function readBody(req: Request, options: ReadBodyOptions): Promise<string> {
  const { limit, signal } = options;
  const declared = req.headers.get("content-length");
  if (Number(declared) > limit) {
    throw new HttpError(413, `Request body too large: ${declared} bytes, the limit is ${limit}`);
  }
  if (!req.body) return "";
  const timedOut = () =>
    new HttpError(408, "Request body not received in time: the request timeout covers reading it", {
      connection: "close",
    });
  if (signal.aborted) throw timedOut();
  const broken = (err: unknown) =>
    signal.aborted ? timedOut() : new HttpError(
      400,
      `Cannot read the request body: ${(err as Error).message}`,
      { connection: "close" },
    );
  if (declared !== null) {
    const { promise: expired, reject } = Promise.withResolvers<never>();
    const onAbort = () => reject(timedOut());
    signal.addEventListener("abort", onAbort, { once: true });
    const whole = req.arrayBuffer();
    whole.catch(() => {}); // Cut off by the deadline: the connection closes under it.
    try {
      return new TextDecoder().decode(await Promise.race([whole, expired]));
    } catch (err) {
      throw err instanceof HttpError ? err : broken(err);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
  const reader = req.body.getReader();
  // Cancelling ends a pending read (done); the signal then says why.
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  let buffer = new Uint8Array(Math.min(16_384, limit));
  let size = 0;
  try {
    for (let reads = 1;; reads++) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (err) {
        throw broken(err);
      }
      if (signal.aborted) throw timedOut();
      const { done, value } = result;
      if (done) break;
      if (size + value.length > limit) {
        reader.cancel().catch(() => {});
        throw new HttpError(413, `Request body too large: more than ${limit} bytes`, {
          connection: "close",
        });
      }
      if (reads > MAX_BODY_READS) {
        reader.cancel().catch(() => {});
        throw new HttpError(
          400,
          `Cannot read the request body: it came in more than ${MAX_BODY_READS} chunks; send it whole, with a Content-Length, as Alertmanager does`,
          { connection: "close" },
        );
      }
      if (size + value.length > buffer.length) {
        const grown = new Uint8Array(
          Math.min(Math.max(buffer.length * 2, size + value.length), limit),
        );
        grown.set(buffer.subarray(0, size));
        buffer = grown;
      }
      // Copied, so that no runtime buffer behind a chunk is kept.
      buffer.set(value, size);
      size += value.length;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  return new TextDecoder().decode(buffer.subarray(0, size));
}
