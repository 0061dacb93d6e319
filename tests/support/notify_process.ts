// Hostile notification receivers against `main.ts serve` as a process with the production heap
// (issue 27): an embedded cluster in the test's process, node-heal beside it with a policy whose
// one sink points at a receiver that answers a huge body, or never answers. Shared by
// tests/integration/report/notify_hostile_test.ts and `tests/bench/notify_hostile.ts`.
import { streamedBody } from "../fakes/streamed_body.ts";
import { startEmbeddedCluster } from "../../lib/embedded/cluster.ts";
import { nodeAddress } from "../../lib/embedded/seed/topology.ts";
import { readyReplica, startServe, stop, watched } from "./processes.ts";

/** A receiver that answers 200 with `bytes` bytes, made as they are pulled (the fake holds none). */
export function streamingReceiver(bytes: number) {
  const state = { requests: 0, pulled: 0, finished: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    state.requests++;
    return new Response(streamedBody(bytes, { counts: state }), {
      headers: { "content-type": "text/plain" },
    });
  });
  const close = () => server.shutdown();
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    state,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A receiver that takes every request and never answers it (until closed). */
export function hungReceiver() {
  const state = { requests: 0 };
  const closing = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    state.requests++;
    await req.body?.cancel();
    // Until closed: node-heal giving up an attempt does not end it (nor should it matter).
    await new Promise<void>((resolve) => {
      closing.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    return new Response("too late", { status: 504 });
  });
  const close = async () => {
    closing.abort();
    await server.shutdown();
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    state,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Gates that let every cordon through (dangers the policy acknowledges), and one sink: `sink` is
 * its YAML flow mapping.
 */
export function policyWith(sink: string): string {
  return `acknowledge: [minHealthyZero, highRate]
gates: { minHealthy: 0, rate: { max: 1000000, window: 1h }, cooldown: 0s }
notify:
  - ${sink}
`;
}

/**
 * An embedded cluster with one worker, and `main.ts serve` (production heap) against it with
 * `policy`; `files` are written beside the policy first (a Slack URL's file).
 */
export async function startNotifyingServe(policy: string, files: Record<string, string> = {}) {
  const cluster = await startEmbeddedCluster({ workers: 1 });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-notify-hostile-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  await Deno.writeTextFile(`${dir}/policy.yaml`, policy.replaceAll("$DIR", dir));
  const p = watched(startServe([
    "--listen=127.0.0.1:0",
    `--kubeconfig=${dir}/kubeconfig`,
    `--config=${dir}/policy.yaml`,
  ]));
  let url: string;
  try {
    url = await readyReplica(p);
  } catch (e) {
    try {
      p.child.kill("SIGKILL");
    } catch {
      // It has ended already (a refused policy): its stderr says why.
    }
    await cluster.close();
    throw new Error(`serve did not start: ${await p.stderr}`, { cause: e });
  }
  /** Posts one notification of `alerts`; its status. */
  const post = async (status: "firing" | "resolved", alerts: unknown[]) => {
    const res = await fetch(`${url}/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ version: "4", status, receiver: "node-heal", groupKey: "{}", alerts }),
    });
    await res.body?.cancel();
    return res.status;
  };
  /** A metric's value from /metrics (0 when absent). */
  const metric = async (series: string) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  const close = async () => {
    const ended = await stop(p);
    await cluster.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return ended;
  };
  return { url, p, pid: p.child.pid, post, metric, close };
}

/**
 * An alert about the embedded cluster's one worker: `heal="true"`, its instance, and `extra`
 * labels; `i` makes its fingerprint and `startsAt` its own (no resolution makes it stale).
 */
export function workerAlert(
  status: "firing" | "resolved",
  i: number,
  extra: Record<string, string> = {},
  annotations: Record<string, string> = {},
) {
  const startsAt = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  return {
    status,
    labels: {
      alertname: "NodeHighCPU",
      heal: "true",
      instance: `${nodeAddress(1)}:9100`,
      ...extra,
    },
    annotations,
    startsAt,
    endsAt: status === "firing" ? "0001-01-01T00:00:00Z" : new Date().toISOString(),
    generatorURL: "http://prometheus.example:9090/graph?g0.expr=up",
    fingerprint: `f${i.toString(16).padStart(15, "0")}`,
  };
}

/** `n` labels of `length` characters each, named `l0`… */
export function hugeLabels(n: number, length: number, seed = 0): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let k = 0; k < n; k++) labels[`l${k}`] = `${seed}-${k}-`.padEnd(length, "x");
  return labels;
}
