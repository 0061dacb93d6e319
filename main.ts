import { parseConfig, usage } from "./lib/config.ts";
import { log, setupLogging } from "./lib/log.ts";
import { startService } from "./lib/service.ts";

const USAGE = `node-heal: heal Kubernetes nodes from Prometheus alerts

Usage:
  node-heal serve [flags]   Serve the Alertmanager webhook and act on the cluster
  node-heal dev [flags]     Same, against an embedded cluster on 127.0.0.1:6443, webhook on
                            127.0.0.1:8000, kubeconfig in .dev/kubeconfig, pretty logs

Flags (defaults of serve; dev changes those it names above):
${usage("serve")}
`;

async function run(mode: "serve" | "dev", args: string[]): Promise<number> {
  const config = parseConfig(args, mode);
  if (config.help) {
    console.log(USAGE);
    return 0;
  }
  await setupLogging({ format: config.logFormat, level: config.logLevel });
  const logger = log("main");
  const service = await startService(config);
  logger.info("node-heal {mode} listening on {url}", {
    mode,
    url: service.url,
    config: {
      listen: `${config.listen.hostname}:${config.listen.port}`,
      kubeconfigSource: service.kubeconfigSource,
      kubeconfig: config.kubeconfig,
      embeddedCluster: service.cluster
        ? { url: service.cluster.url, workers: config.embedded?.workers }
        : undefined,
      embeddedKubeconfig: config.embedded?.kubeconfigOut,
      dryRun: config.dryRun,
      eventNamespace: config.eventNamespace,
      instance: config.instance,
      policy: config.policy ? "from --config" : "default",
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
      apiTimeoutMs: config.apiTimeoutMs,
      logFormat: config.logFormat,
      logLevel: config.logLevel,
    },
  });
  if (service.cluster && config.embedded?.kubeconfigOut) {
    logger.info(
      "Embedded Kubernetes API server on {api}; try: kubectl --kubeconfig {kubeconfig} get nodes",
      {
        api: service.cluster.url,
        kubeconfig: config.embedded.kubeconfigOut,
      },
    );
  }
  service.synced.then(() =>
    logger.info("Ready: {nodes} nodes in the index", { nodes: service.index.size })
  );
  const { promise: stopped, resolve } = Promise.withResolvers<string>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => resolve(signal));
  }
  const signal = await stopped;
  logger.info("Shutting down on {signal}", { signal });
  await service.close();
  logger.info("Stopped");
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "serve":
      case "dev":
        return await run(command, rest);
      case "-h":
      case "--help":
      case "help":
        console.log(USAGE);
        return 0;
      case undefined:
        console.error(USAGE);
        return 2;
      default:
        console.error(`Unknown command "${command}"; expected "serve" or "dev"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    console.error(`node-heal: ${(err as Error).message}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
