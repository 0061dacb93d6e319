import { HttpError } from "./http_error.ts";
import { untilAborted } from "../base/timing.ts";

/** How the runtime says a request's bytes are not valid HTTP (hyper's parse errors). */
const FRAMING_ERROR = /^invalid HTTP\/1 request\b/;

/** Options of {@link readBody}. */
export interface ReadBodyOptions {
  /** Largest accepted body, in bytes: more is refused (413). */
  limit: number;
  /**
   * Aborted when the request's time is up, or node-heal shuts down: reading stops and the answer
   * is 503 (the signal's reason, when it is an {@link HttpError}).
   */
  signal: AbortSignal;
}

/**
 * Reads a request body within a byte limit and the request's deadline. The runtime reads it in
 * one piece, which costs its size however it arrives: read chunk by chunk from JavaScript, each
 * read holds a 64 KB runtime buffer until the next garbage collection, so 20,000 one-byte chunks
 * would cost a gigabyte. A body declared larger than the limit is refused before it is read; a
 * chunked body is refused once read, and the connection guard in front (`guard.ts`) cuts one
 * that sends far more than the limit as it arrives. A body still arriving when the signal fires,
 * or one that broke off, is answered 503 (Alertmanager retries it); one whose framing is invalid,
 * 400.
 */
export async function readBody(req: Request, options: ReadBodyOptions): Promise<string> {
  const { limit, signal } = options;
  const declared = req.headers.get("content-length");
  if (Number(declared) > limit) {
    throw new HttpError(413, `Request body too large: ${declared} bytes, the limit is ${limit}`);
  }
  if (!req.body) return "";
  // Alertmanager retries only 5xx: a body that did not arrive in time, or broke off (the client
  // went away, node-heal is shutting down), is answered 503 so that the notification is not lost.
  const timedOut = () =>
    signal.reason instanceof HttpError ? signal.reason : new HttpError(
      503,
      "Request body not received in time: the request timeout covers reading it; retry",
      { "retry-after": "5" },
    );
  if (signal.aborted) throw timedOut();
  const whole = req.arrayBuffer();
  whole.catch(() => {}); // Cut off by the deadline: the connection closes under it.
  let body: ArrayBuffer;
  try {
    body = await untilAborted(whole, signal, timedOut);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    // A body whose framing is invalid (a chunk extension past the runtime's limit, say) fails
    // the same way however often it is sent: 400, final. A broken-off body is a 503.
    if (FRAMING_ERROR.test((err as Error)?.message)) {
      throw new HttpError(
        400,
        "Cannot read the request body: its HTTP/1.1 framing is invalid (chunk sizes, chunk extensions)",
      );
    }
    throw new HttpError(503, `Cannot read the request body: ${(err as Error).message}; retry`, {
      "retry-after": "5",
    });
  }
  if (body.byteLength > limit) {
    throw new HttpError(
      413,
      `Request body too large: ${body.byteLength} bytes, the limit is ${limit}`,
    );
  }
  return new TextDecoder().decode(body);
}
