// The client library's part: a kubeconfig node-heal's reader does not serve (an exec plugin, an
// auth provider, a proxy, TLS unverified or with a server name) is loaded by the library, from the
// same text. raw.ts imports this module only when such a kubeconfig sends its first request: the
// library costs a process 90 MB resident, its generated models nearly all of it.
import * as k8s from "@kubernetes/client-node";
import { PooledKubeConfig } from "./pooled_config.ts";
import type { Kubeconfig } from "./kubeconfig.ts";
import {
  cachedCredentials,
  type LibraryRequest,
  type Native,
  type Transport,
} from "./transport.ts";

/** Statuses whose answer has no body (a Response made with one throws). */
const NULL_BODY: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

const LIBRARY_HTTP = new k8s.IsomorphicFetchHttpLibrary();

/**
 * The library's KubeConfig for `kc`, and how to send with it: through Deno's client where the
 * library's credentials are all the cluster needs (an exec plugin on a verified HTTPS server), else
 * through the library's own transport.
 */
export async function libraryTransport(kc: Kubeconfig): Promise<Transport> {
  const lib = new PooledKubeConfig();
  lib.loadFromString(kc.library!.text);
  if (kc.library!.dir !== undefined) lib.makePathsAbsolute(kc.library!.dir);
  const native = await makeNative(lib);
  return native ? { native } : { send: (request) => send(lib, request) };
}

/** One request through the library's transport, its answer's body unread. */
async function send(kc: k8s.KubeConfig, request: LibraryRequest): Promise<Response> {
  const context = new k8s.RequestContext(request.url, k8s.HttpMethod[request.method]);
  for (const [k, v] of Object.entries(request.headers)) context.setHeaderParam(k, v);
  if (request.body !== undefined) context.setBody(request.body);
  if (request.signal) context.setSignal(request.signal);
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
 * Deno's client for the cluster, the library's credentials sent: plain HTTP needs none of its
 * own; HTTPS gets one with the cluster's CA and the user's client certificate. A cluster behind a
 * proxy, one whose certificate is not verified (Deno's client always verifies), or one with a TLS
 * server name or a PKCS#12 bundle, keeps the library's transport.
 */
async function makeNative(kc: k8s.KubeConfig): Promise<Native | undefined> {
  const cluster = kc.getCurrentCluster();
  if (!cluster || cluster.proxyUrl) return undefined;
  const credentials = cachedCredentials(async () => {
    const opts: { headers?: Record<string, string> } = {};
    await kc.applyToHTTPSOptions(opts as Parameters<k8s.KubeConfig["applyToHTTPSOptions"]>[0]);
    const user = kc.getCurrentUser();
    // Basic credentials come as a Node.js `auth` option, not a header.
    return user?.username
      ? { ...opts.headers, Authorization: `Basic ${btoa(`${user.username}:${user.password}`)}` }
      : { ...opts.headers };
  });
  if (cluster.server.startsWith("http:")) return credentials;
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
    ...credentials,
    client: Deno.createHttpClient({
      ...(tls.ca ? { caCerts: [text(tls.ca)!] } : {}),
      ...(tls.cert && tls.key ? { cert: text(tls.cert)!, key: text(tls.key)! } : {}),
    }),
  };
}
