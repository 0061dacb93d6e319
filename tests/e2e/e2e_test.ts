// `deno task e2e`: the whole chain with the real parts. A metrics source serves node-exporter
// and kube-state-metrics series for every embedded node at its real `IP:9100` instance label;
// the real Prometheus scrapes it and evaluates manifests/alert-rule.yaml; the real Alertmanager
// routes with manifests/kube-prometheus-stack-values.yaml as Helm renders it; node-heal acts on the embedded cluster.
//
// One knob, NODE_HEAL_E2E_INTERVAL (I, default 1s), makes it fast: Prometheus scrapes and
// evaluates every I; in the rules, range windows under an hour become 5 I and longer ones 30 I,
// and every `for:` becomes 8 I (longer than the window, as 10m is longer than 5m: a young series'
// rate reads low until its window is full); Alertmanager's group_wait and group_interval become
// 0s and I. Nothing else of the rules or the routing changes.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { nodeAddress, workerName } from "../../lib/embedded/seed/topology.ts";
import { parsePolicy } from "../../lib/decide/policy.ts";
import {
  alertmanagerConfig,
  manifest,
  type ServiceFixture,
  waitFor,
  withService,
} from "../support/helpers.ts";
import { freePort, need, spawn } from "./stack.ts";

const INTERVAL = Deno.env.get("NODE_HEAL_E2E_INTERVAL") ?? "1s";
const INTERVAL_MS = Number(/^(\d+)s$/.exec(INTERVAL)?.[1] ?? NaN) * 1000;
if (!(INTERVAL_MS > 0)) {
  throw new Error(`NODE_HEAL_E2E_INTERVAL must be whole seconds such as 1s, got "${INTERVAL}"`);
}
const I = INTERVAL_MS / 1000;
const FOR = `${8 * I}s`;

/** A rule expression with its range windows scaled down by the knob. */
function scaleRanges(expr: string): string {
  return expr.replace(/\[(\d+)([smhd])\]/g, (_, n, unit) => {
    const seconds = Number(n) * { s: 1, m: 60, h: 3600, d: 86400 }[unit as "s"];
    return `[${seconds < 3600 ? 5 * I : 30 * I}s]`;
  });
}
const WORKERS = 10;

/** What the metrics source reports for one node; scenarios change it. */
interface NodeHealth {
  cpuBusy: boolean;
  memAvailablePct: number;
  fsAvailablePct: number;
  fsFallingPctPerS: number;
  fsReadOnly: boolean;
  netErrorsPerS: number;
  linkUp: boolean;
  exporterUp: boolean;
  ready: boolean;
  // Counters and their last update.
  cpuIdle: number;
  cpuUser: number;
  netErrors: number;
  at: number;
}

function healthy(): NodeHealth {
  return {
    cpuBusy: false,
    memAvailablePct: 60,
    fsAvailablePct: 70,
    fsFallingPctPerS: 0,
    fsReadOnly: false,
    netErrorsPerS: 0,
    linkUp: true,
    exporterUp: true,
    ready: true,
    cpuIdle: 1000,
    cpuUser: 100,
    netErrors: 0,
    at: performance.now(),
  };
}

