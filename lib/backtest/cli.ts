// `node-heal backtest` (`deno task backtest`): reads alert history from Prometheus, rebuilds the
// notifications Alertmanager sent, replays them through node-heal's decisions once per policy,
// and prints the report (a table, `--json`, or an `--html` page).
import { getHeapStatistics } from "node:v8";
import { resolve } from "node:path";
import { loadPolicy } from "../service/policy_file.ts";
import { DEFAULT_POLICY, type Policy } from "../decide/policy.ts";
import type { Node } from "../base/node.ts";
import { versionLine } from "../base/version.ts";
import { deliveries } from "./alertmanager_sim.ts";
import { type BacktestConfig, parseBacktestArgs, USAGE } from "./cli_args.ts";
import { nodesFromKubeconfig, nodesFromPrometheus } from "./cluster_source.ts";
import { alertsQuery, alertsSelector, type Episode, EpisodeReader } from "./history.ts";
import { intakeCheck } from "./intake_check.ts";
import { PrometheusApi } from "./prometheus.ts";
import { replay } from "./replay.ts";
import { comparedKeys, summarize, unmatched } from "./report.ts";
import { SelfRecoveryIndex } from "./self_recovery.ts";
import type { BacktestReport } from "./report_types.ts";
import { renderJson, writePieces } from "./render_json.ts";
import { renderText } from "./render_text.ts";
import { errorLine, exitCodeOf } from "../base/usage_error.ts";

/** The history a backtest replays: the firing periods in the window. */
export async function readHistory(api: PrometheusApi, config: BacktestConfig): Promise<Episode[]> {
  const { from, to, stepMs, evalIntervalMs } = config;
  const reader = new EpisodeReader({ evalIntervalMs, stepMs, to });
  for await (const chunk of api.rangeChunks(alertsQuery(config.selector), { from, to, stepMs })) {
    reader.add(chunk);
  }
  return reader.episodes();
}

/** The heap a replayed alert's decision takes, kept for the report (bytes, measured on a month). */
const DECISION_BYTES = 800;
/** And again while it is printed as JSON or an HTML page. */
const PRINTED_BYTES = 1000;

/** Heap statistics, as `node:v8` gives them. */
export interface Heap {
  /** The most the heap may take (Deno's `--v8-flags=--max-old-space-size`, 192 MB in the binary). */
  limit: number;
  used: number;
}

/**
 * Throws when the decisions of a replay would not fit in the heap: a clear error before the
 * replay starts rather than V8's crash at its end.
 */
export function checkHeap(
  decisions: number,
  options: { printed: boolean; heap?: Heap },
): void {
  const stats = getHeapStatistics();
  const heap = options.heap ?? { limit: stats.heap_size_limit, used: stats.used_heap_size };
  const need = decisions * (DECISION_BYTES + (options.printed ? PRINTED_BYTES : 0));
  if (heap.used + need <= 0.8 * heap.limit) return;
  const mb = (bytes: number) => `${Math.ceil(bytes / 2 ** 20).toLocaleString("en")} MB`;
  throw new Error(
    `Cannot replay ${decisions.toLocaleString("en")} alert deliveries in a heap of ${
      mb(heap.limit)
    }: they would take about ${mb(need)}; give a later --from, a narrower --selector or a ` +
      `longer --repeat-interval, or run deno task backtest with a larger heap ` +
      `(--v8-flags=--max-old-space-size=MB)`,
  );
}

