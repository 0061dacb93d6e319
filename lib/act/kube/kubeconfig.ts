// node-heal's own kubeconfig reader, for what most clusters need: a server, its CA, a token (or a
// token file, read again), a client certificate, basic auth. Loading the client library costs a
// process 90 MB resident (its generated models), so it is loaded only for a kubeconfig this reader
// does not serve (`library` says why), from the same text. Whoever mounts the kubeconfig wrote it:
// its size and nesting are bounded, its fields parsed by a schema, and no error quotes it.
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { dirname, isAbsolute, join } from "node:path";
import { yamlSizeRefusal, yamlTokensRefusal } from "../../base/yaml_bounds.ts";
import { fieldName, valueAt } from "../../base/field_path.ts";
import { clip } from "../../base/clip.ts";

/** The bounds on a kubeconfig's text (docs/limits.md); kubectl's own are a few KiB. */
export const KUBECONFIG_LIMITS = {
  /** Bytes of the file, checked before it is read whole. */
  bytes: 1024 * 1024,
  depth: 32,
  indent: 128,
  values: 20_000,
  /** The YAML parser's `maxAliasCount`. */
  aliases: 100,
} as const;

/** The largest token file read (a service account's token is about 1 KiB, an OIDC one a few). */
export const TOKEN_BYTES = 64 * 1024;

/** The in-cluster service account's folder, as the kubelet mounts it. */
export const SERVICE_ACCOUNT_ROOT = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The current context's cluster, its file paths absolute where the kubeconfig was a file. */
export interface KubeCluster {
  name: string;
  /** The API server's URL, without a final `/`. */
  server: string;
  caFile?: string;
  /** Base64, as the kubeconfig has it. */
  caData?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
  proxyUrl?: string;
}

/** The current context's user. */
export interface KubeUser {
  name: string;
  token?: string;
  /** Read again each time credentials are asked for (every 10 s, and after a 401). */
  tokenFile?: string;
  certFile?: string;
  certData?: string;
  keyFile?: string;
  keyData?: string;
  username?: string;
  password?: string;
  /** `as`: the user to impersonate. */
  impersonate?: string;
}

/** A kubeconfig's current context, read. */
export interface Kubeconfig {
  /** The API server's URL. */
  readonly server: string;
  readonly cluster: KubeCluster;
  /** Undefined for a context that names no user (no credentials). */
  readonly user?: KubeUser;
  /**
   * Set when only the client library can serve this kubeconfig (an exec plugin, an auth provider,
   * a proxy, TLS unverified or with a server name): why, and the text for the library to load, with
   * the folder its relative paths are relative to.
   */
  readonly library?: { reason: string; text: string; dir?: string };
}

const name = z.string().min(1);
const text = z.string().optional();

const clusterSchema = z.object({
  server: z.string().min(1),
  "certificate-authority": text,
  "certificate-authority-data": text,
  "insecure-skip-tls-verify": z.boolean().optional(),
  "tls-server-name": text,
  "proxy-url": text,
});

const userSchema = z.object({
  token: text,
  tokenFile: text,
  /** The client library's spelling of `tokenFile`. */
  "token-file": text,
  "client-certificate": text,
  "client-certificate-data": text,
  "client-key": text,
  "client-key-data": text,
  username: text,
  password: text,
  as: text,
  exec: z.unknown().optional(),
  "auth-provider": z.unknown().optional(),
});

/** A list that may be absent or null, as the library takes it. */
const list = <T extends z.ZodType>(item: T) => z.array(item).nullish().transform((a) => a ?? []);

const kubeconfigSchema = z.object({
  "current-context": z.string().nullish(),
  clusters: list(z.object({ name, cluster: clusterSchema })),
  contexts: list(z.object({ name, context: z.object({ cluster: name, user: text }) })),
  users: list(z.object({ name, user: userSchema.nullish() })),
});

type Parsed = z.infer<typeof kubeconfigSchema>;

/** A name from the kubeconfig, quoted and short, for an error. */
function quoted(value: string): string {
  return JSON.stringify(clip(value, 64));
}

