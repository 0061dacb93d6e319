// `deno task bench:notify`: what a notification sink costs a remediation. The same cordons and
// releases (one webhook request each, answered once the node is written) against the embedded
// cluster, with no sink, with a webhook sink that answers at once, and with one that never answers
// (each attempt given up after 5 s, retried): the webhook's answer time must not change, since no
// remediation waits for a sink. Not part of the tests.
import { parsePolicy } from "../../lib/decide/policy.ts";
import { startEmbeddedCluster } from "../../lib/embedded/cluster.ts";
import { startService } from "../../lib/service/service.ts";
import { notification, percentile } from "./load.ts";

const WORKERS = 20;
const ROUNDS = 10;
const GATES =
  "acknowledge: [minHealthyZero, highRate]\ngates: { minHealthy: 0, rate: { max: 1000000, window: 1h }, cooldown: 0s }";

function body(i: number, status: "firing" | "resolved", round: number): string {
  // A new alert each round: a firing of one already resolved would be taken as late.
  const startsAt = new Date(Date.UTC(2026, 0, 1, 0, round)).toISOString();
  return notification(i, status, `n${i}`, startsAt);
}

/** A receiver that answers every POST at once, or never. */
function receiver(hang: boolean) {
  let received = 0;
  const stuck: (() => void)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received++;
    await req.text();
    if (hang) await new Promise<void>((r) => stuck.push(r));
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    get received() {
      return received;
    },
    async close() {
      for (const r of stuck) r();
      await server.shutdown();
    },
  };
}

/** Median and p99 of the webhook's answer time (ms) over cordon and release cycles. */
async function measure(sink: "none" | "answering" | "hanging") {
  await using cluster = await startEmbeddedCluster({ workers: WORKERS });
  const hook = sink === "none" ? undefined : receiver(sink === "hanging");
  const policy = parsePolicy(
    `${GATES}\n${hook ? `notify: [{ name: hook, type: webhook, url: "${hook.url}" }]` : ""}`,
  );
  const service = await startService({
    listen: { hostname: "127.0.0.1", port: 0 },
    kubeconfigYaml: cluster.kubeconfig(),
    dryRun: false,
    instance: "bench",
    eventNamespace: "default",
    holdTtlMs: 3_600_000,
    apiTimeoutMs: 10_000,
    policy,
  });
  await service.synced;
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const status of ["firing", "resolved"] as const) {
      for (let i = 1; i <= WORKERS; i++) {
        const t0 = performance.now();
        const res = await fetch(`${service.url}/webhook`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: body(i, status, round),
        });
        await res.body?.cancel();
        times.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
      }
    }
  }
  const received = hook?.received ?? 0;
  await service.close();
  await hook?.close();
  return {
    sink,
    requests: times.length,
    p50_ms: Number(percentile(times, 0.5).toFixed(2)),
    p99_ms: Number(percentile(times, 0.99).toFixed(2)),
    received,
  };
}

const results = [];
for (const sink of ["none", "answering", "hanging", "none", "answering", "hanging"] as const) {
  results.push(await measure(sink));
}
console.log("sink        requests  p50 ms  p99 ms  received by the sink");
for (const r of results) {
  console.log(
    `${r.sink.padEnd(10)}  ${String(r.requests).padStart(8)}  ${String(r.p50_ms).padStart(6)}  ${
      String(r.p99_ms).padStart(6)
    }  ${r.received}`,
  );
}
