// The bench's load: Alertmanager notifications sent one at a time or by many senders, the
// cordons watched for over the API, and the figures made of their times.
import { connect } from "../../lib/act/kube/client.ts";
import type { EmbeddedCluster } from "../../lib/embedded/cluster.ts";
import { nodeAddress, workerName } from "../../lib/embedded/seed/topology.ts";

/** The bench's own user agent: its requests to the API are told apart from node-heal's. */
export const BENCH_UA = "node-heal-bench";

/** The value at quantile `p` (0 to 1) of `values`, nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** `n` rounded to `digits` decimals. */
export function round(n: number, digits = 2): number {
  return Number(n.toFixed(digits));
}

/** A one-alert notification about worker `i` (its `IP:9100`), as Alertmanager sends it. */
export function notification(
  i: number,
  status = "firing",
  fingerprint = `b${i}`,
  startsAt = "",
): string {
  return JSON.stringify({
    version: "4",
    status,
    receiver: "node-heal",
    alerts: [{
      status,
      labels: { alertname: "NodeHighCPU", heal: "true", instance: `${nodeAddress(i)}:9100` },
      annotations: {},
      startsAt,
      endsAt: "",
      fingerprint,
    }],
  });
}

/** Watches Nodes over the API and tells when each becomes unschedulable. */
export function watchCordons(cluster: EmbeddedCluster) {
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

export async function post(url: string, body: string): Promise<number> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await res.body?.cancel();
  return res.status;
}

/** POST to Node unschedulable through the API, one alert at a time, for workers `from`..`to`. */
export async function latencies(
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

/** Sets `unschedulable` of workers 1..`count` with the floor's client, all at once; the time taken. */
export async function patchAll(cluster: EmbeddedCluster, count: number, unschedulable: boolean) {
  const { client } = connect({ kubeconfigYaml: cluster.kubeconfig() });
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: count },
      (_, k) => client.patchNode(workerName(k + 1), { metadata: {}, spec: { unschedulable } }),
    ),
  );
  const ms = performance.now() - t0;
  await client.close?.();
  return ms;
}

export async function throughput(url: string, bodies: () => string, total: number, senders = 32) {
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

/** Each request's time to its answer, `senders` at a time. */
export async function latenciesUnderLoad(
  url: string,
  bodies: () => string,
  total: number,
  senders: number,
): Promise<number[]> {
  let sent = 0;
  let failed = 0;
  const out: number[] = [];
  await Promise.all(Array.from({ length: senders }, async () => {
    while (sent < total) {
      sent++;
      const body = bodies();
      const t0 = performance.now();
      if (await post(url, body) !== 200) failed++;
      out.push(performance.now() - t0);
    }
  }));
  if (failed > 0) throw new Error(`${failed} notifications were not answered 200`);
  return out;
}

/** How many Nodes of `cluster` are unschedulable. */
export function unschedulable(cluster: EmbeddedCluster): number {
  return cluster.api.readAll("Node").filter((n) =>
    (n.spec as { unschedulable?: boolean }).unschedulable
  ).length;
}