/** A node-exporter and kube-state-metrics stand-in whose values the scenarios control. */
function startMetricsSource(nodes: Map<string, { name: string; health: NodeHealth }>) {
  const port = freePort();
  const fs = 'device="/dev/sda1",fstype="ext4",mountpoint="/"';
  const advance = (h: NodeHealth) => {
    const now = performance.now();
    const dt = (now - h.at) / 1000;
    h.at = now;
    h.cpuIdle += dt * (h.cpuBusy ? 0.01 : 0.9);
    h.cpuUser += dt * (h.cpuBusy ? 0.99 : 0.1);
    h.netErrors += dt * h.netErrorsPerS;
    h.fsAvailablePct = Math.max(0, h.fsAvailablePct - dt * h.fsFallingPctPerS);
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/ksm") {
      const lines = ["# TYPE kube_node_status_condition gauge"];
      for (const { name, health } of nodes.values()) {
        const r = health.ready ? 1 : 0;
        lines.push(
          `kube_node_status_condition{node="${name}",condition="Ready",status="true"} ${r}`,
        );
        lines.push(
          `kube_node_status_condition{node="${name}",condition="Ready",status="false"} ${1 - r}`,
        );
      }
      return new Response(lines.join("\n") + "\n");
    }
    const ip = path.replace("/metrics/", "");
    const node = nodes.get(ip);
    if (!node) return new Response("unknown node\n", { status: 404 });
    const h = node.health;
    if (!h.exporterUp) return new Response("exporter down\n", { status: 503 });
    advance(h);
    const size = 100e9;
    return new Response(
      [
        "# TYPE node_cpu_seconds_total counter",
        `node_cpu_seconds_total{cpu="0",mode="idle"} ${h.cpuIdle}`,
        `node_cpu_seconds_total{cpu="0",mode="user"} ${h.cpuUser}`,
        "# TYPE node_memory_MemAvailable_bytes gauge",
        `node_memory_MemAvailable_bytes ${(h.memAvailablePct / 100) * 16e9}`,
        "# TYPE node_memory_MemTotal_bytes gauge",
        `node_memory_MemTotal_bytes ${16e9}`,
        "# TYPE node_filesystem_avail_bytes gauge",
        `node_filesystem_avail_bytes{${fs}} ${(h.fsAvailablePct / 100) * size}`,
        "# TYPE node_filesystem_size_bytes gauge",
        `node_filesystem_size_bytes{${fs}} ${size}`,
        "# TYPE node_filesystem_readonly gauge",
        `node_filesystem_readonly{${fs}} ${h.fsReadOnly ? 1 : 0}`,
        "# TYPE node_network_receive_errs_total counter",
        `node_network_receive_errs_total{device="eth0"} ${Math.floor(h.netErrors)}`,
        "# TYPE node_network_transmit_errs_total counter",
        `node_network_transmit_errs_total{device="eth0"} 0`,
        "# TYPE node_network_up gauge",
        `node_network_up{device="eth0"} ${h.linkUp ? 1 : 0}`,
        `node_network_up{device="lo"} 0`,
        "",
      ].join("\n"),
    );
  });
  return { port, close: () => server.shutdown() };
}

/**
 * A pass-through in front of node-heal that notes, by status, alertname and node, when each
 * alert first reached the webhook and when node-heal had answered it (its action done).
 */
function startRecorder(target: string) {
  const arrivals = new Map<string, number>();
  const answers = new Map<string, number>();
  const port = freePort();
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
    const body = await req.text();
    const at = Date.now();
    let keys: string[] = [];
    try {
      keys = (JSON.parse(body).alerts ?? []).map((
        a: { status: string; labels: Record<string, string> },
      ) => `${a.status} ${a.labels.alertname} ${a.labels.node ?? a.labels.instance}`);
    } catch {
      // node-heal answers malformed bodies itself.
    }
    const res = await fetch(target, { method: "POST", headers: req.headers, body });
    const answer = await res.arrayBuffer();
    const done = Date.now();
    for (const key of keys) {
      if (!arrivals.has(key)) arrivals.set(key, at);
      if (!answers.has(key) && res.ok) answers.set(key, done);
    }
    return new Response(answer, { status: res.status, headers: res.headers });
  });
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    arrivals,
    answers,
    close: () => server.shutdown(),
  };
}

interface Failure {
  alert: string;
  set(h: NodeHealth): void;
}

