import { parseArgs } from "node:util";
import type { LogFormat } from "../base/log.ts";
import type { Election, ServiceConfig } from "./service_config.ts";
import { CLUSTER_VALUE } from "../decide/policy.ts";
import { type Credentials, parseBasicUsers } from "../server/auth.ts";
import { defaultOf, FLAGS, flagsOf, type Mode } from "./flags.ts";
import { flagError } from "./flag_errors.ts";
import { UsageError } from "../base/usage_error.ts";
import { MAX_TIMEOUT_MS, parseCount, parseDuration, parseListen } from "./flag_values.ts";
import { loadPolicy } from "./policy_file.ts";
import { whyUnreadable } from "../base/bounded_read.ts";

export { FLAGS, usage } from "./flags.ts";
export { MAX_TIMEOUT_MS, parseCount, parseDuration, parseListen } from "./flag_values.ts";
export { loadPolicy } from "./policy_file.ts";

/** The whole configuration of `serve` and `dev`, flags and environment merged. */
export interface Config extends ServiceConfig {
  /** Dev mode's embedded API server, when it runs one (never in `serve`). */
  embedded?: {
    listen: { hostname: string; port: number };
    workers: number;
    /** Where to write its kubeconfig, if anywhere. */
    kubeconfigOut?: string;
  };
  logFormat: LogFormat;
  logLevel: string;
  help: boolean;
}

function readFile(path: string, what: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    throw new Error(`Cannot read ${what} ${path}: ${whyUnreadable(err)}`);
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
  if (!cert || !key) throw new UsageError("Cannot serve TLS: give both --tls-cert and --tls-key");
  return { cert: readFile(cert, "--tls-cert"), key: readFile(key, "--tls-key") };
}

function parseBool(value: string, name: string): boolean {
  if (["true", "1", "yes"].includes(value.toLowerCase())) return true;
  if (["false", "0", "no", ""].includes(value.toLowerCase())) return false;
  throw new UsageError(`Cannot parse ${name}: expected true or false, got "${value}"`);
}

/**
 * Reads a mode's flags, environment variables filling what flags leave unset, then the mode's
 * defaults; gives a getter by flag name. Refuses a flag of another mode, naming where it belongs.
 */
function readFlags(
  args: string[],
  mode: Mode,
  env: (name: string) => string | undefined,
): (name: string) => string | boolean {
  const options = Object.fromEntries(
    flagsOf(mode).map((
      [name, f],
    ) => [name, name === "help" ? { type: f.type, short: "h" } : { type: f.type }]),
  ) as Record<string, { type: "string" | "boolean"; short?: string }>;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw flagError((err as Error).message, mode);
  }
  return (name: string): string | boolean => {
    const f = FLAGS[name];
    if (values[name] !== undefined) return values[name]!;
    const fromEnv = f.env ? env(f.env) : undefined;
    if (fromEnv !== undefined) return f.type === "boolean" ? parseBool(fromEnv, f.env!) : fromEnv;
    return defaultOf(f, mode);
  };
}

