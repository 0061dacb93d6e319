// Days of real Prometheus history for the backtest: a scenario (Nodes, and the alerts that fired
// on them) rendered to OpenMetrics as Prometheus itself would have stored its series, turned into
// TSDB blocks by `promtool tsdb create-blocks-from openmetrics`, and served by a real `prometheus`.
//
// The series, as a kube-prometheus-stack Prometheus stores them:
// - ALERTS{alertname, alertstate="firing", <the rule's labels>, <the expression's labels>} = 1
//   at every evaluation (1m) while an alert fires, none otherwise. The rule's labels come from
//   manifests/alert-rule.yaml; the expression's are what its PromQL keeps of node-exporter's
//   series (`avg by (instance)` keeps only instance; a ratio keeps job and the filesystem's
//   labels too), given by the scenario. Prometheus also writes alertstate="pending" during a
//   rule's `for:` and ALERTS_FOR_STATE; the backtest reads neither, so neither is rendered.
// - kube-state-metrics' kube_node_info, kube_node_role, kube_node_labels,
//   kube_node_status_condition, kube_node_spec_unschedulable and kube_node_created, every 1m from
//   the Node's creation (or the window's start) to the window's end, with the target's job and
//   instance labels that the scrape adds.
//
// Backfilled data has no staleness markers: an instant query keeps seeing a series' last sample
// for the lookback delta (5m) after it, where a scraped or evaluated series would have gone stale
// at once. Read firing minutes with `timestamp(ALERTS{...})` (whose values repeat for those 5m) or
// with a range selector, not from the presence of a plain `ALERTS` point.
import { parse } from "yaml";
import { runTool } from "../support/processes.ts";
import { waitFor } from "../support/wait.ts";
import { freePort, ready, spawn } from "./stack.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** promtool's block range: one block per 2h, aligned to multiples of 2h since the epoch. */
const BLOCK = 2 * HOUR;
const RULES = new URL("../../manifests/alert-rule.yaml", import.meta.url);

/** A span of time from `from` (included) to `to` (excluded). */
export interface Period {
  from: Date;
  to: Date;
}

/** A Node as kube-state-metrics reports it during the history. */
export interface HistoryNode {
  name: string;
  internalIP: string;
  /** The role of its `node-role.kubernetes.io/<role>` label (kube_node_role), if any. */
  role?: string;
  zone: string;
  instanceType: string;
  providerID: string;
  kernelVersion: string;
  osImage: string;
  containerRuntimeVersion: string;
  kubeletVersion: string;
  /** Its creationTimestamp: kube_node_created, and no series of it before. */
  created: Date;
  /** When its Ready condition was "false" or "unknown"; "true" at every other time. */
  notReady?: (Period & { status: "false" | "unknown" })[];
  /** When it was unschedulable (kube_node_spec_unschedulable 1); schedulable otherwise. */
  cordoned?: Period[];
}

/** One firing period of one alert: ALERTS samples from `start` to one interval before `end`. */
export interface ScriptedFiring {
  alertname: string;
  /** The labels the rule's expression keeps (instance, job, mountpoint, ...), not the rule's. */
  labels: Record<string, string>;
  /** The first evaluation that found it firing. */
  start: Date;
  /** The first evaluation that found it resolved: no sample at `end`. */
  end: Date;
}

/** A window of cluster history: its Nodes and the alerts that fired, sampled every `intervalMs`. */
export interface Scenario {
  /** The first sample of every series that exists then. */
  start: Date;
  /** One interval after the last sample. */
  end: Date;
  /** Scrape and evaluation interval in ms; start, end and every firing are multiples of it. */
  intervalMs: number;
  /** The labels the scrape adds to kube-state-metrics' series (job, instance). */
  ksmTarget: Record<string, string>;
  nodes: HistoryNode[];
  firings: ScriptedFiring[];
}

/** A firing period as the backtest should find it: which alert, on which instance, when. */
export interface Episode {
  alertname: string;
  instance: string;
  start: Date;
  end: Date;
}

/** The labels every alert rule of manifests/alert-rule.yaml adds to its alerts, by alertname. */
export async function alertRuleLabels(): Promise<Map<string, Record<string, string>>> {
  const rule = parse(await Deno.readTextFile(RULES)) as {
    spec: { groups: { rules: { alert?: string; labels?: Record<string, string> }[] }[] };
  };
  const labels = new Map<string, Record<string, string>>();
  for (const r of rule.spec.groups.flatMap((g) => g.rules)) {
    if (!r.alert) continue;
    for (const [name, value] of Object.entries(r.labels ?? {})) {
      if (String(value).includes("{{")) {
        throw new Error(
          `${r.alert}: label ${name} is a template, which history.ts does not expand`,
        );
      }
    }
    labels.set(
      r.alert,
      Object.fromEntries(Object.entries(r.labels ?? {}).map(([k, v]) => [k, String(v)])),
    );
  }
  return labels;
}

