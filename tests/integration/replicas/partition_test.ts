// The leader cut off from the API server (its connections dropped, new ones refused) stops acting
// at its renew deadline, before another replica takes over at the lease duration: never two
// leaders at once, and the cut-off replica answers 503.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { kubeconfigFor, startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { startService } from "../../../lib/service/service.ts";
import { notification } from "../../support/alerts.ts";
import { waitFor } from "../../support/wait.ts";
import { leads } from "../../support/helpers.ts";
import { startRelay } from "../../support/relay.ts";

Deno.test("a leader cut off from the API server stops acting before another replica starts", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 3 });
  const port = Number(new URL(cluster.url).port);
  const relays = [startRelay(port), startRelay(port)];
  const replicas = await Promise.all(relays.map(async (r, i) => {
    const s = await startService({
      listen: { hostname: "127.0.0.1", port: 0 },
      kubeconfigYaml: kubeconfigFor(r.url),
      dryRun: false,
      instance: `p${i + 1}`,
      eventNamespace: "default",
      holdTtlMs: 4 * 3_600_000,
      apiTimeoutMs: 300,
      policy: parsePolicy("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }"),
      election: { leaseDurationMs: 2000, renewDeadlineMs: 1000, retryPeriodMs: 100 },
    });
    await s.synced;
    return s;
  }));
  try {
    const first = await waitFor("a leader", async () => {
      const l = await Promise.all(replicas.map((s) => leads(s.url)));
      return l.filter(Boolean).length === 1 ? l.indexOf(true) + 1 : undefined;
    }) - 1;
    const other = 1 - first;
    relays[first].cut();
    // Watch both as the handover happens: at no moment do both lead.
    let bothLed = false;
    let stoppedFirst = false;
    await waitFor("the other replica leads", async () => {
      const [a, b] = await Promise.all([leads(replicas[first].url), leads(replicas[other].url)]);
      if (a && b) bothLed = true;
      if (!a) stoppedFirst = true;
      return b;
    }, 10_000);
    assert.equal(bothLed, false, "never two leaders at once");
    assert.equal(stoppedFirst, true, "the cut-off leader stopped before the other started");
    assert.equal(await leads(replicas[first].url), false);
    // The cut-off replica acts on nothing: Alertmanager is told to send again.
    const res = await fetch(`${replicas[first].url}/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(notification("firing", [{
        labels: { alertname: "NodeDown", heal: "true", instance: "172.18.0.3:9100" },
        fingerprint: "cut",
      }])),
    });
    await res.body?.cancel();
    assert.equal(res.status, 503);
  } finally {
    await Promise.all(replicas.map((s) => s.close()));
    await Promise.all(relays.map((r) => r.close()));
  }
});
