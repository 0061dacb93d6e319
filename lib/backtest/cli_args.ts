// The flags of `node-heal backtest`, checked before anything is read: a value that cannot work
// (a window in the future, a step that would miss firing periods, more steps than memory holds)
// is refused at once, naming the flag and the value, rather than after minutes of queries.
import { parseArgs } from "node:util";
import { MAX_TIMEOUT_MS, parseDuration } from "../service/flag_values.ts";
import { DEFAULT_HOLD_TTL_MS } from "../decide/decision.ts";
import { formatDuration } from "../base/duration.ts";
import { DEFAULT_ROUTE, type Route } from "./alertmanager_sim.ts";
import { MAX_ANSWER_BYTES, MAX_POINTS, prometheusUrl } from "./prometheus.ts";
import { DEMO_HTML, DEMO_WINDOW } from "./demo_history.ts";
import { DEFAULT_SELF_RECOVERY_MS, MAX_SELF_RECOVERY_MS } from "./self_recovery.ts";

/** The backtest's settings, flags parsed. */
export interface BacktestConfig {
  prometheus: string;
  bearerToken?: string;
  /** How long one request to Prometheus may take. */
  timeoutMs: number;
  /** The most bytes one answer of Prometheus may have (`--max-answer-bytes`). */
  maxAnswerBytes: number;
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
  /** `--self-recovery-within`: a firing period that resolved this soon after its start recovered by itself. */
  selfRecoveryWithinMs: number;
  json: boolean;
  html?: string;
  /** `--demo`: the history is the demo's, served on loopback; `prometheus` is set when it listens. */
  demo?: boolean;
}

/** The most steps a backtest reads per series: 120 range requests, a year at a 30s step. */
export const MAX_STEPS = 120 * MAX_POINTS;

export const USAGE = `node-heal backtest: what a policy would have done with past alerts

Usage:
  deno task backtest --demo          (a generated week, served on loopback: try it first)
  deno task backtest --prometheus URL --from 7d [flags]
  node-heal backtest --prometheus URL --from 2026-11-01T00:00:00Z --to 2026-11-08T00:00:00Z

Reads ALERTS{alertstate="firing",<selector>} from Prometheus (query_range), rebuilds the
notifications Alertmanager would have sent, and replays them through node-heal's own decisions
and gates with a simulated clock and cluster. Nothing is written anywhere.

Flags:
  --demo                    Replay a generated week of a small cluster, served by a Prometheus-like
                            server of its own on loopback; writes ${DEMO_HTML} unless --html
  --prometheus URL          Prometheus server to read history from (required)
  --bearer-token-file FILE  Token sent to Prometheus as Authorization: Bearer
  --timeout DURATION        How long one request to Prometheus may take (default 1m)
  --max-answer-bytes N      The most bytes one answer of Prometheus may have (default 67108864)
  --from TIME|AGO           Start: RFC 3339, or a duration before --to (7d, 36h) (required)
  --to TIME|AGO             End: RFC 3339, or a duration before now (default now)
  --step DURATION           Resolution of the history read, at most twice --eval-interval (default 60s)
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
  --self-recovery-within DURATION A firing period that resolved this soon after its start
                            recovered by itself (default 10m, at most 24h)
  --json                    Print the report as JSON
  --html FILE               Also write the report as a self-contained HTML page (- prints it)
  -h, --help                This help
`;

/** RFC 3339 as `--from` and `--to` take it: a date, a time, and a zone (`Z` or an offset). */
const RFC_3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i;

/** Parses `--from`/`--to`: an RFC 3339 time, or a duration (`7d`, `36h`) before `base`. */
export function parseTime(value: string, flag: string, base: Date): Date {
  const days = /^(\d+)d$/.exec(value);
  let at: number;
  if (days) at = base.getTime() - Number(days[1]) * 86_400_000;
  else if (/^\d+(\.\d+)?(ms|s|m|h)$/.test(value)) {
    at = base.getTime() - parseDuration(value, flag);
  } else at = RFC_3339.test(value) ? Date.parse(value) : NaN;
  // Beyond ±100,000,000 days a Date is invalid: NaN.
  if (Number.isNaN(new Date(at).getTime())) {
    throw new Error(
      `Cannot parse --${flag}: expected an RFC 3339 time with its zone such as 2026-11-01T00:00:00Z or a duration such as 7d, got "${value}"`,
    );
  }
  return new Date(at);
}

/** The backtest's flags that take one value. */
const STRING_FLAGS = [
  "prometheus",
  "bearer-token-file",
  "timeout",
  "max-answer-bytes",
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
  "self-recovery-within",
  "html",
];

type Values = Record<string, string | boolean | string[] | undefined>;

