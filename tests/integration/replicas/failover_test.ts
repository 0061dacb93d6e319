// kill -9 of the leader among three `main.ts serve` replicas, in the middle of a stream of alerts,
// the way Alertmanager sends them (an alert not answered 200 is sent again, to any replica): a
// survivor leads within the lease duration and a retry period, every alert is acted on, and none
// twice. The figures are printed for the record.
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { nodeAddress, workerName } from "../../../lib/embedded/seed/topology.ts";
import { notification } from "../../support/alerts.ts";
import { startServe, stop, watched } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

const WORKERS = 40;
const ALERTS = 30;

Deno.test("kill -9 of the leader mid-stream: a new leader within lease + retry, no alert lost, none acted on twice", async () => {
  await using cluster = await startEmbeddedCluster({ workers: WORKERS });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-failover-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  await Deno.writeTextFile(
    `${dir}/policy.yaml`,
    "acknowledge: [minHealthyZero, highRate]\ngates: { minHealthy: 0, rate: { max: 100000, window: 1h }, cooldown: 0s }",
  );
  const replicas = ["r1", "r2", "r3"].map((instance) =>
    watched(startServe([
      "--listen=127.0.0.1:0",
      `--kubeconfig=${dir}/kubeconfig`,
      `--config=${dir}/policy.yaml`,
      `--instance=${instance}`,
      "--leader-elect",
      "--lease-duration=4s",
      "--renew-deadline=3s",
      "--retry-period=500ms",
      "--log-format=json",
    ]))
  );
  const killed = new Set<number>();
  try {
    // Every replica listens; one leads.
    const urls = await Promise.all(replicas.map((r) => listening(r)));
    const leader = await waitFor("a leader", async () => {
      const ready = await Promise.all(urls.map(isLeading));
      return ready.filter(Boolean).length === 1 ? ready.indexOf(true) + 1 : undefined;
    }, 15_000) - 1;
    // The stream: one alert per worker; halfway, the leader dies without a word.
    let takeoverMs = 0;
    let retries = 0;
    for (let i = 1; i <= ALERTS; i++) {
      if (i === ALERTS / 2) {
        replicas[leader].child.kill("SIGKILL");
        killed.add(leader);
        const t0 = performance.now();
        await waitFor(
          "a new leader",
          async () =>
            (await Promise.all(urls.map((u, k) => killed.has(k) ? false : isLeading(u)))).some(
              Boolean,
            ),
          20_000,
        );
        takeoverMs = performance.now() - t0;
      }
      const body = notification("firing", [{
        labels: { alertname: "NodeDown", heal: "true", instance: `${nodeAddress(i)}:9100` },
        fingerprint: `f-${i}`,
      }]);
      // As Alertmanager: sent again until a replica answers 200.
      await waitFor(`alert ${i} answered 200`, async () => {
        for (const [k, url] of urls.entries()) {
          if (killed.has(k)) continue;
          if (await post(url, body) === 200) return true;
          retries++;
        }
        return false;
      }, 20_000);
    }
    // Every alert acted on, none twice: each worker cordoned, remediated once, one Event.
    const nodes = Array.from(
      { length: ALERTS },
      (_, k) => cluster.api.read("Node", workerName(k + 1))!,
    );
    const lost = nodes.filter((n) => !(n.spec as { unschedulable?: boolean }).unschedulable).length;
    const doubled = nodes.filter((n) => {
      const at = (n.metadata as { annotations?: Record<string, string> }).annotations?.[
        "node-heal.io/remediated-at"
      ];
      return JSON.parse(at ?? "[]").length !== 1;
    }).length;
    const events = cluster.api.readAll("Event").filter((e) =>
      (e as { reason?: string }).reason === "NodeHealCordoned"
    ) as { count?: number }[];
    console.log(
      `failover: takeover ${Math.round(takeoverMs)} ms after kill -9 (lease 4 s, retry 0.5 s), ` +
        `${ALERTS} alerts, lost ${lost}, acted on twice ${doubled}, ` +
        `NodeHealCordoned Events ${events.length} (counts ${
          events.reduce((s, e) => s + (e.count ?? 1), 0)
        }), ` +
        `answers other than 200 sent again: ${retries}`,
    );
    assert.equal(lost, 0, "no alert lost");
    assert.equal(doubled, 0, "no worker remediated twice");
    assert.equal(events.length, ALERTS);
    assert.ok(events.every((e) => (e.count ?? 1) === 1), "no cordon recorded twice");
  } finally {
    for (const [k, r] of replicas.entries()) {
      if (killed.has(k)) {
        await r.child.status;
        await r.out.done;
        await r.stderr;
      } else await stop(r);
    }
    await Deno.remove(dir, { recursive: true });
  }
});

async function listening(p: ReturnType<typeof watched>): Promise<string> {
  const started = await waitFor(
    "the start-up line",
    () => p.out.records.find((r) => String(r.message).includes("listening on")),
    15_000,
  );
  return (started.properties as { url: string }).url;
}

/** Whether the replica at `url` leads, as its /status says (false when it does not answer). */
async function isLeading(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/status`);
    return (await r.json() as { leadership: { leading: boolean } }).leadership.leading;
  } catch {
    return false;
  }
}

async function post(url: string, body: unknown): Promise<number> {
  try {
    const r = await fetch(`${url}/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    await r.body?.cancel();
    return r.status;
  } catch {
    return 0;
  }
}
