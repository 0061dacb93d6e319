// What `serve` (and dev mode) is configured with, and the one check of it that refuses to start:
// a webhook open to the network without credentials.
import type { Policy } from "../decide/policy.ts";
import { type Credentials, hasCredentials } from "../server/auth.ts";

/** Everything `serve` is configured with. */
export interface ServiceConfig {
  /** Webhook address. */
  listen: { hostname: string; port: number };
  /** `--kubeconfig`; unset means in-cluster, then `$KUBECONFIG`, then `~/.kube/config`. */
  kubeconfig?: string;
  /** A kubeconfig as text, instead of `kubeconfig` (dev mode gives its embedded cluster's). */
  kubeconfigYaml?: string;
  /** Decide and report, never write (writes go with `dryRun=All`). */
  dryRun: boolean;
  /** `reportingInstance` of Events: which replica wrote them. */
  instance: string;
  /** Namespace of Node Events. */
  eventNamespace: string;
  /** A hold not refreshed by a firing notification for this long is taken as resolved (ms). */
  holdTtlMs: number;
  /** How long one Kubernetes API call may take (ms). */
  apiTimeoutMs: number;
  /**
   * How long one Node watch request stays open before the API server ends it (ms, whole seconds
   * sent; default 4 minutes): a dead watch connection is found within this plus 10 s.
   */
  watchTimeoutMs?: number;
  /** Rules and gates (`--config`); the default policy when absent. */
  policy?: Policy;
  /**
   * `--cluster-name`: alerts must carry `cluster=<this>` unless the policy sets `cluster:` itself
   * (the policy file's reloads included).
   */
  clusterName?: string;
  /** `--paused`: no new remediations (releases still happen). */
  paused?: boolean;
  /** node-heal's namespace; its annotation `node-heal.io/paused=true` pauses node-heal cluster-wide. */
  namespace?: string;
  /** Leader election on the Lease `node-heal` in `namespace`: only its holder acts. */
  election?: Election;
  /** How often that annotation is read (default 5 s). */
  pausePollMs?: number;
  /** First wait between drain rounds while budgets block (ms; default 500); for tests. */
  drainRetryMs?: number;
  /** How often a replacement in flight is looked at (ms; default 2000); for tests. */
  replacePollMs?: number;
  /** The policy's file (`--config`): read again every `policyPollMs`, an edit put in force. */
  policyFile?: string;
  /** How often the policy file is read again (ms; default 5000). */
  policyPollMs?: number;
  /** Webhook credentials; when any are set, every webhook request must carry them. */
  credentials?: Credentials;
  /** HTTPS instead of HTTP (PEM texts). */
  tls?: { cert: string; key: string };
  /** Whether `/status` and the status page need the credentials too. */
  statusAuth?: boolean;
  /** Allow a non-loopback webhook without credentials. */
  insecureAllowUnauthenticated?: boolean;
  /** How long one webhook request may take from its arrival, body included (ms). */
  requestTimeoutMs?: number;
  /** Largest webhook body accepted (bytes). */
  maxBodyBytes?: number;
  /** Webhook requests handled at once; more are answered 503. */
  maxInFlight?: number;
  /** How long a request's head may take (ms). */
  headerTimeoutMs?: number;
  /** How long a kept-alive connection may wait for its next request (ms). */
  idleTimeoutMs?: number;
  /** Connections open at once. */
  maxConnections?: number;
  /** Connections one client (IPv4 address, IPv6 /64) may hold at once. */
  maxConnectionsPerClient?: number;
}

/** Leader election's durations (ms). */
export interface Election {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** How long the leader keeps the Lease while its Node watch fails (default 20 s). */
  watchFailureTimeoutMs?: number;
}

/** Whether an address only this machine reaches. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\./.test(hostname);
}

/** Throws when the webhook would be open to the network without credentials and without consent. */
export function checkExposure(
  config: Pick<ServiceConfig, "listen" | "credentials" | "insecureAllowUnauthenticated">,
): void {
  if (
    !isLoopback(config.listen.hostname) && !hasCredentials(config.credentials) &&
    !config.insecureAllowUnauthenticated
  ) {
    throw new Error(
      `Refusing to serve the webhook on ${config.listen.hostname}:${config.listen.port} without ` +
        "credentials: whoever reaches it could cordon every node. Give --auth-token-file (or " +
        "NODE_HEAL_AUTH_TOKEN) or --basic-auth-file, or --insecure-allow-unauthenticated",
    );
  }
}
