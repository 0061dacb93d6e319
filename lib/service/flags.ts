import { GUARD_DEFAULTS, SERVER_DEFAULTS } from "../server/limits.ts";
import { formatDuration } from "../base/duration.ts";

/**
 * The command lines that take flags: `serve` (the binary), `dev` (node-heal beside an embedded
 * cluster) and `cluster` (the embedded cluster alone, for `serve` replicas to share).
 */
export type Mode = "serve" | "dev" | "cluster";

/** One flag: its environment variable and its defaults in `serve`, in `dev` and in `cluster`. */
export interface Flag {
  env?: string;
  type: "string" | "boolean";
  serve: string | boolean;
  dev: string | boolean;
  /** Its default in `cluster` mode, set for the flags that mode takes (the others it refuses). */
  cluster?: string | boolean;
  help: string;
  /** Set for a flag of dev mode alone (the embedded cluster's); `serve` refuses it. */
  devOnly?: true;
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
    devOnly: true,
  },
  "embedded-workers": {
    env: "NODE_HEAL_EMBEDDED_WORKERS",
    type: "string",
    serve: "3",
    dev: "3",
    cluster: "3",
    help: "Workers in the embedded cluster",
    devOnly: true,
  },
  "embedded-api-listen": {
    env: "NODE_HEAL_EMBEDDED_API_LISTEN",
    type: "string",
    serve: "127.0.0.1:0",
    dev: "127.0.0.1:6443",
    cluster: "127.0.0.1:6443",
    help: "Address of the embedded API server (port 0: any free port)",
    devOnly: true,
  },
  "embedded-kubeconfig-out": {
    env: "NODE_HEAL_EMBEDDED_KUBECONFIG_OUT",
    type: "string",
    serve: "",
    dev: ".dev/kubeconfig",
    cluster: ".dev/kubeconfig",
    help: "Write the embedded cluster's kubeconfig here (for kubectl)",
    devOnly: true,
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
  "cluster-name": {
    env: "NODE_HEAL_CLUSTER_NAME",
    type: "string",
    serve: "",
    dev: "",
    help:
      "Act only on alerts labelled cluster=NAME (the cluster's Prometheus external_labels), unless the policy sets cluster:; other alerts are answered 200 and skipped as otherCluster",
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
  "leader-elect": {
    env: "NODE_HEAL_LEADER_ELECT",
    type: "boolean",
    serve: false,
    dev: false,
    help:
      "Run as one of several replicas: only the holder of the Lease node-heal in --namespace acts; the others answer 503",
  },
  "lease-duration": {
    env: "NODE_HEAL_LEASE_DURATION",
    type: "string",
    serve: "15s",
    dev: "15s",
    help: "How long an unrenewed Lease stays its holder's, by each replica's own clock",
  },
  "renew-deadline": {
    env: "NODE_HEAL_RENEW_DEADLINE",
    type: "string",
    serve: "10s",
    dev: "10s",
    help:
      "How long the leader keeps acting without renewing the Lease (less than --lease-duration)",
  },
  "retry-period": {
    env: "NODE_HEAL_RETRY_PERIOD",
    type: "string",
    serve: "2s",
    dev: "2s",
    help: "How often a replica tries to take, and the leader renews, the Lease",
  },
  "watch-failure-timeout": {
    env: "NODE_HEAL_WATCH_FAILURE_TIMEOUT",
    type: "string",
    serve: "20s",
    dev: "20s",
    help:
      "How long the leader keeps the Lease while its Node watch fails; then it releases it for a healthy replica (at least --retry-period)",
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
  "status-auth": {
    env: "NODE_HEAL_STATUS_AUTH",
    type: "boolean",
    serve: false,
    dev: false,
    help:
      "Require the webhook's credentials for /status and the status page too (needs --auth-token-file or --basic-auth-file)",
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
      "How long one webhook request may take from its arrival: a body still arriving then, or handling still going on, is answered 503",
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
    serve: formatDuration(GUARD_DEFAULTS.headerTimeoutMs),
    dev: formatDuration(GUARD_DEFAULTS.headerTimeoutMs),
    help: "How long a request's head may take before its connection is closed",
  },
  "idle-timeout": {
    env: "NODE_HEAL_IDLE_TIMEOUT",
    type: "string",
    serve: formatDuration(GUARD_DEFAULTS.idleTimeoutMs),
    dev: formatDuration(GUARD_DEFAULTS.idleTimeoutMs),
    help: "How long a kept-alive connection may wait for its next request before it is closed",
  },
  "max-connections": {
    env: "NODE_HEAL_MAX_CONNECTIONS",
    type: "string",
    serve: String(GUARD_DEFAULTS.maxConnections),
    dev: String(GUARD_DEFAULTS.maxConnections),
    help:
      "Connections open at once; when all are taken an idle one is shed for a newcomer, else the head that waited longest (1 s or more), else the newcomer is closed",
  },
  "max-connections-per-client": {
    env: "NODE_HEAL_MAX_CONNECTIONS_PER_CLIENT",
    type: "string",
    serve: String(GUARD_DEFAULTS.maxConnectionsPerClient),
    dev: String(GUARD_DEFAULTS.maxConnectionsPerClient),
    help:
      "Connections one client (IPv4 address, IPv6 /64) may hold at once; past it its own idle one is shed, else the newcomer is closed",
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
  "watch-timeout": {
    env: "NODE_HEAL_WATCH_TIMEOUT",
    type: "string",
    serve: "4m",
    dev: "4m",
    help:
      "How long one Node watch request stays open before the API server ends it and node-heal makes it again (whole seconds); a watch connection that dies without a word is found within this plus 10s",
  },
  "log-format": {
    env: "NODE_HEAL_LOG_FORMAT",
    type: "string",
    serve: "json",
    dev: "pretty",
    cluster: "pretty",
    help: "Log format: json or pretty",
  },
  "log-level": {
    env: "NODE_HEAL_LOG_LEVEL",
    type: "string",
    serve: "info",
    dev: "info",
    cluster: "info",
    help: "Log level: trace, debug, info, warning, error, fatal",
  },
  help: { type: "boolean", serve: false, dev: false, cluster: false, help: "Show this help" },
};

/** The flags a mode takes, in `--help` order: `cluster` only those with a `cluster` default. */
export function flagsOf(mode: Mode): [string, Flag][] {
  return Object.entries(FLAGS).filter(([, f]) =>
    mode === "cluster" ? f.cluster !== undefined : mode === "dev" || !f.devOnly
  );
}

/** The default of a flag in a mode (`cluster` takes only the flags {@link flagsOf} gives it). */
export function defaultOf(f: Flag, mode: Mode): string | boolean {
  return f[mode] ?? "";
}

/** The `--help` text of a mode. */
export function usage(mode: Mode): string {
  const lines = flagsOf(mode).map(([name, f]) => {
    const value = f.type === "string" ? ` ${name.toUpperCase().replaceAll("-", "_")}` : "";
    const d = defaultOf(f, mode);
    const def = d === "" || d === false ? "" : ` (default ${d})`;
    const env = f.env ? `; env ${f.env}` : "";
    return `  --${name}${value}\n      ${f.help}${def}${env}`;
  });
  return [...lines, "  -v, --version\n      Print node-heal's version and Deno's, and exit"].join(
    "\n",
  );
}