/** Checks `--cluster-name`: a label value, as the policy's `cluster:` takes one. */
function clusterNameOf(value: string): string {
  if (!CLUSTER_VALUE.test(value)) {
    throw new UsageError(
      `Cannot parse --cluster-name: expected a label value of 1 to 253 printable characters, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return value;
}

/** Checks `--log-format`. */
function logFormatOf(value: string): LogFormat {
  if (value !== "json" && value !== "pretty") {
    throw new UsageError(`Cannot parse --log-format: expected json or pretty, got "${value}"`);
  }
  return value;
}

/** The embedded cluster's size and address, from the `--embedded-*` flags. */
function embeddedOf(str: (name: string) => string): NonNullable<Config["embedded"]> {
  return {
    listen: parseListen(str("embedded-api-listen"), "embedded-api-listen"),
    workers: parseCount(str("embedded-workers"), "embedded-workers", { min: 0, max: 100_000 }),
    kubeconfigOut: str("embedded-kubeconfig-out") || undefined,
  };
}

/** The configuration of `cluster` mode: the embedded cluster alone, no node-heal. */
export interface ClusterConfig {
  embedded: NonNullable<Config["embedded"]>;
  logFormat: LogFormat;
  logLevel: string;
  help: boolean;
}

/** Parses the flags of `cluster` mode; refuses node-heal's own flags, naming where they go. */
export function parseClusterConfig(
  args: string[],
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): ClusterConfig {
  const get = readFlags(args, "cluster", env);
  const str = (name: string) => String(get(name));
  return {
    help: get("help") === true,
    embedded: embeddedOf(str),
    logFormat: logFormatOf(str("log-format")),
    logLevel: str("log-level"),
  };
}

/** Parses the flags of `serve` or `dev`, environment variables filling what flags leave unset. */
export function parseConfig(
  args: string[],
  mode: "serve" | "dev",
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Config {
  const get = readFlags(args, mode, env);
  const str = (name: string) => String(get(name));
  const logFormat = logFormatOf(str("log-format"));
  // The embedded cluster is dev mode's alone: serve takes none of its flags, nor their variables.
  const embedded = mode === "dev" && get("embedded-cluster") === true;
  if (embedded && str("kubeconfig") !== "") {
    throw new UsageError("Cannot use --kubeconfig with --embedded-cluster: choose one cluster");
  }
  return {
    help: get("help") === true,
    listen: parseListen(str("listen"), "listen"),
    kubeconfig: str("kubeconfig") || undefined,
    embedded: embedded ? embeddedOf(str) : undefined,
    dryRun: get("dry-run") === true,
    eventNamespace: str("event-namespace"),
    holdTtlMs: parseDuration(str("hold-ttl"), "hold-ttl"),
    policy: str("config") ? loadPolicy(str("config")) : undefined,
    ...(str("config") ? { policyFile: str("config") } : {}),
    ...(str("cluster-name") ? { clusterName: clusterNameOf(str("cluster-name")) } : {}),
    credentials: loadCredentials(
      str("auth-token-file"),
      env("NODE_HEAL_AUTH_TOKEN"),
      str("basic-auth-file"),
    ),
    tls: loadTls(str("tls-cert"), str("tls-key")),
    insecureAllowUnauthenticated: get("insecure-allow-unauthenticated") === true,
    statusAuth: get("status-auth") === true,
    requestTimeoutMs: parseDuration(str("request-timeout"), "request-timeout", MAX_TIMEOUT_MS),
    maxBodyBytes: parseCount(str("max-body-bytes"), "max-body-bytes", { min: 1024, max: 64 << 20 }),
    maxInFlight: parseCount(str("max-in-flight"), "max-in-flight", { min: 1, max: 10_000 }),
    headerTimeoutMs: parseDuration(str("header-timeout"), "header-timeout", MAX_TIMEOUT_MS),
    idleTimeoutMs: parseDuration(str("idle-timeout"), "idle-timeout", MAX_TIMEOUT_MS),
    maxConnections: parseCount(str("max-connections"), "max-connections", {
      min: 1,
      max: 1_000_000,
    }),
    maxConnectionsPerClient: parseCount(
      str("max-connections-per-client"),
      "max-connections-per-client",
      { min: 1, max: 1_000_000 },
    ),
    paused: get("paused") === true,
    namespace: str("namespace"),
    election: get("leader-elect") === true ? electionOf(str) : undefined,
    apiTimeoutMs: parseDuration(str("api-timeout"), "api-timeout", MAX_TIMEOUT_MS),
    watchTimeoutMs: parseDuration(str("watch-timeout"), "watch-timeout", MAX_TIMEOUT_MS),
    instance: str("instance") || env("POD_NAME") || env("HOSTNAME") || "node-heal",
    logFormat,
    logLevel: str("log-level"),
  };
}

/** The leader election's durations, checked against each other. */
function electionOf(str: (name: string) => string): Election {
  const election = {
    leaseDurationMs: parseDuration(str("lease-duration"), "lease-duration", MAX_TIMEOUT_MS),
    renewDeadlineMs: parseDuration(str("renew-deadline"), "renew-deadline", MAX_TIMEOUT_MS),
    retryPeriodMs: parseDuration(str("retry-period"), "retry-period", MAX_TIMEOUT_MS),
    watchFailureTimeoutMs: parseDuration(
      str("watch-failure-timeout"),
      "watch-failure-timeout",
      MAX_TIMEOUT_MS,
    ),
  };
  if (election.renewDeadlineMs >= election.leaseDurationMs) {
    throw new UsageError("Cannot use --renew-deadline: it must be shorter than --lease-duration");
  }
  if (election.retryPeriodMs >= election.renewDeadlineMs) {
    throw new UsageError("Cannot use --retry-period: it must be shorter than --renew-deadline");
  }
  if (election.watchFailureTimeoutMs < election.retryPeriodMs) {
    throw new UsageError("Cannot use --watch-failure-timeout: it must be at least --retry-period");
  }
  return election;
}