/** Runs the whole backtest: history, Nodes, one replay per policy, the report. */
export async function backtest(config: BacktestConfig): Promise<BacktestReport> {
  const policies: { name: string; policy: Policy }[] = config.configs.length === 0
    ? [{ name: "default", policy: DEFAULT_POLICY }]
    : config.configs.map((path) => ({ name: path, policy: loadPolicy(path) }));
  const api = new PrometheusApi(config.prometheus, {
    timeoutMs: config.timeoutMs,
    limits: { bytes: config.maxAnswerBytes },
    ...(config.bearerToken ? { headers: { authorization: `Bearer ${config.bearerToken}` } } : {}),
  });
  const history = await readHistory(api, config);
  if (api.dropped > 0) {
    console.error(
      `node-heal backtest: Prometheus at ${api.url} answered ${api.dropped.toLocaleString("en")} ` +
        `sample${api.dropped === 1 ? "" : "s"} outside the window asked for; they were left out`,
    );
  }
  const nodes: Node[] = config.nodes === "cluster"
    ? await nodesFromKubeconfig(config.kubeconfig)
    : await nodesFromPrometheus(api, {
      from: config.from,
      to: config.to,
      policy: policies.map((p) => p.policy),
    });
  const sent = deliveries(history, config.route, config.to);
  const { accepted, refused } = await intakeCheck(sent);
  const alertsSent = accepted.reduce((n, d) => n + d.notification.alerts.length, 0);
  checkHeap(alertsSent * policies.length, { printed: config.json || config.html !== undefined });
  const recovery = new SelfRecoveryIndex(history, {
    from: config.from,
    withinMs: config.selfRecoveryWithinMs,
  });
  const selfRecovery = recovery.summary();
  const listed = selfRecovery.alerts.map((a) => a.alertname);
  const keys = comparedKeys(policies.map((p) => p.policy));
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
      ...(refused.notifications > 0 ? { refused } : {}),
      unmatched: unmatched(history, nodes),
    },
    cluster: { nodes: nodes.length },
    selfRecovery,
    runs: policies.map(({ name, policy }) =>
      summarize(
        replay(accepted, { policy, nodes, ...replayTimes(config), domainKeys: keys }),
        { policy, name, nodes, to: config.to, recovery: { index: recovery, listed } },
      )
    ),
  };
}

/** The times a replay takes from the flags. */
function replayTimes(config: BacktestConfig) {
  const { from, to, holdTtlMs, drainMs, replaceMs } = config;
  return { from, to, holdTtlMs, drainMs, replaceMs };
}

/** Where a backtest prints its report: stdout, or a test's sink. */
export interface Output {
  write(bytes: Uint8Array): Promise<unknown>;
}

/** `node-heal backtest [flags]`: the exit code. The report goes to `out` (stdout by default). */
export async function runBacktest(args: string[], out?: Output): Promise<number> {
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
  if (config.demo && config.html && config.html !== "-") {
    // Said in full: `deno task` runs in the repository's root, not where it was typed.
    config = { ...config, html: resolve(config.html) };
  }
  const demo = config.demo ? await startDemo(config) : undefined;
  if (demo) config = { ...config, prometheus: demo.url };
  const writer = out ? undefined : Deno.stdout.writable.getWriter();
  const sink = out ?? writer!;
  const print = (text: string) => writePieces([text], sink);
  try {
    const report = await backtest(config);
    if (config.html) {
      const { renderHtml } = await import("./render_html.ts");
      const page = renderHtml(report);
      // `--html -` prints the page: the compiled binary may not write files.
      if (config.html === "-") {
        await print(page);
        return 0;
      }
      try {
        await Deno.writeTextFile(config.html, page);
      } catch (err) {
        throw new Error(`Cannot write --html ${config.html}: ${(err as Error).message}`);
      }
    }
    if (config.json) {
      await writePieces(renderJson(report), sink);
      return 0;
    }
    await print(renderText(report));
    if (config.html) await print(`\nHTML report: ${config.html}`);
    return 0;
  } catch (err) {
    // A policy the backtest refuses is a usage error (2), as serve's; a Prometheus that fails is 1.
    console.error(errorLine("node-heal backtest", err));
    return exitCodeOf(err);
  } finally {
    writer?.releaseLock();
    await demo?.close();
  }
}

/** `--demo`: its Prometheus started on loopback (loaded only then), and said so on stderr. */
async function startDemo(config: BacktestConfig) {
  const { startDemoPrometheus } = await import("./demo_prometheus.ts");
  const demo = startDemoPrometheus();
  console.error(
    `node-heal backtest --demo: a generated week of alerts on a small cluster, served by a ` +
      `Prometheus-like server at ${demo.url}; the HTML page goes to ${config.html}`,
  );
  return demo;
}
