// How raw.ts reaches an API server: Deno's own HTTP client with the kubeconfig's CA, client
// certificate and credentials (made here, from node-heal's reader), or, where only the client
// library will do, the library's (library_transport.ts, loaded when a kubeconfig needs it).
import type { Kubeconfig, KubeUser } from "./kubeconfig.ts";
import { KUBECONFIG_LIMITS, TOKEN_BYTES } from "./kubeconfig.ts";
import { readFileWithin } from "../../base/bounded_read.ts";

/**
 * How long the kubeconfig's credential headers are reused before they are asked for again:
 * client-go reads a service-account token file again every minute; an exec plugin's or a
 * provider's token is cached by the library itself until it expires.
 */
export const CREDENTIALS_TTL_MS = 10_000;

/** Deno's HTTP client for a cluster, and the credentials to send. */
export interface Native {
  client?: Deno.HttpClient;
  /** The kubeconfig's credential headers (Authorization), fresh within {@link CREDENTIALS_TTL_MS}. */
  credentials(): Promise<Record<string, string>>;
  /** The credentials {@link credentials} would give at once, if they are fresh and at hand. */
  fresh(): Record<string, string> | undefined;
  /** Drops the kept credentials (the server refused them). */
  forget(): void;
}

/** A request as the library's transport takes it. */
export interface LibraryRequest {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  url: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Called once the credentials are at hand, immediately before the request goes out. */
  beforeSend?: () => void;
}

/** How one kubeconfig's requests are sent: through Deno's client, else the library's. */
export type Transport =
  | { native: Native }
  | { native?: undefined; send(request: LibraryRequest): Promise<Response> };

/** Credentials asked of `ask` at most once per {@link CREDENTIALS_TTL_MS}, a failure not kept. */
export function cachedCredentials(
  ask: () => Promise<Record<string, string>>,
): Pick<Native, "credentials" | "fresh" | "forget"> {
  let cached:
    | { at: number; headers: Promise<Record<string, string>>; value?: Record<string, string> }
    | undefined;
  return {
    credentials() {
      const now = performance.now();
      if (!cached || now - cached.at > CREDENTIALS_TTL_MS) {
        const headers = ask();
        const asked = { at: now, headers, value: undefined as Record<string, string> | undefined };
        // A failure is not kept: the next request asks again.
        headers.then((value) => asked.value = value, () => cached = undefined);
        cached = asked;
      }
      return cached.headers;
    },
    fresh() {
      if (cached?.value && performance.now() - cached.at <= CREDENTIALS_TTL_MS) return cached.value;
      return undefined;
    },
    forget() {
      cached = undefined;
    },
  };
}

/** A file of at most `limit` bytes, as text; `what` names it in the error of a larger one. */
async function readWithin(path: string, limit: number, what: string): Promise<string> {
  const { bytes, cut } = await readFileWithin(path, limit);
  if (cut) throw new Error(`Cannot read ${what}: it is larger than ${limit} bytes`);
  return new TextDecoder().decode(bytes);
}

/** A PEM from its file (read now, bounded) or else the kubeconfig's base64 of it. */
async function pem(file: string | undefined, data: string | undefined, what: string) {
  if (file) return await readWithin(file, KUBECONFIG_LIMITS.bytes, what);
  if (!data) return undefined;
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  } catch {
    throw new Error(`Cannot read ${what}: its -data is not base64`);
  }
}

/**
 * A user's credential headers: basic auth, else its token, else its token file read again (a
 * projected service-account token rotates); `Impersonate-User` for `as`. The library sends basic
 * auth over a token when both are given; so does this.
 */
export async function headersOf(user: KubeUser | undefined): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  if (!user) return headers;
  if (user.impersonate) headers["Impersonate-User"] = user.impersonate;
  if (user.username) {
    headers.Authorization = `Basic ${btoa(`${user.username}:${user.password ?? ""}`)}`;
  } else if (user.token) {
    headers.Authorization = `Bearer ${user.token}`;
  } else if (user.tokenFile) {
    const token = (await readWithin(user.tokenFile, TOKEN_BYTES, "the token file")).trim();
    if (token) headers.Authorization = `Bearer ${token}`;
  }
  return headers;
}

/**
 * Deno's client for a kubeconfig node-heal's reader serves: plain HTTP needs none of its own;
 * HTTPS gets one with the cluster's CA and the user's client certificate, read once here.
 */
export async function nativeTransport(kc: Kubeconfig): Promise<Transport> {
  const credentials = cachedCredentials(() => headersOf(kc.user));
  if (kc.server.startsWith("http:")) return { native: credentials };
  const { cluster, user } = kc;
  const ca = await pem(cluster.caFile, cluster.caData, "the cluster's certificate-authority");
  const cert = await pem(user?.certFile, user?.certData, "the user's client-certificate");
  const key = await pem(user?.keyFile, user?.keyData, "the user's client-key");
  return {
    native: {
      ...credentials,
      client: Deno.createHttpClient({
        ...(ca ? { caCerts: [ca] } : {}),
        ...(cert && key ? { cert, key } : {}),
      }),
    },
  };
}
