// `deno task bench`: what node-heal costs, measured the same way every time against the
// embedded cluster. Prints a table, or with --json one JSON object. Not part of the tests.
import { connect } from "../../lib/act/kube_client.ts";
import { parsePolicy } from "../../lib/decide/policy.ts";
import { type EmbeddedCluster, startEmbeddedCluster } from "../../lib/embedded/cluster.ts";
import { nodeAddress, workerName } from "../../lib/embedded/seed.ts";
import { type Service, startService } from "../../lib/service.ts";

const JSON_OUT = Deno.args.includes("--json");
const RELAXED = parsePolicy(
  "gates: { minHealthy: 0, rate: { max: 1000000, window: 1h }, cooldown: 0s }",
);
const BENCH_UA = "node-heal-bench";

function note(text: string): void {
  if (!JSON_OUT) console.error(text);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function round(n: number, digits = 2): number {
  return Number(n.toFixed(digits));
}

function notification(i: number, status = "firing", fingerprint = `b${i}`): string {
  return JSON.stringify({
    version: "4",
    status,
    receiver: "node-heal",
    alerts: [{
      status,
      labels: { alertname: "NodeHighCPU", heal: "true", instance: `${nodeAddress(i)}:9100` },
      annotations: {},
      startsAt: "",
      endsAt: "",
      fingerprint,
    }],
  });
}

/** Watches Nodes over the API and tells when each becomes unschedulable. */
function watchCordons(cluster: EmbeddedCluster) {
  const waiting = new Map<string, (t: number) => void>();
  const control = new AbortController();
  (async () => {
    const list = await (await fetch(`${cluster.url}/api/v1/nodes?limit=1`, {
      headers: { "user-agent": BENCH_UA },
    })).json();
    const res = await fetch(
      `${cluster.url}/api/v1/nodes?watch=true&resourceVersion=${list.metadata.resourceVersion}`,
      { headers: { "user-agent": BENCH_UA }, signal: control.signal },
    );
    let rest = "";
    try {
      for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const lines = rest.split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          const ev = JSON.parse(line);
          if (ev.object?.spec?.unschedulable === true) {
            const done = waiting.get(ev.object.metadata.name);
            if (done) {
              waiting.delete(ev.object.metadata.name);
              done(performance.now());
            }
          }
        }
      }
    } catch {
      // Aborted at the end.
    }
  })();
  return {
    cordoned(name: string): Promise<number> {
      return new Promise((resolve) => waiting.set(name, resolve));
    },
    stop: () => control.abort(),
  };
}

async function post(url: string, body: string): Promise<number> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await res.body?.cancel();
  return res.status;
}

/** node-heal's requests to the API since the record was reset (the bench's own left out). */
function nodeHealRequests(cluster: EmbeddedCluster) {
  return cluster.api.traffic.requests.filter((r) => r.userAgent !== BENCH_UA);
}

async function service(cluster: EmbeddedCluster, policy = RELAXED): Promise<Service> {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-bench-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  const s = await startService({
    listen: { hostname: "127.0.0.1", port: 0 },
    kubeconfig: `${dir}/kubeconfig`,
    dryRun: false,
    instance: "bench",
    eventNamespace: "default",
    holdTtlMs: 4 * 3_600_000,
    apiTimeoutMs: 10_000,
    policy,
  });
  await s.synced;
  return s;
}

/** POST to Node unschedulable through the API, one alert at a time, for workers `from`..`to`. */
async function latencies(
  cluster: EmbeddedCluster,
  url: string,
  from: number,
  to: number,
): Promise<number[]> {
  const watch = watchCordons(cluster);
  await new Promise((r) => setTimeout(r, 100));
  const out: number[] = [];
  for (let i = from; i <= to; i++) {
    const seen = watch.cordoned(workerName(i));
    const t0 = performance.now();
    const status = await post(url, notification(i));
    if (status !== 200) throw new Error(`Webhook answered ${status} for worker ${i}`);
    out.push((await seen) - t0);
  }
  watch.stop();
  return out;
}

