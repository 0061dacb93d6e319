// The flags of `node-heal backtest`: parsed and checked, naming the flag and the value.
import { parseArgs } from "node:util";
import { parseDuration } from "../config.ts";
import { DEFAULT_HOLD_TTL_MS } from "../decide/decision.ts";
import { DEFAULT_ROUTE, type Route } from "./alertmanager_sim.ts";

/** The backtest's settings, flags parsed. */
export interface BacktestConfig {
  prometheus: string;
  bearerToken?: string;
  from: Date;
  to: Date;
  stepMs: number;
  selector: string;
  evalIntervalMs: number;
  /** Policy files, or none for the default policy. */
  configs: string[];
  /** Where the Nodes come from: `kube_node_*` series, or a cluster now (through `kubeconfig`, or the default lookup). */
  nodes: "prometheus" | "cluster";
  kubeconfig?: string;
  route: Route;
  holdTtlMs: number;
  drainMs: number;
  replaceMs: number;
  json: boolean;
  html?: string;
}

export const USAGE = `node-heal backtest: what a policy would have done with past alerts

Usage:
  deno task backtest --prometheus URL --from 7d [flags]
  node-heal backtest --prometheus URL --from 2026-11-01T00:00:00Z --to 2026-11-08T00:00:00Z

Reads ALERTS{alertstate="firing",<selector>} from Prometheus (query_range), rebuilds the
notifications Alertmanager would have sent, and replays them through node-heal's own decisions
and gates with a simulated clock and cluster. Nothing is written anywhere.

Flags:
  --prometheus URL          Prometheus server to read history from (required)
  --bearer-token-file FILE  Token sent to Prometheus as Authorization: Bearer
  --from TIME|AGO           Start: RFC 3339, or a duration before --to (7d, 36h) (required)
  --to TIME|AGO             End: RFC 3339, or a duration before now (default now)
  --step DURATION           Resolution of the history read (default 60s)
  --selector MATCHERS       Which alerts, PromQL matchers (default heal="true")
  --eval-interval DURATION  The alert rules' evaluation interval (default 1m)
  --config FILE             Policy file; give it twice to compare two policies (default: built-in)
  --nodes prometheus|cluster Where the Nodes come from: kube_node_* series (default), or the
                            cluster as it is now (--kubeconfig, else in-cluster, $KUBECONFIG, ~/.kube/config)
  --kubeconfig FILE         The cluster of --nodes cluster (implies it)
  --group-by LABELS         Alertmanager route group_by, comma-separated (default alertname,instance)
  --group-wait DURATION     (default 10s)
  --group-interval DURATION (default 1m)
  --repeat-interval DURATION (default 1h)
  --hold-ttl DURATION       The service's --hold-ttl (default 4h)
  --drain-duration DURATION How long a drain takes in the replay (default 5m)
  --replace-duration DURATION How long a replacement takes in the replay (default 10m)
  --json                    Print the report as JSON
  --html FILE               Also write the report as a self-contained HTML page (- prints it)
  -h, --help                This help
`;

/** Parses `--from`/`--to`: an RFC 3339 time, or a duration (`7d`, `36h`) before `base`. */
export function parseTime(value: string, flag: string, base: Date): Date {
  const days = /^(\d+)d$/.exec(value);
  const ago = days ? Number(days[1]) * 86_400_000 : undefined;
  if (ago !== undefined) return new Date(base.getTime() - ago);
  if (/^\d+(\.\d+)?(ms|s|m|h)$/.test(value)) {
    return new Date(base.getTime() - parseDuration(value, flag));
  }
  const at = /^\d{4}-\d\d-\d\dT/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) {
    throw new Error(
      `Cannot parse --${flag}: expected an RFC 3339 time such as 2026-11-01T00:00:00Z or a duration such as 7d, got "${value}"`,
    );
  }
  return new Date(at);
}

