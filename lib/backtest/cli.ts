// `node-heal backtest` (`deno task backtest`): reads alert history from Prometheus, rebuilds the
// notifications Alertmanager sent, replays them through node-heal's decisions once per policy,
// and prints the report (a table, `--json`, or an `--html` page).
import { parseArgs } from "node:util";
import { loadPolicy, parseDuration } from "../config.ts";
import { DEFAULT_POLICY, type Policy } from "../decide/policy.ts";
import { DEFAULT_HOLD_TTL_MS } from "../decide/decision.ts";
import type { Node } from "../node.ts";
import { versionLine } from "../version.ts";
import { DEFAULT_ROUTE, deliveries, type Route } from "./alertmanager_sim.ts";
import { nodesFromKubeconfig, nodesFromPrometheus } from "./cluster_source.ts";
import { alertsQuery, alertsSelector, type Episode, episodes } from "./history.ts";
import { PrometheusApi } from "./prometheus.ts";
import { replay } from "./replay.ts";
import { summarize, unmatched } from "./report.ts";
import type { BacktestReport } from "./report_types.ts";
import { renderText } from "./render_text.ts";

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

/** The history a backtest replays: the firing periods in the window. */
export async function readHistory(api: PrometheusApi, config: BacktestConfig): Promise<Episode[]> {
  const series = await api.queryRange(alertsQuery(config.selector), {
    from: config.from,
    to: config.to,
    stepMs: config.stepMs,
  });
  return episodes(series, {
    evalIntervalMs: config.evalIntervalMs,
    stepMs: config.stepMs,
    to: config.to,
  });
}

/** Runs the whole backtest: history, Nodes, one replay per policy, the report. */
export async function backtest(config: BacktestConfig): Promise<BacktestReport> {
  const policies: { name: string; policy: Policy }[] = config.configs.length === 0
    ? [{ name: "default", policy: DEFAULT_POLICY }]
    : config.configs.map((path) => ({ name: path, policy: loadPolicy(path) }));
  const api = new PrometheusApi(config.prometheus, {
    ...(config.bearerToken ? { headers: { authorization: `Bearer ${config.bearerToken}` } } : {}),
  });
  const history = await readHistory(api, config);
  const nodes: Node[] = config.nodes === "cluster"
    ? await nodesFromKubeconfig(config.kubeconfig)
    : await nodesFromPrometheus(api, {
      from: config.from,
      to: config.to,
      policy: policies.map((p) => p.policy),
    });
  const sent = deliveries(history, config.route, config.to);
  return {
    kind: "node-heal-backtest",
    version: 1,
    generatedBy: versionLine(),
    source: {
      prometheus: api.url,
      selector: alertsSelector(config.selector),
      nodes: config.nodes === "cluster" ? "kubeconfig" : "prometheus",
    },
    window: {
      from: config.from.toISOString(),
      to: config.to.toISOString(),
      stepSeconds: config.stepMs / 1000,
    },
    alertmanager: {
      groupBy: config.route.groupBy,
      groupWaitMs: config.route.groupWaitMs,
      groupIntervalMs: config.route.groupIntervalMs,
      repeatIntervalMs: config.route.repeatIntervalMs,
    },
    alerts: {
      series: new Set(history.map((e) => e.fingerprint)).size,
      episodes: history.length,
      notifications: sent.length,
      unmatched: unmatched(history, nodes),
    },
    cluster: { nodes: nodes.length },
    runs: policies.map(({ name, policy }) =>
      summarize(
        replay(sent, {
          policy,
          nodes,
          from: config.from,
          to: config.to,
          holdTtlMs: config.holdTtlMs,
          drainMs: config.drainMs,
          replaceMs: config.replaceMs,
        }),
        { policy, name, nodes, to: config.to },
      )
    ),
  };
}

/** `node-heal backtest [flags]`: the exit code. */
export async function runBacktest(args: string[]): Promise<number> {
  let config: BacktestConfig | "help";
  try {
    config = parseBacktestArgs(args, new Date());
  } catch (err) {
    console.error(`node-heal backtest: ${(err as Error).message}`);
    return 2;
  }
  if (config === "help") {
    console.log(USAGE);
    return 0;
  }
  try {
    const report = await backtest(config);
    if (config.html) {
      const { renderHtml } = await import("./render_html.ts");
      const page = renderHtml(report);
      // `--html -` prints the page: the compiled binary may not write files.
      if (config.html === "-") {
        console.log(page);
        return 0;
      }
      await Deno.writeTextFile(config.html, page);
    }
    console.log(config.json ? JSON.stringify(report, null, 2) : renderText(report));
    if (config.html && !config.json) console.log(`\nHTML report: ${config.html}`);
    return 0;
  } catch (err) {
    console.error(`node-heal backtest: ${(err as Error).message}`);
    return 1;
  }
}
