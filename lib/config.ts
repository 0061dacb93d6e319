import { parseArgs } from "node:util";
import type { LogFormat } from "./log.ts";
import type { ServiceConfig } from "./service.ts";
import { parsePolicy, type Policy } from "./decide/policy.ts";
import { type Credentials, parseBasicUsers } from "./server/auth.ts";
import { SERVER_DEFAULTS } from "./server/server.ts";
import { GUARD_DEFAULTS } from "./server/guard.ts";

/** The whole configuration of `serve` and `dev`, flags and environment merged. */
export interface Config extends ServiceConfig {
  logFormat: LogFormat;
  logLevel: string;
  help: boolean;
}

/** One flag: its environment variable and its defaults in `serve` and in `dev`. */
interface Flag {
  env?: string;
  type: "string" | "boolean";
  serve: string | boolean;
  dev: string | boolean;
  help: string;
}

/** Every flag of `serve` and `dev`, in the order `--help` lists them. */
export const FLAGS: Record<string, Flag> = {
  listen: {
    env: "NODE_HEAL_LISTEN",
    type: "string",
    serve: "0.0.0.0:8000",
    dev: "127.0.0.1:8000",
    help: "Webhook, health and metrics address (HOST:PORT)",
  },
  kubeconfig: {
    type: "string",
    serve: "",
    dev: "",
    help:
      "Kubeconfig file; default: in-cluster service account, then $KUBECONFIG, then ~/.kube/config",
  },
  "embedded-cluster": {
    env: "NODE_HEAL_EMBEDDED_CLUSTER",
    type: "boolean",
    serve: false,
    dev: true,
    help: "Run against an in-memory Kubernetes API server with a kind-like cluster",
  },
  "embedded-workers": {
    env: "NODE_HEAL_EMBEDDED_WORKERS",
    type: "string",
    serve: "3",
    dev: "3",
    help: "Workers in the embedded cluster",
  },
  "embedded-api-listen": {
    env: "NODE_HEAL_EMBEDDED_API_LISTEN",
    type: "string",
    serve: "127.0.0.1:0",
    dev: "127.0.0.1:6443",
    help: "Address of the embedded API server (port 0: any free port)",
  },
  "embedded-kubeconfig-out": {
    env: "NODE_HEAL_EMBEDDED_KUBECONFIG_OUT",
    type: "string",
    serve: "",
    dev: ".dev/kubeconfig",
    help: "Write the embedded cluster's kubeconfig here (for kubectl)",
  },
  "dry-run": {
    env: "NODE_HEAL_DRY_RUN",
    type: "boolean",
    serve: false,
    dev: false,
    help: "Decide and report, never write to the cluster (writes are sent with dryRun=All)",
  },
  "event-namespace": {
    env: "NODE_HEAL_EVENT_NAMESPACE",
    type: "string",
    serve: "default",
    dev: "default",
    help: "Namespace of the Events node-heal records on Nodes",
  },
  instance: {
    env: "NODE_HEAL_INSTANCE",
    type: "string",
    serve: "",
    dev: "",
    help: "Name of this replica in Events (default: $POD_NAME, then the host name)",
  },
  config: {
    env: "NODE_HEAL_CONFIG",
    type: "string",
    serve: "",
    dev: "",
    help:
      'Policy file (YAML): rules and gates; without it, heal="true" alerts are cordoned behind the default gates',
  },
  paused: {
    env: "NODE_HEAL_PAUSED",
    type: "boolean",
    serve: false,
    dev: false,
    help:
      "Start paused: no new remediations, releases still happen (also: annotate node-heal's namespace node-heal.io/paused=true)",
  },
  namespace: {
    env: "POD_NAMESPACE",
    type: "string",
    serve: "node-heal",
    dev: "node-heal",
    help: "node-heal's namespace, whose annotation node-heal.io/paused=true pauses node-heal",
  },
  "auth-token-file": {
    env: "NODE_HEAL_AUTH_TOKEN_FILE",
    type: "string",
    serve: "",
    dev: "",
    help:
      "File with the bearer token Alertmanager must send (or put the token itself in NODE_HEAL_AUTH_TOKEN)",
  },
  "basic-auth-file": {
    env: "NODE_HEAL_BASIC_AUTH_FILE",
    type: "string",
    serve: "",
    dev: "",
    help: "File of user:password lines for basic auth, besides or instead of the token",
  },
  "tls-cert": {
    env: "NODE_HEAL_TLS_CERT",
    type: "string",
    serve: "",
    dev: "",
    help: "Serve HTTPS with this certificate (PEM; with --tls-key)",
  },
  "tls-key": {
    env: "NODE_HEAL_TLS_KEY",
    type: "string",
    serve: "",
    dev: "",
    help: "The certificate's private key (PEM)",
  },
  "insecure-allow-unauthenticated": {
    env: "NODE_HEAL_INSECURE_ALLOW_UNAUTHENTICATED",
    type: "boolean",
    serve: false,
    dev: false,
    help:
      "Serve the webhook on a non-loopback address without credentials (anyone who reaches it can cordon nodes)",
  },
  "request-timeout": {
    env: "NODE_HEAL_REQUEST_TIMEOUT",
    type: "string",
    serve: "30s",
    dev: "30s",
    help:
      "How long one webhook request may take from its arrival: a body still arriving then is answered 408, handling still going on 503",
  },
  "max-body-bytes": {
    env: "NODE_HEAL_MAX_BODY_BYTES",
    type: "string",
    serve: String(SERVER_DEFAULTS.maxBodyBytes),
    dev: String(SERVER_DEFAULTS.maxBodyBytes),
    help: "Largest webhook body accepted, in bytes; a larger one is answered 413 as it arrives",
  },
  "max-in-flight": {
    env: "NODE_HEAL_MAX_IN_FLIGHT",
    type: "string",
    serve: String(SERVER_DEFAULTS.maxInFlight),
    dev: String(SERVER_DEFAULTS.maxInFlight),
    help: "Webhook requests handled at once; more are answered 503 with Retry-After",
  },
  "header-timeout": {
    env: "NODE_HEAL_HEADER_TIMEOUT",
    type: "string",
    serve: `${GUARD_DEFAULTS.headerTimeoutMs / 1000}s`,
    dev: `${GUARD_DEFAULTS.headerTimeoutMs / 1000}s`,
    help: "How long a request's head may take before its connection is closed",
  },
  "idle-timeout": {
    env: "NODE_HEAL_IDLE_TIMEOUT",
    type: "string",
    serve: `${GUARD_DEFAULTS.idleTimeoutMs / 1000}s`,
    dev: `${GUARD_DEFAULTS.idleTimeoutMs / 1000}s`,
    help: "How long a kept-alive connection may wait for its next request before it is closed",
  },
  "max-connections": {
    env: "NODE_HEAL_MAX_CONNECTIONS",
    type: "string",
    serve: String(GUARD_DEFAULTS.maxConnections),
    dev: String(GUARD_DEFAULTS.maxConnections),
    help: "Connections open at once; a further one is closed as it arrives",
  },
  "hold-ttl": {
    env: "NODE_HEAL_HOLD_TTL",
    type: "string",
    serve: "4h",
    dev: "4h",
    help:
      "An alert not seen firing for this long is taken as resolved (a missed resolution); keep it above Alertmanager's repeat_interval",
  },
  "api-timeout": {
    env: "NODE_HEAL_API_TIMEOUT",
    type: "string",
    serve: "10s",
    dev: "10s",
    help: "How long one Kubernetes API call may take before node-heal answers 503",
  },
  "log-format": {
    env: "NODE_HEAL_LOG_FORMAT",
    type: "string",
    serve: "json",
    dev: "pretty",
    help: "Log format: json or pretty",
  },
  "log-level": {
    env: "NODE_HEAL_LOG_LEVEL",
    type: "string",
    serve: "info",
    dev: "info",
    help: "Log level: trace, debug, info, warning, error, fatal",
  },
  help: { type: "boolean", serve: false, dev: false, help: "Show this help" },
};

