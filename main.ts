import { parseArgs } from "node:util";
import { startEmbeddedCluster } from "./lib/embedded/cluster.ts";
import { log, type LogFormat, setupLogging } from "./lib/log.ts";

const USAGE = `node-heal: heal Kubernetes nodes from Prometheus alerts

Usage:
  node-heal dev [options]     Run the embedded Kubernetes API server for local work

Options of dev:
  --api-listen HOST:PORT      Address of the embedded API server (default 127.0.0.1:6443)
  --embedded-workers N        Workers in the embedded cluster (default 3)
  --kubeconfig-out PATH       Where to write its kubeconfig (default .dev/kubeconfig)
  --log-format json|pretty    Log format (default pretty; env NODE_HEAL_LOG_FORMAT)
  --log-level LEVEL           trace, debug, info, warning, error (default info; env NODE_HEAL_LOG_LEVEL)
  -h, --help                  Show this help
`;

/** Splits `HOST:PORT` (or `[IPv6]:PORT`) and checks both parts. */
export function parseListen(value: string, flag: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(
      `Cannot parse ${flag}: expected HOST:PORT such as 127.0.0.1:6443, got "${value}"`,
    );
  }
  return { hostname: m[1] ?? m[2], port };
}

function parseCount(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 100_000) {
    throw new Error(
      `Cannot parse ${flag}: expected a whole number from 0 to 100000, got "${value}"`,
    );
  }
  return n;
}

async function dev(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      "api-listen": { type: "string", default: "127.0.0.1:6443" },
      "embedded-workers": { type: "string", default: "3" },
      "kubeconfig-out": { type: "string", default: ".dev/kubeconfig" },
      "log-format": { type: "string", default: Deno.env.get("NODE_HEAL_LOG_FORMAT") ?? "pretty" },
      "log-level": { type: "string", default: Deno.env.get("NODE_HEAL_LOG_LEVEL") ?? "info" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  await setupLogging({ format: values["log-format"] as LogFormat, level: values["log-level"] });
  const logger = log("dev");
  const listen = parseListen(values["api-listen"], "--api-listen");
  const workers = parseCount(values["embedded-workers"], "--embedded-workers");
  const cluster = await startEmbeddedCluster({ ...listen, workers });
  const kubeconfigPath = values["kubeconfig-out"];
  const dir = kubeconfigPath.includes("/")
    ? kubeconfigPath.slice(0, kubeconfigPath.lastIndexOf("/"))
    : ".";
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(kubeconfigPath, cluster.kubeconfig(), { mode: 0o600 });
  logger.info("Embedded Kubernetes API server listening on {url} with {nodes} nodes", {
    url: cluster.url,
    nodes: workers + 1,
  });
  logger.info("Try: kubectl --kubeconfig {kubeconfig} get nodes", { kubeconfig: kubeconfigPath });
  const { promise: stopped, resolve } = Promise.withResolvers<void>();
  const stop = () => resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await stopped;
  logger.info("Shutting down");
  await cluster.close();
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "dev":
        await dev(rest);
        return 0;
      case undefined:
      case "-h":
      case "--help":
      case "help":
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        console.error(`Unknown command "${command}"; expected "dev"\n\n${USAGE}`);
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