/** The YAML of a kubeconfig, within {@link KUBECONFIG_LIMITS}; errors quote none of it. */
function parseBounded(text: string): unknown {
  const tooMuch = yamlTokensRefusal(text, KUBECONFIG_LIMITS);
  if (tooMuch) throw new Error(tooMuch);
  let raw: unknown;
  try {
    // Warnings are not printed: the parser quotes the line, which may hold a token.
    raw = parseYaml(text, { maxAliasCount: KUBECONFIG_LIMITS.aliases, logLevel: "error" });
  } catch (err) {
    // The parser's message quotes the line, which may hold a token: only where, and its code.
    const e = err as { linePos?: { line: number; col: number }[]; code?: string; message?: string };
    if (/excessive alias count/i.test(e.message ?? "")) {
      throw new Error(`its aliases expand past the bound of ${KUBECONFIG_LIMITS.aliases}`);
    }
    const pos = e.linePos?.[0];
    const at = pos ? ` at line ${pos.line}, column ${pos.col}` : "";
    throw new Error(`it is not YAML${at}${e.code ? ` (${e.code})` : ""}`);
  }
  const tooBig = yamlSizeRefusal(raw, KUBECONFIG_LIMITS);
  if (tooBig) throw new Error(tooBig);
  return raw;
}

/** Parses a kubeconfig's YAML; throws naming the first wrong field, never its value. */
function parseKubeconfig(text: string): Parsed {
  const raw = parseBounded(text);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new Error("it is not a YAML mapping");
  }
  const parsed = kubeconfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const missing = issue.code === "invalid_type" && valueAt(raw, issue.path) === undefined;
  throw new Error(
    `field ${quoted(fieldName(issue.path))} ${missing ? "is missing" : clip(issue.message, 120)}`,
  );
}

/** `file` made absolute against `dir`, as kubectl and the library's `makePathsAbsolute` do. */
function resolved(file: string | undefined, dir: string | undefined): string | undefined {
  if (!file || dir === undefined || isAbsolute(file)) return file || undefined;
  return join(dir, file);
}

/** The entry named `wanted`, as the library's `findObject` looks. */
function named<T extends { name: string }>(entries: T[], wanted: string): T | undefined {
  return entries.find((e) => e.name === wanted);
}

/** Throws when two of `entries` share a name, as kubectl (client-go) refuses them. */
function unique(entries: { name: string }[], what: string): void {
  const seen = new Set<string>();
  for (const { name } of entries) {
    if (seen.has(name)) throw new Error(`it has two ${what} named ${quoted(name)}`);
    seen.add(name);
  }
}

/** A cluster's server without a trailing slash, its scheme lower-cased; http or https only. */
function serverOf(name: string, server: string): { server: string; scheme: string } {
  let scheme: string;
  try {
    scheme = new URL(server).protocol;
  } catch {
    throw new Error(`cluster ${quoted(name)}'s server is not a URL`);
  }
  if (scheme !== "https:" && scheme !== "http:") {
    throw new Error(`cluster ${quoted(name)}'s server is neither https nor http`);
  }
  return { server: scheme + server.slice(scheme.length).replace(/\/$/, ""), scheme };
}

/** The current context's cluster and user, or an error naming what is not there. */
function currentOf(config: Parsed) {
  unique(config.clusters, "clusters");
  unique(config.users, "users");
  unique(config.contexts, "contexts");
  const current = config["current-context"];
  const noCluster = "its current context names no cluster";
  if (!current) throw new Error(`${noCluster}: it has no current-context`);
  const context = named(config.contexts, current)?.context;
  if (!context) {
    throw new Error(`${noCluster}: current-context ${quoted(current)} is not in contexts`);
  }
  const cluster = named(config.clusters, context.cluster);
  if (!cluster) {
    throw new Error(
      `${noCluster}: context ${quoted(current)} names cluster ${quoted(context.cluster)}, ` +
        "which is not in clusters",
    );
  }
  // A context with no user sends no credentials; one naming a user that is not there is a mistake.
  const wanted = context.user || undefined;
  const user = wanted === undefined ? undefined : named(config.users, wanted);
  if (wanted !== undefined && !user) {
    throw new Error(
      `context ${quoted(current)} names user ${quoted(wanted)}, which is not in users`,
    );
  }
  return { cluster, user };
}

/** Why only the client library can serve this cluster and user, or undefined. */
function libraryReason(
  cluster: z.infer<typeof clusterSchema>,
  scheme: string,
  user: z.infer<typeof userSchema> | null | undefined,
): string | undefined {
  if (user?.exec !== undefined && user.exec !== null) return "an exec plugin";
  if (user?.["auth-provider"] !== undefined && user["auth-provider"] !== null) {
    return "an auth provider";
  }
  if (cluster["proxy-url"]) return "a proxy";
  if (scheme !== "https:") return undefined;
  if (cluster["insecure-skip-tls-verify"] === true) return "TLS without verification";
  if (cluster["tls-server-name"]) return "a TLS server name";
  return undefined;
}

