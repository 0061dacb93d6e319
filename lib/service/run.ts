import { catchUnhandled, type UnhandledKind } from "../base/background.ts";
import type { Config } from "./config.ts";
import { log, setupLogging } from "../base/log.ts";
import type { Metrics } from "../report/metrics.ts";
import { type Service, startService } from "./service.ts";
import { VERSION } from "../base/version.ts";
import { warnDangers } from "./policy_reload.ts";
import { DEFAULT_POLICY, withClusterName } from "../decide/policy.ts";
import { bound, checkFree } from "./listen_check.ts";

/** What an entry point adds to a run: its own configuration to log, and what to stop after the service. */
export interface RunOptions {
  /** `serve` or `dev`, for the start-up line. */
  mode: "serve" | "dev";
  /** Where the policy came from, when not from --config or the default. */
  policySource?: string;
  /** More of the effective configuration, for the start-up line (secrets never). */
  extra?: Record<string, unknown>;
  /**
   * Told once the service runs, its port bound, and awaited (dev mode writes its kubeconfig
   * only then: a start that fails must not leave a running instance's kubeconfig rewritten).
   */
  started?: (service: Service) => void | Promise<void>;
  /** Stopped after the service (dev mode's embedded cluster). */
  close?: () => Promise<void>;
}

/**
 * Runs node-heal as a process: logging, the service, one start-up line with the effective
 * configuration, and a graceful stop on SIGINT or SIGTERM. Resolves with the exit code.
 */
export async function runService(config: Config, options: RunOptions): Promise<number> {
  // A busy --listen fails at once, naming the address and the flag, not after a sync.
  const listen = {
    addr: config.listen,
    flag: "listen",
    holder: options.mode === "dev" ? "another deno task dev" : "another node-heal",
  };
  await checkFree(listen);
  await setupLogging({ format: config.logFormat, level: config.logLevel });
  // The dangers the policy acknowledges: one warning line each (a reload says its own).
  if (config.policy) warnDangers(config.policy);
  const escapes = catchEscapes();
  try {
    const service = await bound(() => startService(config), listen);
    escapes.counting(service.metrics);
    return await serve(service, config, options);
  } finally {
    escapes.stop();
  }
}

/**
 * Logs and counts, for the whole process, what escapes every background task's handler (a bug),
 * and keeps the process going: Deno would end it, and every replica in turn with it. What comes
 * before the service's metrics exist is counted once they do.
 */
function catchEscapes(): { counting(metrics: Metrics): void; stop(): void } {
  let metrics: Metrics | undefined;
  const early: UnhandledKind[] = [];
  const stop = catchUnhandled((kind) => {
    if (metrics) metrics.unhandledErrors.inc({ kind });
    else early.push(kind);
  });
  return {
    counting(m) {
      metrics = m;
      for (const kind of early.splice(0)) m.unhandledErrors.inc({ kind });
    },
    stop,
  };
}

/** Runs a started service until SIGINT or SIGTERM, then stops it; resolves with the exit code. */
async function serve(service: Service, config: Config, options: RunOptions): Promise<number> {
  const logger = log("main");
  service.metrics.runtime.start();
  // Before the start-up line: whoever waits for "listening on" finds what started() made.
  await options.started?.(service);
  logger.info("node-heal {version} {mode} listening on {url}", {
    version: VERSION,
    mode: options.mode,
    url: service.url,
    config: {
      listen: `${config.listen.hostname}:${config.listen.port}`,
      kubeconfigSource: service.kubeconfigSource,
      kubeconfig: config.kubeconfig,
      ...options.extra,
      dryRun: config.dryRun,
      eventNamespace: config.eventNamespace,
      instance: config.instance,
      policy: options.policySource ?? (config.policy ? "from --config" : "default"),
      cluster: withClusterName(config.policy ?? DEFAULT_POLICY, config.clusterName).cluster ??
        "any",
      paused: config.paused,
      namespace: config.namespace,
      auth: {
        bearerTokens: config.credentials?.bearerTokens.length ?? 0,
        basicUsers: config.credentials?.basicUsers.size ?? 0,
      },
      tls: config.tls !== undefined,
      holdTtlMs: config.holdTtlMs,
      requestTimeoutMs: config.requestTimeoutMs,
      maxBodyBytes: config.maxBodyBytes,
      maxInFlight: config.maxInFlight,
      headerTimeoutMs: config.headerTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      maxConnections: config.maxConnections,
      maxConnectionsPerClient: config.maxConnectionsPerClient,
      apiTimeoutMs: config.apiTimeoutMs,
      watchTimeoutMs: config.watchTimeoutMs,
      logFormat: config.logFormat,
      logLevel: config.logLevel,
    },
  });
  service.metrics.background.run("node-watch", async () => {
    await service.synced;
    logger.info("Ready: {nodes} nodes in the index", { nodes: service.index.size });
  });
  const { promise: stopped, resolve } = Promise.withResolvers<string>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => resolve(signal));
  }
  const signal = await stopped;
  logger.info("Shutting down on {signal}", { signal });
  service.metrics.runtime.stop();
  await service.close();
  await options.close?.();
  logger.info("Stopped");
  return 0;
}
