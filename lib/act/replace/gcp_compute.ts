// One call to the Compute Engine REST API, as gcp_mig.ts makes it: a token from its source, the
// answer read to a bound, and a failure told as a refusal (400, 403, 404) or as one that may pass.
import { readCapped } from "../../base/bounded_read.ts";
import { isFenced } from "../fence.ts";
import type { TokenSource } from "./gcp_auth.ts";
import { ReplaceRefused } from "./provider.ts";

/** Compute Engine v1's public address. */
export const COMPUTE_ENDPOINT = "https://compute.googleapis.com/compute/v1/";

/**
 * What node-heal reads of one Compute Engine answer: a VM, an operation, or a page of a group's
 * instances (500 by default, about 200 KB) are far below; past it the call fails, unread, and is
 * tried again as any failure that may pass. Parsed, 4 MiB of JSON costs several times that of a
 * heap of 192 MB.
 */
export const MAX_COMPUTE_ANSWER_BYTES = 4 * 1024 * 1024;

/** A failed call to the API: refused when no retry mends it (400, 403, 404), else passing. */
class ComputeError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** One request: its method, its path under the endpoint, and its JSON body, if any. */
export interface ComputeRequest {
  method: string;
  path: string;
  body?: unknown;
  /** Asked once the token is at hand, immediately before the request is sent (the fence). */
  beforeSend?: () => void;
}

/** The Compute Engine API at one endpoint, with one source of tokens. */
export class Compute {
  #tokens: TokenSource;
  #base: string;

  constructor(tokens: TokenSource, endpoint: string | undefined) {
    this.#tokens = tokens;
    this.#base = (endpoint ?? COMPUTE_ENDPOINT).replace(/\/?$/, "/");
  }

  /**
   * Sends `request`, its answer as JSON; a failure's message starts with `what`. Throws
   * {@link ReplaceRefused} for 400, 403 and 404, anything else (which may pass) as an Error.
   */
  async call<T>(what: string, request: ComputeRequest): Promise<T> {
    try {
      return await this.#send<T>(request);
    } catch (e) {
      if (isFenced(e)) throw e;
      const text = `${what}: ${(e as Error).message}`;
      if (e instanceof ComputeError && [400, 403, 404].includes(e.status)) {
        throw new ReplaceRefused(text);
      }
      throw new Error(text, { cause: e });
    }
  }

  async #send<T>({ method, path, body, beforeSend }: ComputeRequest): Promise<T> {
    const token = await this.#tokens.token().catch((e) => {
      throw new Error(`Cannot get a Google access token: ${(e as Error).message}`, { cause: e });
    });
    beforeSend?.();
    const res = await fetch(new URL(path, this.#base), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    // Bounded as it arrives: an answer past the bound throws AnswerTooLarge, which may pass.
    const text = await readCapped(res, MAX_COMPUTE_ANSWER_BYTES, `The answer to ${method} ${path}`);
    if (!res.ok) {
      throw new ComputeError(res.status, `${method} ${path}: ${res.status} ${said(text)}`);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      // V8's message would quote the answer; the first characters say enough.
      throw new Error(
        `${method} ${path}: ${res.status} answered what is not JSON: ${
          JSON.stringify(text.slice(0, 80))
        }`,
      );
    }
  }
}

/** What an error answer says: its `error.message`, else its first characters. */
function said(text: string): string {
  try {
    const message = JSON.parse(text).error?.message;
    if (typeof message === "string") return message.slice(0, 200);
  } catch { /* not JSON: Google's front end answers HTML for an unknown method */ }
  return text.slice(0, 200);
}
