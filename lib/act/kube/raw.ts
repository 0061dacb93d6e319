import type { Kubeconfig } from "./kubeconfig.ts";
import { type Native, nativeTransport, type Transport } from "./transport.ts";
import { statusError } from "./status_error.ts";
import { readCapped, readPrefix } from "../../base/bounded_read.ts";

/**
 * The largest answer about one object node-heal reads: the API server stores an object of at most
 * 1.5 MiB (etcd's request limit), and its JSON is larger by a little; a Lease, a ConfigMap or a
 * Node answered larger is not one, and is refused unread (docs/limits.md).
 */
export const MAX_OBJECT_BYTES = 8 * 1024 * 1024;

/** How much of an error's answer is read (a Status is a few hundred bytes). */
const ERROR_BODY_BYTES = 64 * 1024;

/** A request sent as it is and answered as plain JSON. */
export interface RawRequest {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** Path and query, such as `/api/v1/nodes/x?dryRun=All`. */
  path: string;
  body?: unknown;
  /** Content type of the body (default JSON; merge patches say so). */
  contentType?: string;
  /**
   * Called immediately before the request goes out, once its credentials are at hand (an exec
   * plugin may take seconds), and again before a 401 sends it again: the fence of a write that
   * takes something away. What it throws is thrown, and nothing is sent.
   */
  beforeSend?: () => void;
  /** The largest answer read, in bytes (default {@link MAX_OBJECT_BYTES}); past it, AnswerTooLarge. */
  maxBytes?: number;
  /** Reads the answer's text (default JSON.parse; Nodes: `parseLean`, without what is never read). */
  parse?: (text: string) => unknown;
}

/**
 * Sends one request with the kubeconfig's credentials and reads the answer as plain JSON. The
 * generated API would also build its model objects from every answer (and every body from them),
 * a second full copy of each Node that node-heal projects and drops at once. A status other than
 * 2xx throws an error carrying `code` and `body`, as the library's own errors do (see
 * {@link statusError}). `signal` aborts the request (a call given up on must not hold its
 * connection, nor its slot, until the server answers, if it ever does).
 */
export async function rawJson<T>(
  kc: Kubeconfig,
  request: RawRequest,
  signal?: AbortSignal,
): Promise<T> {
  const url = urlOf(kc, request);
  try {
    const response = await respond(kc, request, url, signal);
    if (!response.ok) {
      const { bytes } = await readPrefix(response.body, ERROR_BODY_BYTES);
      throw statusError(response.status, new TextDecoder().decode(bytes));
    }
    const text = await readCapped(
      response,
      request.maxBytes ?? MAX_OBJECT_BYTES,
      () => `the API server's answer to ${request.method} ${request.path.split("?")[0]}`,
    );
    return (request.parse ? request.parse(text) : JSON.parse(text)) as T;
  } catch (err) {
    // Said in the error's message (toKubeError): which call failed, where it was sent.
    throw withRequest(err, `${request.method} ${url}`);
  }
}

/**
 * Sends one request as {@link rawJson} does and gives back the answer with its body unread, to be
 * read as it streams (a watch); whatever its status. Where it can, it goes through Deno's own
 * HTTP client (kept-alive connections, the cluster's CA and client certificate) instead of the
 * library's transport, whose Node.js streams cost more CPU than the rest of a cordon, and which
 * on Deno tells of neither a connection closed under a body nor its own abort. The caller reads
 * the body to its end or cancels it; `signal` aborts the request, body included.
 */
export async function rawResponse(
  kc: Kubeconfig,
  request: RawRequest,
  signal?: AbortSignal,
): Promise<Response> {
  const url = urlOf(kc, request);
  try {
    return await respond(kc, request, url, signal);
  } catch (err) {
    throw withRequest(err, `${request.method} ${url}`);
  }
}

/** Marks an error with the request that failed, `METHOD URL`, unless it says one already. */
export function withRequest(err: unknown, request: string): unknown {
  if (err !== null && typeof err === "object" && !("request" in err)) {
    try {
      Object.assign(err, { request });
    } catch {
      // A frozen error: told without its request.
    }
  }
  return err;
}