/** A firing's ALERTS labels, merged in Prometheus's order: expression's, rule's, alertname. */
export function alertSeriesLabels(
  firing: ScriptedFiring,
  rules: Map<string, Record<string, string>>,
): Record<string, string> {
  const rule = rules.get(firing.alertname);
  if (!rule) throw new Error(`no rule in manifests/alert-rule.yaml fires ${firing.alertname}`);
  return { ...firing.labels, ...rule, alertname: firing.alertname, alertstate: "firing" };
}

/** A label set as OpenMetrics writes it, names sorted: `{a="1",b="x\"y"}`. */
export function labelText(labels: Record<string, string>): string {
  const escape = (v: string) =>
    v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
  const pairs = Object.keys(labels).sort().map((k) => `${k}="${escape(labels[k])}"`);
  return `{${pairs.join(",")}}`;
}

/** One series of a family: its labels, and its value at a time (ms), undefined for no sample. */
interface Series {
  labels: Record<string, string>;
  value: (t: number) => number | undefined;
}

const within = (periods: Period[] | undefined, t: number) =>
  (periods ?? []).some((p) => p.from.getTime() <= t && t < p.to.getTime());

// A `# TYPE <name> gauge` line before each family's series, each series' samples in time order
// with timestamps in seconds, and the final `# EOF`: what promtool's backfill reads.
/** The scenario (or its samples inside `slice`) in OpenMetrics, one chunk of text per series. */
export function* openMetrics(
  scenario: Scenario,
  rules: Map<string, Record<string, string>>,
  slice?: Period,
): Generator<string> {
  const step = scenario.intervalMs;
  const start = scenario.start.getTime();
  const end = scenario.end.getTime();
  const from = Math.max(start, slice?.from.getTime() ?? start);
  const to = Math.min(end, slice?.to.getTime() ?? end);
  const aligned = (what: string, d: Date) => {
    if (d.getTime() % step !== 0) {
      throw new Error(`${what} (${d.toISOString()}) is not a multiple of ${step} ms`);
    }
  };
  if (!(step > 0 && step % 1000 === 0)) throw new Error(`interval ${step} ms: whole seconds`);
  aligned("the start", scenario.start);
  aligned("the end", scenario.end);
  if (end <= start) throw new Error("the scenario ends before it starts");

  // ALERTS: one series per label set, its firing periods checked and merged.
  const alerts = new Map<string, { labels: Record<string, string>; periods: Period[] }>();
  for (const f of scenario.firings) {
    const what = `${f.alertname} ${labelText(f.labels)} ${f.start.toISOString()}`;
    aligned(`${what}: its start`, f.start);
    aligned(`${what}: its end`, f.end);
    if (!(start <= f.start.getTime() && f.start < f.end && f.end.getTime() <= end)) {
      throw new Error(`${what}: not a period inside the scenario's window`);
    }
    const labels = alertSeriesLabels(f, rules);
    const key = labelText(labels);
    const series = alerts.get(key) ?? { labels, periods: [] };
    for (const p of series.periods) {
      if (f.start <= p.to && p.from <= f.end) {
        throw new Error(`${what}: overlaps or touches another firing of the same alert`);
      }
    }
    series.periods.push({ from: f.start, to: f.end });
    alerts.set(key, series);
  }
  yield* family(
    "ALERTS",
    [...alerts.values()].map(({ labels, periods }) => ({
      labels,
      value: (t) => within(periods, t) ? 1 : undefined,
    })),
  );

  // kube-state-metrics, for each Node from its creation on.
  const nodes = scenario.nodes;
  const target = scenario.ksmTarget;
  const node = (n: HistoryNode, labels: Record<string, string>, value: (t: number) => number) => ({
    labels: { ...target, ...labels, node: n.name },
    value: (t: number) => t >= n.created.getTime() ? value(t) : undefined,
  });
  const status = (n: HistoryNode, t: number) =>
    n.notReady?.find((p) => p.from.getTime() <= t && t < p.to.getTime())?.status ?? "true";
  yield* family(
    "kube_node_info",
    nodes.map((n) =>
      node(n, {
        internal_ip: n.internalIP,
        kernel_version: n.kernelVersion,
        os_image: n.osImage,
        container_runtime_version: n.containerRuntimeVersion,
        kubelet_version: n.kubeletVersion,
        provider_id: n.providerID,
      }, () => 1)
    ),
  );
  yield* family(
    "kube_node_role",
    nodes.filter((n) => n.role).map((n) => node(n, { role: n.role! }, () => 1)),
  );
  yield* family(
    "kube_node_labels",
    nodes.map((n) =>
      node(n, {
        label_kubernetes_io_hostname: n.name,
        label_topology_kubernetes_io_zone: n.zone,
        label_node_kubernetes_io_instance_type: n.instanceType,
      }, () => 1)
    ),
  );
  yield* family(
    "kube_node_status_condition",
    nodes.flatMap((n) =>
      (["true", "false", "unknown"] as const).map((s) =>
        node(n, { condition: "Ready", status: s }, (t) => status(n, t) === s ? 1 : 0)
      )
    ),
  );
  yield* family(
    "kube_node_spec_unschedulable",
    nodes.map((n) => node(n, {}, (t) => within(n.cordoned, t) ? 1 : 0)),
  );
  yield* family(
    "kube_node_created",
    nodes.map((n) => node(n, {}, () => Math.floor(n.created.getTime() / 1000))),
  );
  yield "# EOF\n";

  /** A family's TYPE line, then each series' samples over the window. */
  function* family(name: string, series: Series[]): Generator<string> {
    yield `# TYPE ${name} gauge\n`;
    for (const s of series) {
      const prefix = `${name}${labelText(s.labels)} `;
      let lines = "";
      for (let t = from + (((start - from) % step) + step) % step; t < to; t += step) {
        const v = s.value(t);
        if (v !== undefined) lines += `${prefix}${v} ${t / 1000}\n`;
      }
      yield lines;
    }
  }
}