/** One failure of each kind, each on its own worker (heal-worker3 upwards). */
const FAILURES: Failure[] = [
  { alert: "NodeMemoryPressure", set: (h) => h.memAvailablePct = 5 },
  { alert: "NodeFilesystemAlmostFull", set: (h) => h.fsAvailablePct = 5 },
  {
    alert: "NodeFilesystemFillingUp",
    set: (h) => {
      h.fsAvailablePct = 24;
      h.fsFallingPctPerS = 0.05;
    },
  },
  { alert: "NodeFilesystemReadOnly", set: (h) => h.fsReadOnly = true },
  { alert: "NodeNetworkErrors", set: (h) => h.netErrorsPerS = 5000 },
  { alert: "NodeNetworkLinkDown", set: (h) => h.linkUp = false },
  { alert: "NodeExporterDown", set: (h) => h.exporterUp = false },
  { alert: "NodeNotReady", set: (h) => h.ready = false },
];

async function unschedulable(f: ServiceFixture, node: string): Promise<boolean> {
  return (await f.core.readNode({ name: node })).spec?.unschedulable === true;
}

async function reasons(f: ServiceFixture, node: string): Promise<string[]> {
  const list = await f.core.listEventForAllNamespaces({
    fieldSelector: `involvedObject.name=${node}`,
  });
  return list.items.map((e: k8s.CoreV1Event) => `${e.reason}: ${e.message}`);
}

function ms(n: number | undefined): string {
  return n === undefined ? "-" : `${Math.round(n)}`;
}