/** Reads the backtest's flags; throws naming the flag and the value. */
export function parseBacktestArgs(args: string[], now: Date): BacktestConfig | "help" {
  const strings = [
    "prometheus",
    "bearer-token-file",
    "from",
    "to",
    "step",
    "selector",
    "eval-interval",
    "kubeconfig",
    "nodes",
    "group-by",
    "group-wait",
    "group-interval",
    "repeat-interval",
    "hold-ttl",
    "drain-duration",
    "replace-duration",
    "html",
  ];
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        ...Object.fromEntries(strings.map((s) => [s, { type: "string" as const }])),
        config: { type: "string", multiple: true },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}; see node-heal backtest --help`);
  }
  if (values.help) return "help";
  const str = (name: string) => values[name] as string | undefined;
  const duration = (name: string, fallback: number) => {
    const v = str(name);
    return v === undefined ? fallback : parseDuration(v, name);
  };
  if (!str("prometheus")) throw new Error("Cannot backtest: give --prometheus URL");
  if (!str("from")) throw new Error("Cannot backtest: give --from (an RFC 3339 time, or 7d)");
  const to = str("to") ? parseTime(str("to")!, "to", now) : now;
  const from = parseTime(str("from")!, "from", to);
  if (from.getTime() >= to.getTime()) {
    throw new Error(
      `Cannot backtest from ${from.toISOString()} to ${to.toISOString()}: --from must be before --to`,
    );
  }
  const configs = (values.config as string[] | undefined) ?? [];
  if (configs.length > 4) throw new Error("Cannot compare more than 4 policies at once");
  if (values.json && str("html") === "-") {
    throw new Error("Cannot print both --json and --html -: give --html a file");
  }
  const tokenFile = str("bearer-token-file");
  return {
    prometheus: str("prometheus")!,
    ...(tokenFile ? { bearerToken: readToken(tokenFile) } : {}),
    from,
    to,
    stepMs: duration("step", 60_000),
    selector: str("selector") ?? 'heal="true"',
    evalIntervalMs: duration("eval-interval", 60_000),
    configs,
    nodes: nodesFrom(str("nodes"), str("kubeconfig")),
    ...(str("kubeconfig") ? { kubeconfig: str("kubeconfig") } : {}),
    route: {
      receiver: DEFAULT_ROUTE.receiver,
      groupBy: str("group-by")?.split(",").map((s) => s.trim()).filter(Boolean) ??
        DEFAULT_ROUTE.groupBy,
      groupWaitMs: duration("group-wait", DEFAULT_ROUTE.groupWaitMs),
      groupIntervalMs: duration("group-interval", DEFAULT_ROUTE.groupIntervalMs),
      repeatIntervalMs: duration("repeat-interval", DEFAULT_ROUTE.repeatIntervalMs),
    },
    holdTtlMs: duration("hold-ttl", DEFAULT_HOLD_TTL_MS),
    drainMs: duration("drain-duration", 5 * 60_000),
    replaceMs: duration("replace-duration", 10 * 60_000),
    json: values.json === true,
    ...(str("html") ? { html: str("html") } : {}),
  };
}

function nodesFrom(value: string | undefined, kubeconfig: string | undefined) {
  if (value === undefined) return kubeconfig ? "cluster" : "prometheus";
  if (value === "prometheus" && kubeconfig) {
    throw new Error(
      "Cannot use --kubeconfig with --nodes prometheus: choose where the Nodes come from",
    );
  }
  if (value === "prometheus" || value === "cluster") return value;
  throw new Error(`Cannot parse --nodes: expected prometheus or cluster, got "${value}"`);
}

function readToken(path: string): string {
  try {
    const token = Deno.readTextFileSync(path).trim();
    if (token) return token;
  } catch (err) {
    throw new Error(`Cannot read --bearer-token-file ${path}: ${(err as Error).message}`);
  }
  throw new Error(`Cannot use --bearer-token-file ${path}: it is empty`);
}