// promtool reads its whole input once for every 2h block it writes (3 days: 36 passes, 12 s over
// one 57 MB file), so each 2h block gets its own file, `<dir>/history-<its start>.om` (removed once
// backfilled; kept when promtool fails), and its own `promtool tsdb create-blocks-from openmetrics`
// (4 at a time: 2 s). The blocks are the same.
/** Writes the scenario as OpenMetrics in `dir`, backfills it by promtool; returns `<dir>/data`. */
export async function backfill(scenario: Scenario, dir: string): Promise<string> {
  const rules = await alertRuleLabels();
  const dataDir = `${dir}/data`;
  const slices: Period[] = [];
  for (
    let t = Math.floor(scenario.start.getTime() / BLOCK) * BLOCK;
    t < scenario.end.getTime();
    t += BLOCK
  ) {
    slices.push({ from: new Date(t), to: new Date(t + BLOCK) });
  }
  const one = async (slice: Period) => {
    const file = `${dir}/history-${slice.from.toISOString().replaceAll(":", "")}.om`;
    const out = await Deno.open(file, { write: true, create: true, truncate: true });
    await ReadableStream.from(openMetrics(scenario, rules, slice))
      .pipeThrough(new TextEncoderStream())
      .pipeTo(out.writable);
    const args = ["tsdb", "create-blocks-from", "openmetrics", "--quiet", file, dataDir];
    const result = await runTool("promtool", args);
    if (!result) throw new Error("promtool is not on PATH: apt-get install prometheus");
    if (!result.ok) throw new Error(`promtool ${args.join(" ")} failed:\n${result.out}`);
    await Deno.remove(file);
  };
  const workers = Array.from({ length: 4 }, async () => {
    for (let s = slices.shift(); s; s = slices.shift()) await one(s);
  });
  await Promise.all(workers);
  return dataDir;
}

