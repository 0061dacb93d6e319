// Several replicas against one cluster, leader election on: one decides, so simultaneous alerts
// to every replica never take out more than the gates allow; the stopped leader hands over.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { type Service, startService } from "../../../lib/service/service.ts";
import { notification } from "../../support/alerts.ts";
import { waitFor } from "../../support/wait.ts";

const ELECTION = { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 100 };

async function replica(kubeconfigYaml: string, instance: string): Promise<Service> {
  const s = await startService({
    listen: { hostname: "127.0.0.1", port: 0 },
    kubeconfigYaml,
    dryRun: false,
    instance,
    eventNamespace: "default",
    holdTtlMs: 4 * 3_600_000,
    apiTimeoutMs: 2000,
    election: ELECTION,
    // The default minHealthy (51%); no cooldown or rate limit between the rounds.
    policy: parsePolicy(
      "acknowledge: [highRate]\ngates: { rate: { max: 100000, window: 1h }, cooldown: 0s }",
    ),
  });
  await s.synced;
  return s;
}

async function post(s: Service, body: unknown): Promise<number> {
  const res = await fetch(`${s.url}/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  await res.body?.cancel();
  return res.status;
}

/** Whether a replica leads, as its /status says. */
async function leads(s: Service): Promise<boolean> {
  const res = await fetch(`${s.url}/status`);
  return (await res.json() as { leadership: { leading: boolean } }).leadership.leading;
}

const alert = (ip: string, fp: string) => ({
  labels: { alertname: "NodeDown", heal: "true", instance: `${ip}:9100` },
  fingerprint: fp,
});

Deno.test("three replicas, alerts to every one at once, 20 rounds: exactly one worker out each round (minHealthy 51%)", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 3 });
  const replicas = await Promise.all(
    ["r1", "r2", "r3"].map((id) => replica(cluster.kubeconfig(), id)),
  );
  try {
    await waitFor(
      "one leader",
      async () => (await Promise.all(replicas.map(leads))).filter(Boolean).length === 1,
    );
    const ips = ["172.18.0.3", "172.18.0.4", "172.18.0.5"];
    for (let round = 0; round < 20; round++) {
      // One alert per worker, each sent to every replica at the same instant, as Alertmanager's
      // retries to a Service of several replicas would; every replica answers it.
      const statuses = await Promise.all(
        replicas.flatMap((s) =>
          ips.map((ip) => post(s, notification("firing", [alert(ip, `r${round}-${ip}`)])))
        ),
      );
      assert.ok(statuses.every((c) => c === 200 || c === 503), `answers ${statuses}`);
      const out = cluster.api.readAll("Node").filter((n) =>
        (n.spec as { unschedulable?: boolean }).unschedulable
      );
      assert.equal(out.length, 1, `round ${round}: ${out.length} workers out`);
      // Every alert was answered 200 by the leader (the others said 503: sent again).
      assert.equal(statuses.filter((c) => c === 200).length, 3);
      // Resolve them all for the next round.
      await post(
        replicas.find((_, i) => statuses[i * 3] === 200)!,
        notification("resolved", ips.map((ip) => alert(ip, `r${round}-${ip}`))),
      );
      await waitFor(
        "every worker back",
        () =>
          cluster.api.readAll("Node").every((n) =>
            !(n.spec as { unschedulable?: boolean }).unschedulable
          ),
      );
    }
    // The leader stops (SIGTERM): it releases the Lease and another replica leads and acts.
    const leaderIndex = (await Promise.all(replicas.map(leads))).indexOf(true);
    await replicas[leaderIndex].close();
    const rest = replicas.filter((_, i) => i !== leaderIndex);
    await waitFor("a new leader", async () => (await Promise.all(rest.map(leads))).some(Boolean));
    const next = rest[(await Promise.all(rest.map(leads))).indexOf(true)];
    assert.equal(await post(next, notification("firing", [alert("172.18.0.4", "after")])), 200);
    assert.equal(
      (cluster.api.read("Node", "heal-worker2") as { spec: { unschedulable?: boolean } }).spec
        .unschedulable,
      true,
    );
    replicas.splice(leaderIndex, 1);
  } finally {
    await Promise.all(replicas.map((s) => s.close()));
  }
});

Deno.test("a replica that does not lead answers 503 with connection: close, so the retry may reach the leader", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 3 });
  const replicas = await Promise.all(["q1", "q2"].map((id) => replica(cluster.kubeconfig(), id)));
  try {
    const follower = await waitFor("a leader and a follower", async () => {
      const l = await Promise.all(replicas.map(leads));
      return l.filter(Boolean).length === 1 ? replicas[l.indexOf(false)] : undefined;
    });
    const { hostname, port } = new URL(follower.url);
    const conn = await Deno.connect({ hostname, port: Number(port) });
    const body = JSON.stringify(notification("firing", [alert("172.18.0.3", "follower")]));
    await conn.write(new TextEncoder().encode(
      `POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
        `content-length: ${new TextEncoder().encode(body).length}\r\n\r\n${body}`,
    ));
    // The answer, head and body. Its "connection: close" tells the client (Alertmanager's Go
    // client honours it) not to send the retry on this connection again.
    let text = "";
    const buf = new Uint8Array(65536);
    const timer = setTimeout(() => conn.close(), 10_000);
    try {
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
        text += new TextDecoder().decode(buf.subarray(0, n));
        if (/does not lead[\s\S]*\}\s*$/.test(text)) break;
      }
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // Closed by the replica.
      }
    }
    assert.match(text, /^HTTP\/1\.1 503/);
    assert.match(text, /\r\nconnection: close\r\n/i);
    assert.match(text, /does not lead/);
    assert.equal(
      (cluster.api.read("Node", "heal-worker") as { spec: { unschedulable?: boolean } }).spec
        .unschedulable,
      undefined,
      "the follower acted on nothing",
    );
  } finally {
    await Promise.all(replicas.map((s) => s.close()));
  }
});