Deno.test({
  name: "e2e: node metrics through real Prometheus and Alertmanager to node-heal and the Node",
  fn: async () => {
    await need("prometheus");
    await need("prometheus-alertmanager");
    const started = performance.now();
    // Every failure type cordons its own worker at once: the gates that would (rightly) stop
    // that much at once are relaxed; tests/unit/decide/gates_test.ts and policy_test.ts prove them.
    const policy = parsePolicy(
      "acknowledge: [minHealthyZero]\ngates: { minHealthy: 0, rate: { max: 100, window: 1h } }",
    );
    await using f = await withService({ workers: WORKERS, policy });
    const dir = await Deno.makeTempDir({ prefix: "node-heal-e2e-" });

    // Every node healthy, but heal-worker2 busy from the start (a 5-minute CPU rate moves slowly).
    const nodes = new Map<string, { name: string; health: NodeHealth }>();
    nodes.set(nodeAddress(0), { name: "heal-control-plane", health: healthy() });
    for (let i = 1; i <= WORKERS; i++) {
      nodes.set(nodeAddress(i), { name: workerName(i), health: healthy() });
    }
    const byName = (name: string) => [...nodes.values()].find((n) => n.name === name)!.health;
    byName("heal-worker2").cpuBusy = true;
    const source = startMetricsSource(nodes);
    const recorder = startRecorder(`${f.service.url}/webhook`);

    const amPort = freePort();
    const am = await alertmanagerConfig(recorder.url);
    const shorten = (route: Record<string, unknown>) => {
      if ("group_interval" in route) route.group_interval = INTERVAL;
      for (const r of (route.routes ?? []) as Record<string, unknown>[]) shorten(r);
    };
    shorten(am.route as Record<string, unknown>);
    await Deno.writeTextFile(`${dir}/alertmanager.yml`, JSON.stringify(am, null, 2));
    const alertmanager = spawn("prometheus-alertmanager", [
      `--config.file=${dir}/alertmanager.yml`,
      `--storage.path=${dir}/am`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      "--cluster.listen-address=",
      "--log.level=warn",
    ]);

    const [rule] = await manifest("alert-rule.yaml");
    const spec = structuredClone(rule.spec) as {
      groups: { rules: { for?: string; expr: string }[] }[];
    };
    for (const r of spec.groups.flatMap((g) => g.rules)) {
      if (r.for) r.for = FOR;
      r.expr = scaleRanges(r.expr);
    }
    await Deno.writeTextFile(`${dir}/rules.yaml`, stringify(spec));
    const promPort = freePort();
    const target = `127.0.0.1:${source.port}`;
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      JSON.stringify({
        global: {
          scrape_interval: INTERVAL,
          evaluation_interval: INTERVAL,
          scrape_timeout: INTERVAL,
        },
        rule_files: [`${dir}/rules.yaml`],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: [
          {
            job_name: "node-exporter",
            static_configs: [...nodes.keys()].map((ip) => ({
              targets: [target],
              labels: { instance: `${ip}:9100`, __metrics_path__: `/metrics/${ip}` },
            })),
          },
          {
            job_name: "kube-state-metrics",
            metrics_path: "/ksm",
            static_configs: [{ targets: [target], labels: { instance: "10.244.0.9:8080" } }],
          },
        ],
      }),
    );
    const prometheus = spawn("prometheus", [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/prometheus`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      `--rules.alert.resend-delay=${INTERVAL}`,
      "--log.level=warn",
    ]);
    const ready = async (url: string) => {
      const r = await fetch(url);
      await r.body?.cancel();
      return r.ok;
    };
    let failed = true;
    try {
      await waitFor("Prometheus", () => ready(`http://127.0.0.1:${promPort}/-/ready`), 30_000);
      await waitFor("Alertmanager", () => ready(`http://127.0.0.1:${amPort}/-/ready`), 30_000);
      // Healthy baseline: every target scraped a few times before anything breaks.
      await waitFor("every target up", async () => {
        const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=count(up==1)`);
        const v = (await r.json()).data?.result?.[0]?.value?.[1];
        return Number(v) === nodes.size + 1;
      }, 30_000);
      await new Promise((r) => setTimeout(r, 3 * INTERVAL_MS));

      // Alertmanager's view, polled: when each alert first reached it (its own updatedAt).
      const atAlertmanager = new Map<string, number>();
      let polling = true;
      const poller = (async () => {
        while (polling) {
          try {
            const r = await fetch(`http://127.0.0.1:${amPort}/api/v2/alerts?active=true`);
            for (const a of await r.json()) {
              const key = `${a.labels.alertname} ${a.labels.node ?? a.labels.instance}`;
              if (!atAlertmanager.has(key)) atAlertmanager.set(key, Date.parse(a.updatedAt));
            }
          } catch {
            // Alertmanager busy; poll again.
          }
          await new Promise((r) => setTimeout(r, 25));
        }
      })();

      // Scenario 1: CPU high on heal-worker2 (busy from the start) leads to a cordon.
      await waitFor(
        "heal-worker2 cordoned for NodeHighCPU",
        () => unschedulable(f, "heal-worker2"),
        60_000,
      );
      await waitFor(
        "the NodeHealCordoned Event for NodeHighCPU",
        async () =>
          (await reasons(f, "heal-worker2")).some((r) =>
            r.startsWith("NodeHealCordoned") && r.includes("NodeHighCPU")
          ),
      );

      // Scenarios 2 and 4: a problem on the control plane, and every failure type on a worker.
      const setAt = new Map<string, number>();
      const cp = byName("heal-control-plane");
      cp.memAvailablePct = 5;
      setAt.set(`NodeMemoryPressure ${nodeAddress(0)}:9100`, Date.now());
      FAILURES.forEach((failure, i) => {
        const name = workerName(i + 3);
        failure.set(byName(name));
        const key = failure.alert === "NodeNotReady" ? name : `${nodeAddress(i + 3)}:9100`;
        setAt.set(`${failure.alert} ${key}`, Date.now());
      });
      // Each failure's alert must hold its node cordoned. A failure may trip a second rule too
      // (a filesystem filled at once is also "filling up"); the first cordons, the other joins
      // the hold, and both are in the node's node-heal.io/alerts annotation.
      const holders = async (name: string) => {
        const node = await f.core.readNode({ name });
        const held = JSON.parse(node.metadata?.annotations?.["node-heal.io/alerts"] ?? "{}");
        return {
          cordoned: node.spec?.unschedulable === true,
          alerts: Object.values(held).map((h) => (h as { alertname: string }).alertname),
        };
      };
      const cordonedAt = new Map<string, number>();
      await waitFor("every failure type to cordon its node", async () => {
        for (const [i, failure] of FAILURES.entries()) {
          const { cordoned, alerts } = await holders(workerName(i + 3));
          if (!cordonedAt.has(failure.alert) && cordoned && alerts.includes(failure.alert)) {
            cordonedAt.set(failure.alert, Date.now());
          }
        }
        return cordonedAt.size === FAILURES.length;
      }, 90_000);
      for (const [i] of FAILURES.entries()) {
        const name = workerName(i + 3);
        const once = async () =>
          (await reasons(f, name)).filter((r) => r.startsWith("NodeHealCordoned")).length === 1;
        await waitFor(`one NodeHealCordoned Event on ${name}`, once);
      }
      await waitFor(
        "NodeHealSkipped on the control plane",
        async () =>
          (await reasons(f, "heal-control-plane")).some((r) => r.startsWith("NodeHealSkipped")),
        30_000,
      );
      assert.equal(
        await unschedulable(f, "heal-control-plane"),
        false,
        "the control plane is never cordoned",
      );

      // Scenario 3: the CPU alert resolving leads to an uncordon.
      byName("heal-worker2").cpuBusy = false;
      await waitFor(
        "heal-worker2 uncordoned",
        async () => !(await unschedulable(f, "heal-worker2")),
        60_000,
      );
      assert.equal(
        await unschedulable(f, "heal-worker"),
        false,
        "the healthy worker is never touched",
      );
      polling = false;
      await poller;

      // Where the time goes, from the metric crossing its threshold to the Node cordoned:
      // Prometheus (scrape, evaluate, wait for:, send) until Alertmanager has the alert;
      // Alertmanager (route, group, notify) until the webhook has it; node-heal until it answered.
      const rows: string[][] = [];
      const totals: number[] = [];
      for (const [i, failure] of FAILURES.entries()) {
        const name = workerName(i + 3);
        const key = failure.alert === "NodeNotReady" ? name : `${nodeAddress(i + 3)}:9100`;
        const t0 = setAt.get(`${failure.alert} ${key}`)!;
        const tAm = atAlertmanager.get(`${failure.alert} ${key}`);
        const tHook = recorder.arrivals.get(`firing ${failure.alert} ${key}`);
        const tDone = recorder.answers.get(`firing ${failure.alert} ${key}`) ??
          cordonedAt.get(failure.alert)!;
        totals.push(tDone - t0);
        rows.push([
          failure.alert,
          name,
          ms(tAm === undefined ? undefined : tAm - t0),
          ms(tAm === undefined || tHook === undefined ? undefined : tHook - tAm),
          ms(tHook === undefined ? undefined : tDone - tHook),
          ms(tDone - t0),
        ]);
      }
      const header = [
        "alert",
        "node",
        "Prometheus ms",
        "Alertmanager ms",
        "node-heal ms",
        "total ms",
      ];
      const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
      const line = (r: string[]) => r.map((v, c) => v.padEnd(widths[c])).join("  ");
      totals.sort((a, b) => a - b);
      console.log(
        [
          "",
          `Metric crossing its threshold to Node cordoned (NODE_HEAL_E2E_INTERVAL=${INTERVAL}, ` +
          `for: ${FOR}; Prometheus's share includes the for: wait):`,
          line(header),
          ...rows.map(line),
          `median ${ms(totals[Math.floor(totals.length / 2)])} ms, max ${ms(totals.at(-1))} ms; ` +
          `whole run ${((performance.now() - started) / 1000).toFixed(1)} s`,
          "",
        ].join("\n"),
      );
      failed = false;
    } finally {
      const promLog = await prometheus.stop();
      const amLog = await alertmanager.stop();
      await recorder.close();
      await source.close();
      await Deno.remove(dir, { recursive: true });
      if (failed) console.error(`Prometheus said:\n${promLog}\nAlertmanager said:\n${amLog}`);
    }
  },
});