/** The floor: a bare Deno.serve handler that makes the same one PATCH with the same client. */
function floorServer(cluster: EmbeddedCluster) {
  const { client } = connect({ kubeconfigYaml: cluster.kubeconfig() });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json();
    const ip = body.alerts[0].labels.instance.split(":")[0];
    const i = Number(ip.split(".")[3]) - 2 + 256 * Number(ip.split(".")[2]);
    await client.patchNode(workerName(i), { metadata: {}, spec: { unschedulable: true } });
    return new Response("ok");
  });
  return { url: `http://127.0.0.1:${server.addr.port}/webhook`, close: () => server.shutdown() };
}

async function throughput(url: string, bodies: () => string, total: number, senders = 32) {
  let sent = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: senders }, async () => {
    while (sent < total) {
      sent++;
      if (await post(url, bodies()) !== 200) failed++;
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  if (failed > 0) throw new Error(`${failed} notifications were not answered 200`);
  return total / seconds;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** node-heal as its own process against `cluster`: time to ready, and resident memory. */
async function process(cluster: EmbeddedCluster): Promise<{ readyMs: number; rssMb: number }> {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-bench-proc-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  const port = freePort();
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      new URL("../../main.ts", import.meta.url).pathname,
      "serve",
      `--listen=127.0.0.1:${port}`,
      `--kubeconfig=${dir}/kubeconfig`,
      "--log-level=warning",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/readyz`);
        await r.body?.cancel();
        if (r.ok) break;
      } catch {
        // Not listening yet.
      }
      if (performance.now() - t0 > 120_000) {
        throw new Error("node-heal did not get ready in 2 minutes");
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const readyMs = performance.now() - t0;
    for (let i = 1; i <= 20; i++) await post(`http://127.0.0.1:${port}/webhook`, notification(i));
    // Deno reads /proc only with every permission; ps tells the same resident size.
    const ps = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(child.pid)] })
      .output();
    const rssKb = Number(new TextDecoder().decode(ps.stdout).trim());
    return { readyMs, rssMb: rssKb / 1024 };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