function urlOf(kc: Kubeconfig, request: RawRequest): string {
  return `${kc.server}${request.path}`;
}

/** The answer to one request, its body unread: through Deno's client, or the library's. */
async function respond(
  kc: Kubeconfig,
  request: RawRequest,
  url: string,
  signal?: AbortSignal,
): Promise<Response> {
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  const type = body === undefined ? undefined : request.contentType ?? JSON_TYPE;
  const transport = ready.get(kc) ?? await transportOf(kc);
  const native = transport.native;
  if (!native) {
    const { method, beforeSend } = request;
    const headers: Record<string, string> = { Accept: JSON_TYPE };
    if (type !== undefined) headers["Content-Type"] = type;
    return await transport.send({ method, url, headers, body, signal, beforeSend });
  }
  const out: Outgoing = { request, url, body, type, signal };
  // Credentials fresh and at hand are sent without waiting a turn for them.
  const fresh = native.fresh();
  const response = await (fresh ? sendWith(native, fresh, out) : sendNative(native, out));
  if (response.status !== 401) return response;
  // Refused credentials may be ones kept past their expiry: ask for them again, once.
  await response.body?.cancel();
  native.forget();
  return await sendNative(native, out);
}

/** One request as it goes out: its body serialized, its content type, its URL. */
interface Outgoing {
  request: RawRequest;
  url: string;
  body: string | undefined;
  type: string | undefined;
  signal?: AbortSignal;
}

/** Sends through Deno's client once the credentials are at hand (see {@link sendWith}). */
async function sendNative(native: Native, out: Outgoing): Promise<Response> {
  return await sendWith(native, await native.credentials(), out);
}

/** Sends through Deno's client with `credentials`, once `beforeSend` allows it. */
function sendWith(
  native: Native,
  credentials: Record<string, string>,
  { request, url, body, type, signal }: Outgoing,
): Promise<Response> {
  const headers = headersWith(credentials, type);
  request.beforeSend?.();
  return fetch(url, { method: request.method, headers, body, signal, client: native.client });
}

const JSON_TYPE = "application/json";

/**
 * The headers of a request: made once per credentials and content type (credentials change
 * only when asked for again), not spread anew for every request. Frozen: fetch only reads them.
 */
const headerSets = new WeakMap<Record<string, string>, Map<string | undefined, HeadersInit>>();

function headersWith(credentials: Record<string, string>, type: string | undefined): HeadersInit {
  let byType = headerSets.get(credentials);
  if (!byType) headerSets.set(credentials, byType = new Map());
  let headers = byType.get(type);
  if (!headers) {
    headers = Object.freeze({
      ...credentials,
      Accept: JSON_TYPE,
      ...(type === undefined ? {} : { "Content-Type": type }),
    });
    byType.set(type, headers);
  }
  return headers;
}

/** Closes Deno's HTTP client made for `kc`, if one was (at shutdown). */
export async function closeNative(kc: Kubeconfig): Promise<void> {
  const transport = await transports.get(kc)?.catch(() => undefined);
  transports.delete(kc);
  ready.delete(kc);
  transport?.native?.client?.close();
}

/** How each kubeconfig's requests are sent, made at its first request. */
const transports = new WeakMap<Kubeconfig, Promise<Transport>>();
/** The transports of {@link transports} made, to be used without waiting a turn for them. */
const ready = new WeakMap<Kubeconfig, Transport>();

/**
 * Deno's client for a kubeconfig node-heal's reader serves; for one it does not, the client
 * library, loaded now (the first such request waits for it), then Deno's client where the
 * library's credentials will do, else the library's transport (transport.ts).
 */
function transportOf(kc: Kubeconfig): Promise<Transport> {
  let transport = transports.get(kc);
  if (!transport) {
    transport = kc.library
      ? import("./library_transport.ts").then((m) => m.libraryTransport(kc))
      : nativeTransport(kc);
    transports.set(kc, transport);
    transport.then((made) => transports.get(kc) === transport && ready.set(kc, made), () => {});
    // A failure (a certificate file not readable yet) is not kept: the next request tries again.
    transport.catch(() => transports.delete(kc));
  }
  return transport;
}
