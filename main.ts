// The production entry point: `node-heal serve`, the compiled binary's command. It imports no
// part of the embedded cluster; dev mode has its own entry point, lib/dev/dev_mode.ts.
import { asksVersion, versionLine } from "./lib/base/version.ts";
import { errorLine, exitCodeOf } from "./lib/base/usage_error.ts";

function usageText(flags: string): string {
  return `node-heal: heal Kubernetes nodes from Prometheus alerts

Usage:
  node-heal serve [flags]   Serve the Alertmanager webhook and act on the cluster
  node-heal backtest [flags] Replay past alerts from Prometheus through a policy (changes nothing)
  node-heal --version, -v   Print node-heal's version and Deno's (in every command)

Dev mode (an embedded cluster, no setup) runs from the source tree: deno task dev

Flags:
${flags}
`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Answered before the service's modules load: the client libraries they pull in read the
  // environment as they load, so `deno run main.ts --version` would need --allow-env.
  if (asksVersion(argv) || command === "version") {
    console.log(versionLine());
    return 0;
  }
  if (command === "backtest") {
    // A backtest reads Prometheus and changes nothing in any cluster: the service is not loaded.
    const { runBacktest } = await import("./lib/backtest/cli.ts");
    return await runBacktest(rest);
  }
  const { parseConfig, usage } = await import("./lib/service/config.ts");
  const { runService } = await import("./lib/service/run.ts");
  const USAGE = usageText(usage("serve"));
  try {
    switch (command) {
      case "serve": {
        const config = parseConfig(rest, "serve");
        if (config.help) {
          console.log(USAGE);
          return 0;
        }
        return await runService(config, { mode: "serve" });
      }
      case "dev":
        console.error(
          'node-heal: "dev" runs from the source tree, with its embedded cluster: deno task dev',
        );
        return 2;
      case "-h":
      case "--help":
      case "help":
        console.log(USAGE);
        return 0;
      case undefined:
        console.error('node-heal: Give a command, "serve" or "backtest"; see node-heal --help');
        return 2;
      default:
        console.error(
          errorLine(
            "node-heal",
            `Unknown command ${
              JSON.stringify(command.slice(0, 60))
            }; expected "serve" or "backtest"; see node-heal --help`,
          ),
        );
        return 2;
    }
  } catch (err) {
    // A usage error (a bad flag, a policy refused for what it says, a busy address): one line, exit
    // 2. Anything else (a file that cannot be read, a cluster out of reach): 1.
    console.error(errorLine("node-heal", err));
    return exitCodeOf(err);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
