import * as k8s from "@kubernetes/client-node";
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
  kc: k8s.KubeConfig,
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
      `the API server's answer to ${request.method} ${request.path.split("?")[0]}`,
    );
    return JSON.parse(text) as T;
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
  kc: k8s.KubeConfig,
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

function urlOf(kc: k8s.KubeConfig, request: RawRequest): string {
  return `${kc.getCurrentCluster()!.server}${request.path}`;
}

/** Statuses whose answer has no body (a Response made with one throws). */
const NULL_BODY: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/** The answer to one request, its body unread: through Deno's client, or the library's. */
async function respond(
  kc: k8s.KubeConfig,
  request: RawRequest,
  url: string,
  signal?: AbortSignal,
): Promise<Response> {
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = request.contentType ?? "application/json";
  const native = await nativeClient(kc);
  if (native) {
    const send = async () => {
      const credentials = await native.credentials();
      request.beforeSend?.();
      return await fetch(url, {
        method: request.method,
        headers: { ...credentials, ...headers },
        body,
        signal,
        ...(native.client ? { client: native.client } : {}),
      });
    };
    const response = await send();
    if (response.status !== 401) return response;
    // Refused credentials may be ones kept past their expiry: ask for them again, once.
    await response.body?.cancel();
    native.forget();
    return await send();
  }
  const context = new k8s.RequestContext(url, k8s.HttpMethod[request.method]);
  for (const [k, v] of Object.entries(headers)) context.setHeaderParam(k, v);
  if (body !== undefined) context.setBody(body);
  if (signal) context.setSignal(signal);
  await kc.applySecurityAuthentication(context);
  request.beforeSend?.();
  const response = await LIBRARY_HTTP.send(context).toPromise();
  const status = response.httpStatusCode;
  const stream = response.body.stream() as ReadableStream<Uint8Array> | null | undefined;
  if (NULL_BODY.has(status)) {
    await stream?.cancel();
    return new Response(null, { status, headers: response.headers });
  }
  return new Response(stream ?? null, { status, headers: response.headers });
}

/**
 * How long the kubeconfig's credential headers are reused before they are asked for again:
 * client-go reads a service-account token file again every minute; an exec plugin's or a
 * provider's token is cached by the library itself until it expires.
 */
const CREDENTIALS_TTL_MS = 10_000;

const LIBRARY_HTTP = new k8s.IsomorphicFetchHttpLibrary();

/** Closes Deno's HTTP client made for `kc`, if one was (at shutdown). */
export async function closeNative(kc: k8s.KubeConfig): Promise<void> {
  const native = await natives.get(kc);
  natives.delete(kc);
  native?.client?.close();
}

/** Deno's HTTP client for a cluster, and the credentials to send. */
interface Native {
  client?: Deno.HttpClient;
  /** The kubeconfig's credential headers (Authorization), fresh within {@link CREDENTIALS_TTL_MS}. */
  credentials(): Promise<Record<string, string>>;
  /** Drops the kept credentials (the server refused them). */
  forget(): void;
}

/** Deno's HTTP client for a kubeconfig, once per KubeConfig; undefined where only the library's will do. */
const natives = new WeakMap<k8s.KubeConfig, Promise<Native | undefined>>();

function nativeClient(kc: k8s.KubeConfig): Promise<Native | undefined> {
  let native = natives.get(kc);
  if (!native) {
    native = makeNative(kc);
    natives.set(kc, native);
    // A failure (a certificate file not readable yet) is not kept: the next request tries again.
    native.catch(() => natives.delete(kc));
  }
  return native;
}

/**
 * Deno's client for the cluster: plain HTTP needs none of its own; HTTPS gets one with the
 * cluster's CA and the user's client certificate. A cluster behind a proxy, one whose
 * certificate is not verified (Deno's client always verifies), or one with a TLS server name or
 * a PKCS#12 bundle, keeps the library's transport.
 */
async function makeNative(kc: k8s.KubeConfig): Promise<Native | undefined> {
  const cluster = kc.getCurrentCluster();
  if (!cluster || cluster.proxyUrl) return undefined;
  let cached: { at: number; headers: Promise<Record<string, string>> } | undefined;
  const credentials = () => {
    const now = performance.now();
    if (!cached || now - cached.at > CREDENTIALS_TTL_MS) {
      const opts: { headers?: Record<string, string> } = {};
      const headers = kc.applyToHTTPSOptions(
        opts as Parameters<k8s.KubeConfig["applyToHTTPSOptions"]>[0],
      )
        .then(() => {
          const user = kc.getCurrentUser();
          // Basic credentials come as a Node.js `auth` option, not a header.
          return user?.username
            ? {
              ...opts.headers,
              Authorization: `Basic ${btoa(`${user.username}:${user.password}`)}`,
            }
            : { ...opts.headers };
        });
      // A failure is not kept: the next request asks again.
      headers.catch(() => cached = undefined);
      cached = { at: now, headers };
    }
    return cached.headers;
  };
  const forget = () => {
    cached = undefined;
  };
  if (cluster.server.startsWith("http:")) return { credentials, forget };
  const tls: {
    ca?: Uint8Array;
    cert?: Uint8Array;
    key?: Uint8Array;
    pfx?: unknown;
    rejectUnauthorized?: boolean;
    servername?: string;
  } = {};
  await kc.applyToHTTPSOptions(tls as Parameters<k8s.KubeConfig["applyToHTTPSOptions"]>[0]);
  if (tls.rejectUnauthorized === false || tls.servername || tls.pfx) return undefined;
  const text = (b: Uint8Array | undefined) => b && new TextDecoder().decode(b);
  return {
    credentials,
    forget,
    client: Deno.createHttpClient({
      ...(tls.ca ? { caCerts: [text(tls.ca)!] } : {}),
      ...(tls.cert && tls.key ? { cert: text(tls.cert)!, key: text(tls.key)! } : {}),
    }),
  };
}