// A free loopback port, a config with no scrape targets, and 90 days of retention. Time retention
// counts back from the newest block (the history's own, until the head is first written out), not
// from now, so the default 15d would keep these 3 days as well; 90d leaves room for longer ones.
/** Starts `prometheus` over a data directory, waits until it is ready; stop() returns its log. */
export async function startPrometheus(
  dataDir: string,
): Promise<{ url: string; stop(): Promise<string> }> {
  const configDir = await Deno.makeTempDir({ prefix: "node-heal-history-prometheus-" });
  const config = `${configDir}/prometheus.yml`;
  await Deno.writeTextFile(config, JSON.stringify({ global: { evaluation_interval: "1m" } }));
  const url = `http://127.0.0.1:${freePort()}`;
  let prometheus: ReturnType<typeof spawn>;
  try {
    prometheus = spawn("prometheus", [
      `--config.file=${config}`,
      `--storage.tsdb.path=${dataDir}`,
      "--storage.tsdb.retention.time=90d",
      `--web.listen-address=${new URL(url).host}`,
      "--log.level=warn",
    ]);
  } catch (err) {
    await Deno.remove(configDir, { recursive: true });
    throw err;
  }
  let exited: Deno.CommandStatus | undefined;
  prometheus.exited.then((s) => exited = s);
  const stop = async () => {
    const log = await prometheus.stop();
    await Deno.remove(configDir, { recursive: true });
    return log;
  };
  try {
    const state = await waitFor(
      `Prometheus's ${url}/-/ready`,
      async () => exited ? "exited" : (await ready(`${url}/-/ready`)) && "ready",
      60_000,
    );
    if (state === "exited") throw new Error(`prometheus exited (${exited!.code}) before ready`);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nprometheus logged:\n${await stop()}`);
  }
  return { url, stop };
}

/** What each rule's expression keeps of node-exporter's series, for an alert on `instance`. */
const EXPRESSION_LABELS: Record<string, (instance: string) => Record<string, string>> = {
  // avg by (instance) (...) keeps instance alone.
  NodeHighCPU: (instance) => ({ instance }),
  // A ratio of two series keeps every label but the name.
  NodeMemoryPressure: (instance) => ({ instance, job: "node-exporter" }),
  NodeFilesystemAlmostFull: (instance) => ({
    instance,
    job: "node-exporter",
    device: "/dev/sda1",
    fstype: "ext4",
    mountpoint: "/",
  }),
};

// Days and times after `start`: (a) CPU on a worker, (b) CPU on the control plane, (c) a kernel
// rollout's memory pressure on 6 of 10 workers at once, (d) CPU on an instance no Node has,
// (e) a filesystem alert on a worker that resolves for 10 minutes in between.
/** The firing periods of {@link ROLLOUT_HISTORY}, as the backtest should find them. */
export function ROLLOUT_EPISODES(start: Date): Episode[] {
  const at = (day: number, hh: number, mm: number) =>
    new Date(start.getTime() + day * DAY + hh * HOUR + mm * MINUTE);
  const episode = (alertname: string, ip: string, from: Date, to: Date): Episode => ({
    alertname,
    instance: `${ip}:9100`,
    start: from,
    end: to,
  });
  return [
    episode("NodeHighCPU", "10.0.1.1", at(0, 2, 0), at(0, 2, 40)),
    episode("NodeHighCPU", "10.0.0.1", at(0, 10, 0), at(0, 10, 30)),
    ...[3, 4, 5, 6, 7, 8].map((i) =>
      episode("NodeMemoryPressure", `10.0.1.${i}`, at(1, 3, 0), at(1, 4, 0))
    ),
    episode("NodeHighCPU", "10.9.9.9", at(1, 12, 0), at(1, 12, 20)),
    episode("NodeFilesystemAlmostFull", "10.0.1.10", at(2, 8, 0), at(2, 8, 40)),
    episode("NodeFilesystemAlmostFull", "10.0.1.10", at(2, 8, 50), at(2, 9, 30)),
  ];
}

// A control plane `cp-1` (10.0.0.1) and workers `worker-01` .. `worker-10` (10.0.1.1 ..
// 10.0.1.10) in two zones, all Ready throughout and created a month before `start`.
/** Three days from `start` (whole minutes): 11 Nodes, the alerts of {@link ROLLOUT_EPISODES}. */
export function ROLLOUT_HISTORY(start: Date): Scenario {
  const created = new Date(start.getTime() - 30 * DAY);
  const node = (name: string, ip: string, i: number, role?: string): HistoryNode => {
    const zone = i % 2 === 1 ? "eu-west-1a" : "eu-west-1b";
    return {
      name,
      internalIP: ip,
      ...(role ? { role } : {}),
      zone,
      instanceType: role ? "m5.large" : "m5.xlarge",
      providerID: `aws:///${zone}/i-0${(0x5eed0000 + i).toString(16).padStart(16, "0")}`,
      kernelVersion: "5.15.0-105-generic",
      osImage: "Ubuntu 22.04.4 LTS",
      containerRuntimeVersion: "containerd://1.7.13",
      kubeletVersion: "v1.29.2",
      created,
    };
  };
  const workers = Array.from(
    { length: 10 },
    (_, k) => node(`worker-${String(k + 1).padStart(2, "0")}`, `10.0.1.${k + 1}`, k + 1),
  );
  return {
    start,
    end: new Date(start.getTime() + 3 * DAY),
    intervalMs: MINUTE,
    ksmTarget: { job: "kube-state-metrics", instance: "10.244.0.9:8080" },
    nodes: [node("cp-1", "10.0.0.1", 0, "control-plane"), ...workers],
    firings: ROLLOUT_EPISODES(start).map((e) => ({
      alertname: e.alertname,
      labels: EXPRESSION_LABELS[e.alertname](e.instance),
      start: e.start,
      end: e.end,
    })),
  };
}
