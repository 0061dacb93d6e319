// `deno task bench:backtest`: what `node-heal backtest` costs. First its engine alone, in
// process, on generated histories from 100 nodes over 7 days to 5,000 nodes over 30 days (a
// rollout burst, alerts that fire for days and repeat every hour), under the default policy and
// one with the whole ladder; each size and policy in a fresh subprocess, so that its peak memory
// is its own: deliveries(), replay() and summarize() timed separately, medians over several runs.
// Then `deno task backtest --json` end to end against a real Prometheus holding 14 days of
// backfilled history (tests/e2e/history.ts), its blocks compacted as a running Prometheus would
// have them, with the time split into Prometheus's answers and the engine. Prints a table, or
// with --json one JSON object; no figure is asserted. `--engine` or `--e2e` runs one part alone.
// Not part of the tests.
import { DEFAULT_ROUTE, deliveries } from "../../lib/backtest/alertmanager_sim.ts";
import { alertmanagerFingerprint, type Episode } from "../../lib/backtest/history.ts";
import { replay } from "../../lib/backtest/replay.ts";
import { summarize } from "../../lib/backtest/report.ts";
import { renderJson, writePieces } from "../../lib/backtest/render_json.ts";
import { DEFAULT_POLICY, parsePolicy, type Policy } from "../../lib/decide/policy.ts";
import type { Node } from "../../lib/base/node.ts";
import { readHistory } from "../../lib/backtest/cli.ts";
import { type BacktestConfig, parseBacktestArgs } from "../../lib/backtest/cli_args.ts";
import { nodesFromPrometheus } from "../../lib/backtest/cluster_source.ts";
import { PrometheusApi } from "../../lib/backtest/prometheus.ts";
import type { BacktestReport } from "../../lib/backtest/report_types.ts";
import { alertRuleLabels, backfill, type Scenario, startPrometheus } from "../e2e/history.ts";
import { waitFor } from "../support/wait.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const JSON_OUT = Deno.args.includes("--json");
const SELF = new URL(import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

/** One generated history: its cluster, its firing periods, how many runs the median takes. */
export interface Size {
  name: string;
  nodes: number;
  days: number;
  episodes: number;
  /** Workers that start firing in the same minute, half-way through (a kernel rollout). */
  burst: number;
  runs: number;
}

export const SIZES: Size[] = [
  { name: "100 nodes, 7 days", nodes: 100, days: 7, episodes: 200, burst: 0, runs: 7 },
  { name: "1,000 nodes, 30 days", nodes: 1_000, days: 30, episodes: 3_000, burst: 50, runs: 5 },
  { name: "5,000 nodes, 30 days", nodes: 5_000, days: 30, episodes: 20_000, burst: 400, runs: 3 },
];

/**
 * The whole ladder: a failing disk is cordoned, drained 10 minutes later and replaced through
 * Karpenter 30 minutes after that; any other alert is cordoned and drained after 15 minutes. Gates
 * loose enough that cordons, drains and replacements all happen, and the timers and the
 * replacement ledger are exercised.
 */
const LADDER_YAML = `
acknowledge: [noHealOptIn, replaceByDefault]
rules:
  - name: disk
    match: ['alertname="NodeDiskFailing"']
    actions: [replace]
    drainAfter: 10m
    replaceAfter: 30m
    replace: { provider: karpenter, timeout: 30m }
  - name: heal
    match: ['heal="true"']
    actions: [drain]
    drainAfter: 15m
gates:
  minHealthy: "90%"
  maxConcurrent: 5
  rate: { max: 30, window: 1h }
  cooldown: 10m
  maxReplacing: 3
  replaceRate: { max: 10, window: 1h }
`;
export const POLICIES: Record<string, Policy> = {
  default: DEFAULT_POLICY,
  ladder: parsePolicy(LADDER_YAML, "ladder"),
};

function note(text: string): void {
  if (!JSON_OUT) console.error(text);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function round(n: number, digits = 1): number {
  return Number(n.toFixed(digits));
}

const mb = (bytes: number) => round(bytes / 1024 / 1024);

/** A small deterministic generator (mulberry32), so every run replays the same history. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ip(i: number): string {
  return `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

/** Three control-plane Nodes and `workers` workers in three zones and two Karpenter pools. */
export function clusterOf(workers: number): Node[] {
  const node = (name: string, i: number, role?: string): Node => {
    const zone = `eu-west-1${"abc"[i % 3]}`;
    return {
      metadata: {
        name,
        labels: {
          "kubernetes.io/hostname": name,
          "topology.kubernetes.io/zone": zone,
          "karpenter.sh/nodepool": i % 2 ? "general" : "memory",
          ...(role ? { [`node-role.kubernetes.io/${role}`]: "" } : {}),
        },
        annotations: {},
        creationTimestamp: "2026-01-01T00:00:00Z",
      },
      spec: { providerID: `aws:///${zone}/i-${(0x5eed0000 + i).toString(16)}` },
      status: {
        addresses: [{ type: "InternalIP", address: ip(i) }, { type: "Hostname", address: name }],
        conditions: [{ type: "Ready", status: "True" }],
      },
    };
  };
  return [
    ...[0, 1, 2].map((i) => node(`cp-${i + 1}`, i, "control-plane")),
    ...Array.from({ length: workers }, (_, k) => node(`worker-${k + 1}`, k + 3)),
  ];
}

const ALERTS: { alertname: string; labels: Record<string, string> }[] = [
  { alertname: "NodeHighCPU", labels: {} },
  { alertname: "NodeMemoryPressure", labels: { job: "node-exporter" } },
  {
    alertname: "NodeFilesystemAlmostFull",
    labels: { job: "node-exporter", device: "/dev/nvme0n1p1", fstype: "ext4", mountpoint: "/" },
  },
  { alertname: "NodeDiskFailing", labels: { job: "node-exporter", device: "/dev/nvme1n1" } },
];

/**
 * `size.episodes` firing periods over the window, whole minutes, none overlapping another of the
 * same alert: most last 5 to 30 minutes, a quarter up to 4 hours, 4% for 6 hours to 3 days (each
 * repeated every hour); 1% still firing at the end, 2% on the control plane, 2% on instances no
 * Node has; and `size.burst` workers firing NodeMemoryPressure for an hour from the same minute.
 */
export function historyOf(size: Size, from: number): Episode[] {
  const rand = random(size.nodes * 7919 + size.episodes);
  const to = from + size.days * DAY;
  const taken = new Map<string, [number, number][]>();
  const out: Episode[] = [];
  const add = (i: number, a: number, start: number, end: number | undefined) => {
    const labels = {
      ...ALERTS[a].labels,
      alertname: ALERTS[a].alertname,
      heal: "true",
      severity: "warning",
      instance: `${ip(i)}:9100`,
    };
    const fingerprint = alertmanagerFingerprint(labels);
    const periods = taken.get(fingerprint) ?? [];
    const until = end ?? Infinity;
    if (periods.some(([s, e]) => start <= e && s <= until)) return false;
    periods.push([start, until]);
    taken.set(fingerprint, periods);
    out.push({
      labels,
      fingerprint,
      start: new Date(start),
      ...(end ? { end: new Date(end) } : {}),
    });
    return true;
  };
  const burstAt = from + Math.floor(size.days / 2) * DAY + 3 * HOUR;
  for (let k = 0; k < size.burst; k++) {
    add(3 + k * Math.floor(size.nodes / size.burst), 1, burstAt, burstAt + HOUR + (k % 5) * MIN);
  }
  while (out.length < size.episodes) {
    const r = rand();
    const i = r < 0.02
      ? Math.floor(rand() * 3)
      : r < 0.04
      ? 1_000_000 + Math.floor(rand() * 50)
      : 3 + Math.floor(rand() * size.nodes);
    const d = rand();
    const minutes = d < 0.71
      ? 5 + Math.floor(rand() * 25)
      : d < 0.96
      ? 30 + Math.floor(rand() * 210)
      : 6 * 60 + Math.floor(rand() * 66 * 60);
    const start = from + Math.floor(rand() * (to - from - 10 * MIN) / MIN) * MIN;
    const end = start + minutes * MIN;
    add(i, Math.floor(rand() * ALERTS.length), start, rand() < 0.01 || end >= to ? undefined : end);
  }
  return out.sort((a, b) => a.start.getTime() - b.start.getTime());
}

/** Resident memory now (`Deno.memoryUsage().rss`). */
function rss(): number {
  return Deno.memoryUsage().rss;
}

interface EngineFigures {
  size: string;
  policy: string;
  nodes: number;
  days: number;
  episodes: number;
  runs: number;
  notifications: number;
  alerts_notified: number;
  decisions: number;
  actions: Record<string, number>;
  deliveries_ms: number;
  replay_ms: number;
  summarize_ms: number;
  /** Writing the run as `--json` does (renderJson), to a sink that counts the bytes. */
  json_ms: number;
  json_mb: number;
  /** The largest `Deno.memoryUsage().rss` seen after each step of each run. */
  rss_mb: number;
  /** The process's peak resident memory, measured from outside (`/usr/bin/time -v`). */
  peak_rss_mb?: number;
}

/** One size under one policy, `size.runs` times (in this process): medians and peak memory. */
async function engine(size: Size, policyName: string): Promise<EngineFigures> {
  const policy = POLICIES[policyName];
  const from = Date.parse("2026-10-01T00:00:00Z");
  const to = new Date(from + size.days * DAY);
  const nodes = clusterOf(size.nodes);
  const history = historyOf(size, from);
  const times: Record<string, number[]> = { deliveries: [], replay: [], summarize: [], json: [] };
  let jsonBytes = 0;
  let peak = rss();
  let last: { notifications: number; alerts: number; decisions: number } | undefined;
  let actions: Record<string, number> = {};
  for (let run = 0; run < size.runs; run++) {
    let t = performance.now();
    const sent = deliveries(history, DEFAULT_ROUTE, to);
    times.deliveries.push(performance.now() - t);
    peak = Math.max(peak, rss());
    t = performance.now();
    const result = replay(sent, {
      policy,
      nodes,
      from: new Date(from),
      to,
      drainMs: 5 * MIN,
      replaceMs: 10 * MIN,
    });
    times.replay.push(performance.now() - t);
    peak = Math.max(peak, rss());
    t = performance.now();
    const report = summarize(result, { policy, name: policyName, nodes, to });
    times.summarize.push(performance.now() - t);
    peak = Math.max(peak, rss());
    t = performance.now();
    jsonBytes = 0;
    await writePieces(renderJson(report), {
      write: (bytes) => Promise.resolve(jsonBytes += bytes.length),
    });
    times.json.push(performance.now() - t);
    peak = Math.max(peak, rss());
    last = {
      notifications: sent.length,
      alerts: sent.reduce((n, d) => n + d.notification.alerts.length, 0),
      decisions: result.decisions.length,
    };
    actions = {
      cordons: report.totals.cordons,
      drains: report.totals.drains,
      replacements: report.totals.replacements,
      uncordons: report.totals.uncordons,
      blocked: report.totals.blocked,
    };
  }
  return {
    size: size.name,
    policy: policyName,
    nodes: size.nodes,
    days: size.days,
    episodes: history.length,
    runs: size.runs,
    notifications: last!.notifications,
    alerts_notified: last!.alerts,
    decisions: last!.decisions,
    actions,
    deliveries_ms: round(median(times.deliveries)),
    replay_ms: round(median(times.replay)),
    summarize_ms: round(median(times.summarize)),
    json_ms: round(median(times.json)),
    json_mb: mb(jsonBytes),
    rss_mb: mb(peak),
  };
}

/** Runs {@link engine} in a fresh `deno run` (as the backtest task runs), so that memory is per size. */
async function engineInChild(size: number, policy: string): Promise<EngineFigures> {
  const args = ["run", "--allow-read", "--allow-env", SELF, "--child", String(size), policy];
  const run = await measured(args);
  return { ...JSON.parse(run.stdout), peak_rss_mb: run.rssMb };
}

// ---- End to end: `deno task backtest` against a real Prometheus. ----

/** The end-to-end history: 14 days of 100 workers and 3 control-plane Nodes, about 300 firings. */
const E2E: Size = { name: "e2e", nodes: 100, days: 14, episodes: 400, burst: 20, runs: 3 };

/** {@link E2E} as tests/e2e/history.ts backfills it: the manifest's alerts, each firing ending in the window. */
export async function e2eScenario(start: Date): Promise<Scenario> {
  const rules = await alertRuleLabels();
  const firings = historyOf(E2E, start.getTime())
    .filter((e) => rules.has(e.labels.alertname) && e.end)
    .map((e) => {
      const { alertname, heal: _heal, severity: _severity, ...labels } = e.labels;
      return { alertname, labels, start: e.start, end: e.end! };
    });
  return {
    start,
    end: new Date(start.getTime() + E2E.days * DAY),
    intervalMs: MIN,
    ksmTarget: { job: "kube-state-metrics", instance: "10.244.0.9:8080" },
    nodes: clusterOf(E2E.nodes).map((n, i) => ({
      name: n.metadata.name,
      internalIP: n.status!.addresses![0].address,
      ...(i < 3 ? { role: "control-plane" } : {}),
      zone: n.metadata.labels!["topology.kubernetes.io/zone"],
      instanceType: "m5.xlarge",
      providerID: n.spec!.providerID!,
      kernelVersion: "5.15.0-105-generic",
      osImage: "Ubuntu 22.04.4 LTS",
      containerRuntimeVersion: "containerd://1.7.13",
      kubeletVersion: "v1.29.2",
      created: new Date(start.getTime() - 30 * DAY),
    })),
    firings,
  };
}

/**
 * Runs `deno <args>` in the repository; its wall time, stdout, and the peak resident memory of
 * it and its children: from `/usr/bin/time -v`, else the largest `ps` total seen every 20 ms.
 * (Deno lets no process read /proc without --allow-all, so VmHWM is out of reach.)
 */
async function measured(args: string[]): Promise<{ ms: number; rssMb: number; stdout: string }> {
  const gnuTime = await Deno.stat("/usr/bin/time").then(() => true, () => false);
  const argv = gnuTime
    ? ["/usr/bin/time", "-v", Deno.execPath(), ...args]
    : [Deno.execPath(), ...args];
  const t0 = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let polled = 0;
  let polling = !gnuTime;
  const poller = (async () => {
    while (polling) {
      polled = Math.max(polled, await treeRss(child.pid));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const out = await child.output();
  const ms = performance.now() - t0;
  polling = false;
  await poller;
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`deno ${args.join(" ")} failed:\n${stderr}`);
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1];
  return {
    ms,
    rssMb: kb ? round(Number(kb) / 1024) : mb(polled),
    stdout: new TextDecoder().decode(out.stdout),
  };
}

/** The resident memory of process `pid` and its descendants, from `ps`. */
async function treeRss(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-eo", "pid=,ppid=,rss="] }).output();
  const rows = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) =>
    l.trim().split(/\s+/).map(Number)
  );
  const tree = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [p, parent] of rows) {
      if (tree.has(parent) && !tree.has(p)) [grew] = [true, tree.add(p)];
    }
  }
  return rows.filter(([p]) => tree.has(p)).reduce((sum, [, , kb]) => sum + kb * 1024, 0);
}

