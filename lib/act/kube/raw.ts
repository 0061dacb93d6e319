import * as k8s from "@kubernetes/client-node";

/** A request sent as it is and answered as plain JSON. */
export interface RawRequest {
  method: "GET" | "POST" | "PATCH";
  /** Path and query, such as `/api/v1/nodes/x?dryRun=All`. */
  path: string;
  body?: unknown;
  /** Content type of the body (default JSON; merge patches say so). */
  contentType?: string;
}

/**
 * Sends one request with the kubeconfig's credentials and reads the answer as plain JSON. The
 * generated API would also build its model objects from every answer (and every body from them),
 * a second full copy of each Node that node-heal projects and drops at once. And where it can,
 * it goes through Deno's own HTTP client (kept-alive connections, the cluster's CA and client
 * certificate) instead of the library's transport, whose Node.js streams cost more CPU than the
 * rest of a cordon. A status other than 2xx throws an error carrying `code` and `body`, as the
 * library's own errors do.
 */
export async function rawJson<T>(kc: k8s.KubeConfig, request: RawRequest): Promise<T> {
  const url = `${kc.getCurrentCluster()!.server}${request.path}`;
  const context = new k8s.RequestContext(url, k8s.HttpMethod[request.method]);
  context.setHeaderParam("Accept", "application/json");
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  if (body !== undefined) {
    context.setHeaderParam("Content-Type", request.contentType ?? "application/json");
    context.setBody(body);
  }
  // Credentials per request: a token file or an exec plugin may have changed.
  await kc.applySecurityAuthentication(context);
  const native = await nativeClient(kc);
  let status: number;
  let text: string;
  if (native) {
    const response = await fetch(url, {
      method: request.method,
      headers: context.getHeaders(),
      body,
      ...(native.client ? { client: native.client } : {}),
    });
    status = response.status;
    text = await response.text();
  } else {
    const response = await LIBRARY_HTTP.send(context).toPromise();
    status = response.httpStatusCode;
    text = await response.body.text();
  }
  if (status < 200 || status > 299) {
    throw Object.assign(new Error(`the API server answered ${status}`), {
      code: status,
      body: text,
    });
  }
  return JSON.parse(text) as T;
}

const LIBRARY_HTTP = new k8s.IsomorphicFetchHttpLibrary();

/** Closes Deno's HTTP client made for `kc`, if one was (at shutdown). */
export async function closeNative(kc: k8s.KubeConfig): Promise<void> {
  const native = await natives.get(kc);
  natives.delete(kc);
  native?.client?.close();
}

/** Deno's HTTP client for a kubeconfig, once per KubeConfig; undefined where only the library's will do. */
const natives = new WeakMap<k8s.KubeConfig, Promise<{ client?: Deno.HttpClient } | undefined>>();

function nativeClient(kc: k8s.KubeConfig): Promise<{ client?: Deno.HttpClient } | undefined> {
  let native = natives.get(kc);
  if (!native) {
    native = makeNative(kc);
    natives.set(kc, native);
  }
  return native;
}

/**
 * Deno's client for the cluster: plain HTTP needs none of its own; HTTPS gets one with the
 * cluster's CA and the user's client certificate. A cluster behind a proxy, one whose
 * certificate is not verified (Deno's client always verifies), or one with a TLS server name or
 * a PKCS#12 bundle, keeps the library's transport.
 */
async function makeNative(kc: k8s.KubeConfig): Promise<{ client?: Deno.HttpClient } | undefined> {
  const cluster = kc.getCurrentCluster();
  if (!cluster || cluster.proxyUrl) return undefined;
  if (cluster.server.startsWith("http:")) return {};
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
    client: Deno.createHttpClient({
      ...(tls.ca ? { caCerts: [text(tls.ca)!] } : {}),
      ...(tls.cert && tls.key ? { cert: text(tls.cert)!, key: text(tls.key)! } : {}),
    }),
  };
}