/** The `--help` text of `serve` or `dev`. */
export function usage(mode: "serve" | "dev"): string {
  const lines = Object.entries(FLAGS).map(([name, f]) => {
    const value = f.type === "string" ? ` ${name.toUpperCase().replaceAll("-", "_")}` : "";
    const def = f[mode] === "" || f[mode] === false ? "" : ` (default ${f[mode]})`;
    const env = f.env ? `; env ${f.env}` : "";
    return `  --${name}${value}\n      ${f.help}${def}${env}`;
  });
  return lines.join("\n");
}

/** Splits `HOST:PORT` (or `[IPv6]:PORT`) and checks both parts. */
export function parseListen(value: string, flag: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(
      `Cannot parse --${flag}: expected HOST:PORT such as 127.0.0.1:8000, got "${value}"`,
    );
  }
  return { hostname: m[1] ?? m[2], port };
}

function readFile(path: string, what: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    throw new Error(`Cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** The webhook's credentials from a token file, a token in the environment, a basic-auth file. */
function loadCredentials(
  tokenFile: string,
  token: string | undefined,
  basicFile: string,
): Credentials {
  const bearerTokens: string[] = [];
  if (tokenFile) {
    const t = readFile(tokenFile, "--auth-token-file").trim();
    if (t === "") throw new Error(`Cannot use --auth-token-file ${tokenFile}: it is empty`);
    bearerTokens.push(t);
  }
  if (token !== undefined && token.trim() !== "") bearerTokens.push(token.trim());
  const basicUsers = basicFile
    ? parseBasicUsers(readFile(basicFile, "--basic-auth-file"), `--basic-auth-file ${basicFile}`)
    : new Map<string, string>();
  return { bearerTokens, basicUsers };
}

function loadTls(cert: string, key: string): { cert: string; key: string } | undefined {
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new Error("Cannot serve TLS: give both --tls-cert and --tls-key");
  return { cert: readFile(cert, "--tls-cert"), key: readFile(key, "--tls-key") };
}

/** Reads and validates a policy file; throws naming the file, the field and the value. */
function loadPolicy(path: string): Policy {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    throw new Error(`Cannot load policy ${path}: ${(err as Error).message}`);
  }
  return parsePolicy(text, `policy ${path}`);
}

/** Parses a duration such as `500ms`, `90s`, `5m`, `4h` into milliseconds. */
export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms"] : NaN;
  if (!m || !(ms > 0)) {
    throw new Error(
      `Cannot parse --${flag}: expected a duration such as 90s, 5m or 4h, got "${value}"`,
    );
  }
  return ms;
}

/** Parses a whole number from `min` to `max` given to `--flag`. */
export function parseCount(value: string, flag: string, range: { min: number; max: number }) {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < range.min || n > range.max) {
    throw new Error(
      `Cannot parse --${flag}: expected a whole number from ${range.min} to ${range.max}, got "${value}"`,
    );
  }
  return n;
}

function parseBool(value: string, name: string): boolean {
  if (["true", "1", "yes"].includes(value.toLowerCase())) return true;
  if (["false", "0", "no", ""].includes(value.toLowerCase())) return false;
  throw new Error(`Cannot parse ${name}: expected true or false, got "${value}"`);
}

/** Parses the flags of `serve` or `dev`, environment variables filling what flags leave unset. */
export function parseConfig(
  args: string[],
  mode: "serve" | "dev",
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Config {
  const options = Object.fromEntries(
    Object.entries(FLAGS).map((
      [name, f],
    ) => [name, name === "help" ? { type: f.type, short: "h" } : { type: f.type }]),
  ) as Record<string, { type: "string" | "boolean"; short?: string }>;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new Error(`Cannot parse flags: ${(err as Error).message}`);
  }
  const get = (name: string): string | boolean => {
    const f = FLAGS[name];
    if (values[name] !== undefined) return values[name]!;
    const fromEnv = f.env ? env(f.env) : undefined;
    if (fromEnv !== undefined) return f.type === "boolean" ? parseBool(fromEnv, f.env!) : fromEnv;
    return f[mode];
  };
  const str = (name: string) => String(get(name));
  const workers = parseCount(str("embedded-workers"), "embedded-workers", { min: 0, max: 100_000 });
  const logFormat = str("log-format");
  if (logFormat !== "json" && logFormat !== "pretty") {
    throw new Error(`Cannot parse --log-format: expected json or pretty, got "${logFormat}"`);
  }
  const embedded = get("embedded-cluster") === true;
  if (embedded && str("kubeconfig") !== "") {
    throw new Error("Cannot use --kubeconfig with --embedded-cluster: choose one cluster");
  }
  return {
    help: get("help") === true,
    listen: parseListen(str("listen"), "listen"),
    kubeconfig: str("kubeconfig") || undefined,
    embedded: embedded
      ? {
        listen: parseListen(str("embedded-api-listen"), "embedded-api-listen"),
        workers,
        kubeconfigOut: str("embedded-kubeconfig-out") || undefined,
      }
      : undefined,
    dryRun: get("dry-run") === true,
    eventNamespace: str("event-namespace"),
    holdTtlMs: parseDuration(str("hold-ttl"), "hold-ttl"),
    policy: str("config") ? loadPolicy(str("config")) : undefined,
    credentials: loadCredentials(
      str("auth-token-file"),
      env("NODE_HEAL_AUTH_TOKEN"),
      str("basic-auth-file"),
    ),
    tls: loadTls(str("tls-cert"), str("tls-key")),
    insecureAllowUnauthenticated: get("insecure-allow-unauthenticated") === true,
    requestTimeoutMs: parseDuration(str("request-timeout"), "request-timeout"),
    maxBodyBytes: parseCount(str("max-body-bytes"), "max-body-bytes", { min: 1024, max: 64 << 20 }),
    maxInFlight: parseCount(str("max-in-flight"), "max-in-flight", { min: 1, max: 10_000 }),
    headerTimeoutMs: parseDuration(str("header-timeout"), "header-timeout"),
    idleTimeoutMs: parseDuration(str("idle-timeout"), "idle-timeout"),
    maxConnections: parseCount(str("max-connections"), "max-connections", {
      min: 1,
      max: 1_000_000,
    }),
    paused: get("paused") === true,
    namespace: str("namespace"),
    apiTimeoutMs: parseDuration(str("api-timeout"), "api-timeout"),
    instance: str("instance") || env("POD_NAME") || env("HOSTNAME") || "node-heal",
    logFormat,
    logLevel: str("log-level"),
  };
}