/** Waits until Prometheus has compacted the backfilled 2h blocks, as it would have long since. */
async function compacted(dataDir: string): Promise<number> {
  const blocks = () =>
    [...Deno.readDirSync(dataDir)].filter((e) => e.isDirectory && /^[0-9A-Z]{26}$/.test(e.name))
      .length;
  const before = blocks();
  let last = before;
  let stableSince = performance.now();
  await waitFor("Prometheus to compact the backfilled blocks", async () => {
    await new Promise((r) => setTimeout(r, 2000));
    const now = blocks();
    if (now !== last) [last, stableSince] = [now, performance.now()];
    return now < before && performance.now() - stableSince > 10_000;
  }, 300_000);
  return last;
}

async function e2e() {
  // Whole UTC days, ending the day before yesterday: the blocks stay clear of Prometheus's head.
  const start = new Date(Math.floor(Date.now() / DAY) * DAY - 16 * DAY);
  const scenario = await e2eScenario(start);
  const dir = await Deno.makeTempDir({ prefix: "node-heal-bench-backtest-" });
  note(
    `e2e: backfilling ${scenario.nodes.length} nodes, ${E2E.days} days, ${scenario.firings.length} firings`,
  );
  let t = performance.now();
  const data = await backfill(scenario, dir);
  const backfillS = round((performance.now() - t) / 1000);
  const prometheus = await startPrometheus(data);
  try {
    note("e2e: waiting for Prometheus to compact the blocks");
    const blocks = await compacted(data);
    const flags = [
      "--prometheus",
      prometheus.url,
      "--from",
      start.toISOString(),
      "--to",
      scenario.end.toISOString(),
    ];
    note(`e2e: deno task backtest --json, ${E2E.runs} runs`);
    const runs = [];
    for (let i = 0; i < E2E.runs; i++) {
      runs.push(await measured(["task", "-q", "backtest", ...flags, "--json"]));
    }
    const report: BacktestReport = JSON.parse(runs[0].stdout);
    const startup = [];
    for (let i = 0; i < E2E.runs; i++) {
      startup.push((await measured(["task", "-q", "backtest", "--help"])).ms);
    }
    // The same work in this process, a step at a time: Prometheus's answers, then the engine.
    const config = parseBacktestArgs(flags, new Date()) as BacktestConfig;
    const api = new PrometheusApi(config.prometheus);
    const parts: Record<string, number[]> = {
      history: [],
      nodes: [],
      deliveries: [],
      replay: [],
      summarize: [],
    };
    const time = <T>(part: string, f: () => T): T => {
      const t0 = performance.now();
      const out = f();
      parts[part].push(performance.now() - t0);
      return out;
    };
    for (let i = 0; i < E2E.runs; i++) {
      t = performance.now();
      const history = await readHistory(api, config);
      parts.history.push(performance.now() - t);
      t = performance.now();
      const nodes = await nodesFromPrometheus(api, { ...config, policy: [DEFAULT_POLICY] });
      parts.nodes.push(performance.now() - t);
      const sent = time("deliveries", () => deliveries(history, config.route, config.to));
      const result = time("replay", () =>
        replay(sent, {
          policy: DEFAULT_POLICY,
          nodes,
          from: config.from,
          to: config.to,
          drainMs: config.drainMs,
          replaceMs: config.replaceMs,
        }));
      time(
        "summarize",
        () => summarize(result, { policy: DEFAULT_POLICY, name: "default", nodes, to: config.to }),
      );
    }
    const m = (xs: number[]) => round(median(xs));
    return {
      nodes: scenario.nodes.length,
      days: E2E.days,
      firings: scenario.firings.length,
      backfill_s: backfillS,
      blocks_after_compaction: blocks,
      episodes: report.alerts.episodes,
      notifications: report.alerts.notifications,
      decisions: report.runs[0].decisions.length,
      json_bytes: runs[0].stdout.length,
      task_ms: m(runs.map((r) => r.ms)),
      task_rss_mb: m(runs.map((r) => r.rssMb)),
      task_help_ms: m(startup),
      in_process_ms: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, m(v)])),
    };
  } finally {
    await prometheus.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main && Deno.args[0] === "--child") {
  console.log(JSON.stringify(await engine(SIZES[Number(Deno.args[1])], Deno.args[2])));
} else if (import.meta.main) {
  const only = Deno.args.find((a) => a === "--engine" || a === "--e2e");
  const results: { engine?: EngineFigures[]; e2e?: Awaited<ReturnType<typeof e2e>> } = {};
  if (only !== "--e2e") {
    results.engine = [];
    for (const [i, size] of SIZES.entries()) {
      for (const policy of Object.keys(POLICIES)) {
        note(`engine: ${size.name}, ${policy} policy, ${size.runs} runs`);
        results.engine.push(await engineInChild(i, policy));
      }
    }
  }
  if (only !== "--engine") results.e2e = await e2e();
  if (JSON_OUT) console.log(JSON.stringify(results, null, 2));
  else print(results);
}

function print(results: { engine?: EngineFigures[]; e2e?: Awaited<ReturnType<typeof e2e>> }) {
  if (results.engine) {
    console.log(
      "size                   policy   episodes  notifications  decisions  deliveries ms  replay ms  summarize ms      --json ms (size)  RSS MB  peak RSS MB",
    );
    for (const r of results.engine) {
      console.log(
        [
          r.size.padEnd(22),
          r.policy.padEnd(7),
          String(r.episodes).padStart(9),
          String(r.notifications).padStart(14),
          String(r.decisions).padStart(10),
          String(r.deliveries_ms).padStart(14),
          String(r.replay_ms).padStart(10),
          String(r.summarize_ms).padStart(13),
          `${r.json_ms} (${r.json_mb} MB)`.padStart(20),
          String(r.rss_mb).padStart(7),
          String(r.peak_rss_mb ?? "").padStart(13),
        ].join(" "),
      );
    }
  }
  if (results.e2e) {
    console.log("\nend to end (deno task backtest --json, default policy)");
    for (const [k, v] of Object.entries(results.e2e)) {
      console.log(`${k.padEnd(24)} ${typeof v === "object" ? JSON.stringify(v) : v}`);
    }
  }
}