/** Reads the backtest's flags; throws naming the flag and the value. */
export function parseBacktestArgs(args: string[], now: Date): BacktestConfig | "help" {
  const values = readFlags(args);
  if (values.help) return "help";
  const str = (name: string) => values[name] as string | undefined;
  const demo = values.demo === true;
  if (demo) refuseWithDemo(values);
  const duration = (name: string, fallback: number, maxMs = Infinity) => {
    const v = str(name);
    return v === undefined ? fallback : parseDuration(v, name, maxMs);
  };
  if (!demo && !str("prometheus")) {
    throw new Error("Cannot backtest: give --prometheus URL (or --demo)");
  }
  if (!demo) prometheusUrl(str("prometheus")!);
  const { from, to } = demo ? DEMO_WINDOW : readWindow(str("from"), str("to"), now);
  const stepMs = duration("step", 60_000);
  const evalIntervalMs = duration("eval-interval", 60_000);
  checkStep({ stepMs, evalIntervalMs, from, to });
  const configs = (values.config as string[] | undefined) ?? [];
  if (configs.length > 4) throw new Error("Cannot compare more than 4 policies at once");
  const html = readHtml(str("html"), values.json === true) ?? (demo ? DEMO_HTML : undefined);
  const tokenFile = str("bearer-token-file");
  const kubeconfig = str("kubeconfig");
  if (kubeconfig) readable(kubeconfig, "kubeconfig");
  return {
    prometheus: demo ? "" : str("prometheus")!,
    ...(tokenFile ? { bearerToken: readToken(tokenFile) } : {}),
    timeoutMs: duration("timeout", 60_000, MAX_TIMEOUT_MS),
    maxAnswerBytes: answerBytes(str("max-answer-bytes")),
    from,
    to,
    stepMs,
    selector: str("selector") ?? 'heal="true"',
    evalIntervalMs,
    configs,
    nodes: nodesFrom(str("nodes"), kubeconfig),
    ...(kubeconfig ? { kubeconfig } : {}),
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
    selfRecoveryWithinMs: duration(
      "self-recovery-within",
      DEFAULT_SELF_RECOVERY_MS,
      MAX_SELF_RECOVERY_MS,
    ),
    json: values.json === true,
    ...(html ? { html } : {}),
    ...(demo ? { demo } : {}),
  };
}

/** The flags that say where the history comes from: `--demo` brings its own. */
function refuseWithDemo(values: Values): void {
  const source = ["prometheus", "bearer-token-file", "from", "to", "nodes", "kubeconfig"];
  const given = source.find((name) => values[name] !== undefined);
  if (given) {
    throw new Error(
      `Cannot use --${given} with --demo: the demo serves its own week of history; leave one out`,
    );
  }
}

/** The flags as given, every one known and well formed. */
function readFlags(args: string[]): Values {
  try {
    return parseArgs({
      args,
      options: {
        ...Object.fromEntries(STRING_FLAGS.map((s) => [s, { type: "string" as const }])),
        config: { type: "string", multiple: true },
        json: { type: "boolean" },
        demo: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new Error(`${(err as Error).message}; see node-heal backtest --help`);
  }
}

/** `--from` and `--to`: a window that ends by now and starts before it ends. */
function readWindow(fromFlag: string | undefined, toFlag: string | undefined, now: Date) {
  if (!fromFlag) throw new Error("Cannot backtest: give --from (an RFC 3339 time, or 7d)");
  const to = toFlag ? parseTime(toFlag, "to", now) : now;
  const from = parseTime(fromFlag, "from", to);
  if (to.getTime() > now.getTime()) {
    throw new Error(
      `Cannot backtest to ${to.toISOString()}: --to is later than now (${now.toISOString()}), and alerts firing now would look resolved`,
    );
  }
  if (from.getTime() >= to.getTime()) {
    throw new Error(
      `Cannot backtest from ${from.toISOString()} to ${to.toISOString()}: --from must be before --to`,
    );
  }
  return { from, to };
}

/** `--html`: a file, or `-` to print the page (then not beside `--json`). */
function readHtml(html: string | undefined, json: boolean): string | undefined {
  if (html === "") throw new Error('Cannot use --html "": give a file, or - to print the page');
  if (json && html === "-") {
    throw new Error("Cannot print both --json and --html -: give --html a file");
  }
  return html;
}

/** A step that reads every firing period, and a window of steps that fits in memory. */
function checkStep(options: { stepMs: number; evalIntervalMs: number; from: Date; to: Date }) {
  const { stepMs, evalIntervalMs, from, to } = options;
  if (stepMs > 2 * evalIntervalMs) {
    throw new Error(
      `Cannot use --step ${formatDuration(stepMs)} with --eval-interval ${
        formatDuration(evalIntervalMs)
      }: a step longer than two evaluation intervals misses firing periods; give --step ${
        formatDuration(2 * evalIntervalMs)
      } or less`,
    );
  }
  const steps = Math.floor((to.getTime() - from.getTime()) / stepMs) + 1;
  if (steps > MAX_STEPS) {
    throw new Error(
      `Cannot read ${steps.toLocaleString("en")} steps of ${
        formatDuration(stepMs)
      } from ${from.toISOString()} to ${to.toISOString()}: at most ${
        MAX_STEPS.toLocaleString("en")
      }; give a later --from or a longer --step`,
    );
  }
}

/** The largest `--max-answer-bytes`: answers are read as they arrive, but reading takes time. */
const MAX_ANSWER_BYTES_FLAG = 2 ** 30;

function answerBytes(value: string | undefined): number {
  if (value === undefined) return MAX_ANSWER_BYTES;
  const bytes = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
  if (!(bytes >= 1024 && bytes <= MAX_ANSWER_BYTES_FLAG)) {
    throw new Error(
      `Cannot parse --max-answer-bytes: expected a number of bytes from 1024 to ${MAX_ANSWER_BYTES_FLAG}, got "${value}"`,
    );
  }
  return bytes;
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

function readable(path: string, flag: string): void {
  try {
    Deno.statSync(path);
  } catch (err) {
    throw new Error(`Cannot read --${flag} ${path}: ${(err as Error).message}`);
  }
}

function readToken(path: string): string {
  let token: string;
  try {
    token = Deno.readTextFileSync(path).trim();
  } catch (err) {
    throw new Error(`Cannot read --bearer-token-file ${path}: ${(err as Error).message}`);
  }
  if (!token) throw new Error(`Cannot use --bearer-token-file ${path}: it is empty`);
  // fetch() would refuse the header, quoting it, token and all, in its message.
  // deno-lint-ignore no-control-regex -- control characters are what it looks for
  if (/[\x00-\x1f\x7f]/.test(token)) {
    throw new Error(
      `Cannot use --bearer-token-file ${path}: its token has a line break or a control character inside`,
    );
  }
  return token;
}