/**
 * Reads a kubeconfig from its YAML text; `dir` is the folder relative file paths are relative to
 * (the file's, when it was one). Throws a short error that quotes none of the text.
 */
export function kubeconfigFromString(text: string, dir?: string): Kubeconfig {
  const config = parseKubeconfig(text);
  const { cluster: c, user: u } = currentOf(config);
  const { server, scheme } = serverOf(c.name, c.cluster.server);
  const skipTLSVerify = c.cluster["insecure-skip-tls-verify"] === true;
  if (scheme === "http:" && !skipTLSVerify && !c.cluster["proxy-url"]) {
    // The library refuses it at every request; said once, here.
    throw new Error(
      `cluster ${quoted(c.name)} is reached over plain HTTP, which needs ` +
        "insecure-skip-tls-verify: true",
    );
  }
  const cluster: KubeCluster = {
    name: c.name,
    server,
    caFile: resolved(c.cluster["certificate-authority"], dir),
    caData: c.cluster["certificate-authority-data"] || undefined,
    skipTLSVerify,
    tlsServerName: c.cluster["tls-server-name"] || undefined,
    proxyUrl: c.cluster["proxy-url"] || undefined,
  };
  const reason = libraryReason(c.cluster, scheme, u?.user);
  const library = reason === undefined ? undefined : { reason, text, dir };
  return { server, cluster, user: u && userOf(u.name, u.user ?? {}, dir), library };
}

/** A user's credentials, file paths absolute against `dir`. */
function userOf(name: string, u: z.infer<typeof userSchema>, dir: string | undefined): KubeUser {
  const tokenFile = resolved(u.tokenFile || u["token-file"], dir);
  // Read once now, as kubectl does, so a path that is wrong fails here and not at each request.
  if (!u.token && tokenFile) readTextWithin(tokenFile, TOKEN_BYTES);
  return {
    name,
    token: u.token || undefined,
    tokenFile,
    certFile: resolved(u["client-certificate"], dir),
    certData: u["client-certificate-data"] || undefined,
    keyFile: resolved(u["client-key"], dir),
    keyData: u["client-key-data"] || undefined,
    username: u.username || undefined,
    password: u.password,
    impersonate: u.as || undefined,
  };
}

/**
 * Reads a file of at most `limit` bytes as text, refusing a larger one without reading it whole
 * (synchronously: `connect` is, and runs once at start-up).
 */
export function readTextWithin(path: string, limit: number): string {
  using file = Deno.openSync(path);
  const size = file.statSync().size;
  const tooLarge = `it is larger than ${limit} bytes`;
  if (size > limit) throw new Error(`${tooLarge} (${size} bytes)`);
  // A file that grows while read, or whose stat says 0 (a device), is read to the limit and a byte.
  const buf = new Uint8Array((size || limit) + 1);
  let n = 0;
  while (n < buf.length) {
    const read = file.readSync(buf.subarray(n));
    if (read === null) break;
    n += read;
  }
  if (n > limit) throw new Error(tooLarge);
  return new TextDecoder().decode(buf.subarray(0, n));
}

/** Reads a kubeconfig file, its relative paths relative to its folder; see {@link kubeconfigFromString}. */
export function kubeconfigFromFile(path: string): Kubeconfig {
  return kubeconfigFromString(readTextWithin(path, KUBECONFIG_LIMITS.bytes), dirname(path));
}

/**
 * The in-cluster kubeconfig: the API server from `KUBERNETES_SERVICE_HOST` and
 * `KUBERNETES_SERVICE_PORT`, the service account's CA and token (read again as it rotates);
 * `root` is that account's folder, for tests. Reads no file until a request is sent.
 */
export function kubeconfigInCluster(
  env: (name: string) => string | undefined,
  root: string = SERVICE_ACCOUNT_ROOT,
): Kubeconfig {
  const host = env("KUBERNETES_SERVICE_HOST");
  const port = env("KUBERNETES_SERVICE_PORT");
  if (!host || !port) {
    throw new Error("in-cluster, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  // As the library does: these ports are plain HTTP, which it then refuses (see kubeconfigFromString).
  if (port === "80" || port === "8080" || port === "8001") {
    throw new Error(`in-cluster, port ${quoted(port)} is plain HTTP, which needs a kubeconfig`);
  }
  const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const server = `https://${bracketed}:${port}`;
  return {
    server,
    cluster: { name: "inCluster", server, caFile: `${root}/ca.crt`, skipTLSVerify: false },
    user: { name: "inClusterUser", tokenFile: `${root}/token` },
  };
}
