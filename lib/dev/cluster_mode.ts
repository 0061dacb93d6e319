// `deno task cluster`: the embedded Kubernetes API server alone, no node-heal, so several
// `deno task serve --kubeconfig .dev/kubeconfig` replicas can share one cluster. Like dev mode, it
// runs from the source tree; the production entry point (main.ts) never imports this.
import { parseClusterConfig, usage } from "../service/config.ts";
import { startEmbeddedCluster } from "../embedded/cluster.ts";
import { log, setupLogging } from "../base/log.ts";
import { writeKubeconfig } from "./kubeconfig_out.ts";
import { bound } from "../service/listen_check.ts";
import { asksVersion, versionLine } from "../base/version.ts";
import { errorLine, exitCodeOf } from "../base/usage_error.ts";

const USAGE = `node-heal cluster: the embedded Kubernetes API server alone, for node-heal replicas

Usage:
  deno task cluster [flags]

An embedded Kubernetes API server on 127.0.0.1:6443 with a kind-like cluster, its kubeconfig in
.dev/kubeconfig; no node-heal. Run replicas against it, each in its own terminal:

  deno task serve --kubeconfig .dev/kubeconfig --listen 127.0.0.1:8001 --instance a --leader-elect
  deno task serve --kubeconfig .dev/kubeconfig --listen 127.0.0.1:8002 --instance b --leader-elect

Flags:
${usage("cluster")}
`;

/** Runs cluster mode with these arguments; resolves with the exit code (2: bad flags). */
export async function runCluster(args: string[]): Promise<number> {
  if (asksVersion(args)) {
    console.log(versionLine());
    return 0;
  }
  let config;
  try {
    config = parseClusterConfig(args);
    if (config.help) {
      console.log(USAGE);
      return 0;
    }
    await setupLogging({ format: config.logFormat, level: config.logLevel });
  } catch (err) {
    console.error(`${errorLine("node-heal cluster", err)}; see deno task cluster --help`);
    return 2;
  }
  const logger = log("main");
  try {
    const { listen, workers, kubeconfigOut } = config.embedded;
    // Listening for the signals before anything is written: a caller that stops the cluster as
    // soon as its kubeconfig appears gets a clean stop.
    const { promise: stopped, resolve } = Promise.withResolvers<string>();
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve(signal));
    }
    const cluster = await bound(() => startEmbeddedCluster({ ...listen, workers }), {
      addr: listen,
      flag: "embedded-api-listen",
      holder: "another deno task cluster or dev",
    });
    try {
      if (kubeconfigOut) await writeKubeconfig(kubeconfigOut, cluster.kubeconfig());
      logger.info("Embedded Kubernetes API server on {api}, {workers} workers, no node-heal", {
        api: cluster.url,
        workers,
        kubeconfig: kubeconfigOut,
      });
      if (kubeconfigOut) {
        logger.info(
          "Try: kubectl --kubeconfig {kubeconfig} get nodes; node-heal replicas: deno task serve --kubeconfig {kubeconfig} --listen 127.0.0.1:8001 --instance a --leader-elect",
          { kubeconfig: kubeconfigOut },
        );
      }
      const signal = await stopped;
      logger.info("Shutting down on {signal}", { signal });
    } finally {
      await cluster.close();
    }
    logger.info("Stopped");
    return 0;
  } catch (err) {
    console.error(errorLine("node-heal cluster", err));
    return exitCodeOf(err);
  }
}

if (import.meta.main) {
  Deno.exit(await runCluster(Deno.args));
}