async function main() {
  const started = performance.now();
  const result: Record<string, number | boolean | string> = {};

  // 1 and 2: latency against the floor, and API cost per alert, on 100 and 5,000 nodes.
  note("latency and API cost on 100 nodes ...");
  {
    await using cluster = await startEmbeddedCluster({ workers: 600 });
    const s = await service(cluster);
    const floor = floorServer(cluster);
    await latencies(cluster, `${s.url}/webhook`, 1, 20);
    await latencies(cluster, floor.url, 301, 320);
    cluster.api.traffic.reset();
    const heal = await latencies(cluster, `${s.url}/webhook`, 21, 220);
    const requests = nodeHealRequests(cluster);
    const floorLat = await latencies(cluster, floor.url, 321, 520);
    result.latency_p50_ms = round(percentile(heal, 0.5));
    result.latency_p99_ms = round(percentile(heal, 0.99));
    result.floor_p50_ms = round(percentile(floorLat, 0.5));
    result.floor_p99_ms = round(percentile(floorLat, 0.99));
    result.ratio_p50 = round(percentile(heal, 0.5) / percentile(floorLat, 0.5));
    const alerts = 200;
    const byKind = new Map<string, number>();
    for (const r of requests) {
      const key = `${r.verb} ${r.resource}`;
      byKind.set(key, (byKind.get(key) ?? 0) + 1);
    }
    result.list_calls_per_alert = round((byKind.get("list nodes") ?? 0) / alerts, 3);
    result.api_requests_per_cordon = round(
      requests.filter((r) => r.verb !== "watch").length / alerts,
      2,
    );
    result.api_requests_per_cordon_by_kind = [...byKind].filter(([k]) => !k.startsWith("watch"))
      .map(([k, n]) => `${k}: ${round(n / alerts, 2)}`).join(", ");
    // A 600-worker cluster; the per-alert bytes are measured separately at 100 and 5,000 below.
    await floor.close();
    await s.close();
  }
  for (const size of [100, 5000]) {
    note(`API bytes per alert on ${size} nodes ...`);
    await using cluster = await startEmbeddedCluster({ workers: size });
    const s = await service(cluster);
    await latencies(cluster, `${s.url}/webhook`, 1, 10);
    cluster.api.traffic.reset();
    const n = 50;
    await latencies(cluster, `${s.url}/webhook`, 11, 10 + n);
    const requests = nodeHealRequests(cluster);
    const bytes = requests.reduce((sum, r) => sum + r.bytesOut, 0);
    result[`api_bytes_per_alert_${size}`] = Math.round(bytes / n);
    if (requests.some((r) => r.verb === "list")) result.list_calls_per_alert = -1;
    await s.close();
  }

  // 3: throughput with 32 senders.
  note("throughput ...");
  {
    await using cluster = await startEmbeddedCluster({ workers: 5000 });
    const s = await service(cluster);
    const url = `${s.url}/webhook`;
    await post(url, notification(1, "firing", "noop"));
    const noop = notification(1, "firing", "noop");
    await throughput(url, () => noop, 500);
    result.noop_notifications_per_s = Math.round(await throughput(url, () => noop, 10_000));
    let next = 2;
    result.acting_notifications_per_s = Math.round(
      await throughput(url, () => notification(next++), 3000),
    );
    await s.close();
  }

  // 4: memory and start-up of node-heal as its own process.
  for (const size of [100, 5000]) {
    note(`memory and start-up with ${size} nodes ...`);
    await using cluster = await startEmbeddedCluster({ workers: size });
    const p = await process(cluster);
    result[`rss_mb_${size}_nodes`] = round(p.rssMb, 1);
    if (size === 5000) result.ready_ms_5000_nodes = Math.round(p.readyMs);
    else result.ready_ms_100_nodes = Math.round(p.readyMs);
  }

  // 5: a storm: one notification of 1,000 alerts over 1,000 nodes, default minHealthy.
  note("storm ...");
  {
    await using cluster = await startEmbeddedCluster({ workers: 1000 });
    const s = await service(cluster, parsePolicy("gates: { rate: { max: 1000000, window: 1h } }"));
    const body = JSON.stringify({
      version: "4",
      status: "firing",
      alerts: Array.from({ length: 1000 }, (_, k) => ({
        status: "firing",
        labels: { alertname: "NodeHighCPU", heal: "true", instance: `${nodeAddress(k + 1)}:9100` },
        fingerprint: `storm-${k}`,
      })),
    });
    const t0 = performance.now();
    const res = await fetch(`${s.url}/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const answer = await res.json();
    result.storm_decide_ms = Math.round(performance.now() - t0);
    const out =
      cluster.api.readAll("Node").filter((n) =>
        (n.spec as { unschedulable?: boolean }).unschedulable
      ).length;
    const required = Math.ceil(0.51 * 1000);
    result.storm_cordoned = out;
    result.storm_gates_held = res.status === 200 && out <= 1000 - required &&
      answer.alerts.length === 1000;
    await s.close();
  }
  result.total_s = round((performance.now() - started) / 1000, 1);
  result.machine =
    `${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}, ${Deno.build.os}`;

  if (JSON_OUT) {
    console.log(JSON.stringify(result));
    return;
  }
  const targets: Record<string, string> = {
    ratio_p50: "<= 1.5",
    list_calls_per_alert: "0",
    noop_notifications_per_s: ">= 2000",
    rss_mb_5000_nodes: "<= 120",
    storm_decide_ms: "<= 1000",
    storm_gates_held: "true",
  };
  const width = Math.max(...Object.keys(result).map((k) => k.length));
  console.log(`${"figure".padEnd(width)}  value  (target)`);
  for (const [k, v] of Object.entries(result)) {
    console.log(`${k.padEnd(width)}  ${v}${targets[k] ? `  (${targets[k]})` : ""}`);
  }
}

await main();
