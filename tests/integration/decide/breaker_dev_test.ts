// Correlated failures end to end, as docs/policy.md walks through them: `deno task dev` (a real
// process) with 9 workers in three zones (4, 3 and 2 of them) and the policy; alerts
// posted as Alertmanager 0.25 sends them; the Nodes, Events, /status and /metrics read back over
// HTTP with the real client library; the notification received by a signed-webhook receiver.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { notification, waitFor } from "../../support/helpers.ts";
import { readyReplica, startDev, stop } from "../../support/processes.ts";
import { startWebhookReceiver } from "../../fakes/webhook_receiver.ts";
import { workerName } from "../../../lib/embedded/seed/topology.ts";

const ZONE = "topology.kubernetes.io/zone";
const STEP = "node-heal.io/step";
const HMAC_KEY = "a-breaker-signing-key";

const ROOT = new URL("../../../", import.meta.url).pathname;

/** docs/examples/breaker.yaml (the walkthrough's policy), and a signed webhook to hear it. */
async function walkthroughPolicy(hook: string, secretFile: string): Promise<string> {
  // As the walkthrough starts it: drainAfter 0s, to see the drains at once.
  const example = await Deno.readTextFile(`${ROOT}docs/examples/breaker.yaml`);
  assert.ok(
    example.includes("drainAfter: 5m"),
    "the example's drainAfter, as the walkthrough seds it",
  );
  const text = example.replace("drainAfter: 5m", "drainAfter: 0s");
  // Its notify: list ends the file: one more sink goes on the end.
  return `${text}  - { name: audit, type: webhook, url: "${hook}", secretFile: ${secretFile} }\n`;
}

/** Posts one of the walkthrough's fixtures as it is. */
async function postFixture(url: string, file: string) {
  const res = await fetch(`${url}/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: await Deno.readTextFile(`${ROOT}tests/fixtures/${file}`),
  });
  assert.equal(res.status, 200);
  return (await res.json()).alerts as { node: string; outcome: string; message: string }[];
}

/** A dev process with `workers` workers and `policyText`, its URL and a client of its cluster. */
async function devWith(workers: number, policyText: string, dir: string) {
  await Deno.writeTextFile(`${dir}/policy.yaml`, policyText);
  const dev = startDev([
    `--embedded-workers=${workers}`,
    `--embedded-kubeconfig-out=${dir}/kubeconfig`,
    `--config=${dir}/policy.yaml`,
  ]);
  const url = await readyReplica(dev);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(`${dir}/kubeconfig`);
  return { dev, url, core: kc.makeApiClient(k8s.CoreV1Api) };
}

/** Posts alerts (firing or resolved) for Nodes by InternalIP, as one notification. */
async function post(
  url: string,
  status: "firing" | "resolved",
  nodes: { name: string; ip: string }[],
) {
  const body = notification(
    status,
    nodes.map((n) => ({
      labels: { alertname: "NodeDown", heal: "true", instance: `${n.ip}:9100` },
      fingerprint: `fp-${n.name}`,
    })),
  );
  const res = await fetch(`${url}/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return (await res.json()).alerts as { node: string; outcome: string; message: string }[];
}

/** Every worker: its name, InternalIP and zone, as the API server has them. */
async function workers(core: k8s.CoreV1Api) {
  const nodes = (await core.listNode()).items.filter((n) =>
    !("node-role.kubernetes.io/control-plane" in (n.metadata?.labels ?? {}))
  );
  return nodes.map((n) => ({
    name: n.metadata!.name!,
    ip: n.status!.addresses!.find((a) => a.type === "InternalIP")!.address,
    zone: n.metadata!.labels![ZONE],
    pool: n.metadata!.labels!["karpenter.sh/nodepool"],
  }));
}

async function stepOf(core: k8s.CoreV1Api, name: string): Promise<string | undefined> {
  return (await core.readNode({ name })).metadata?.annotations?.[STEP];
}

Deno.test("dev mode, 9 workers: 4 alerts in one zone open its breaker (Event, notification, /status, metric) and nothing drains there; a worker of another zone is cordoned and drained", async () => {
  await using hook = startWebhookReceiver(HMAC_KEY);
  const dir = await Deno.makeTempDir({ prefix: "node-heal-breaker-" });
  await Deno.writeTextFile(`${dir}/hmac`, HMAC_KEY);
  const text = await walkthroughPolicy(hook.url, `${dir}/hmac`);
  const { dev, url, core } = await devWith(9, text, dir);
  try {
    const all = await workers(core);
    const zoneA = all.filter((w) => w.zone === "us-east-1a");
    assert.equal(zoneA.length, 4, "the embedded cluster puts 4 of 9 workers in us-east-1a");
    const other = all.find((w) => w.name === workerName(1))!;
    assert.notEqual(other.zone, "us-east-1a");

    // A worker of another zone (the README's fixture alert): cordoned, then drained as usual.
    assert.equal((await postFixture(url, "alertmanager-0.25-firing.json"))[0].node, other.name);
    await waitFor("its drain", async () => await stepOf(core, other.name) === "drained", 20_000);

    // Four workers of us-east-1a alert in one notification: the breaker opens before any of them
    // is decided. The pool general can spare no second node (minHealthy 80%), so none is cordoned.
    const storm = await postFixture(url, "zone-storm-firing.json");
    assert.deepEqual(storm.map((a) => a.node).sort(), zoneA.map((w) => w.name).sort());
    assert.ok(storm.every((a) => a.outcome === "skipped"), JSON.stringify(storm));
    assert.match(storm[0].message, /\(gate domain karpenter\.sh\/nodepool\)/);

    const status = await (await fetch(`${url}/status`)).json();
    assert.equal(status.breakers.length, 1);
    const [breaker] = status.breakers;
    assert.equal(breaker.open, true);
    assert.equal(breaker.domain, "zone us-east-1a");
    assert.equal(breaker.count, 4);
    assert.deepEqual([...breaker.nodes].sort(), zoneA.map((w) => w.name).sort());

    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(
      metrics,
      /nodeheal_breaker_open\{key="topology\.kubernetes\.io\/zone",domain="us-east-1a"\} 1/,
    );

    // One NodeHealBreakerOpen Event on each of the four, naming the zone and the count.
    await waitFor("the Events", async () => {
      const events = (await core.listEventForAllNamespaces()).items.filter((e) =>
        e.reason === "NodeHealBreakerOpen"
      );
      const named = new Set(events.map((e) => e.involvedObject.name));
      return zoneA.every((w) => named.has(w.name)) && events;
    }, 10_000).then((events) => {
      assert.match(events[0].message!, /4 nodes in zone us-east-1a alerted within 5m/);
      assert.match(events[0].message!, /holding drains and replacements/);
    });

    // One notification, signed, of kind breakerOpen.
    const told = await waitFor(
      "the breakerOpen notification",
      () => hook.received.map((r) => JSON.parse(r.body)).find((e) => e.kind === "breakerOpen"),
      10_000,
    );
    assert.equal(told.node, "zone us-east-1a");
    // The example's log sink prints it in dev mode's log too.
    await waitFor(
      "the log sink's line",
      () => dev.out.records.find((r) => JSON.stringify(r).includes("breakerOpen")),
      10_000,
    );
    assert.match(told.message, /treating it as a zone problem, not 4 node problems/);

    // The other worker's alert resolves: released. Alertmanager repeats the storm: the pool has
    // room again, one worker of us-east-1a is cordoned (maxUnavailable 1 in the zone) and the
    // others are kept out by the zone's budget; the breaker holds the cordoned one's drain.
    const resolved = await postFixture(url, "alertmanager-0.25-resolved.json");
    assert.equal(resolved[0].outcome, "uncordon");
    const again = await postFixture(url, "zone-storm-firing.json");
    const cordoned = again.filter((a) => a.outcome === "cordon");
    assert.equal(cordoned.length, 1, JSON.stringify(again));
    const skipped = again.find((a) => a.outcome === "skipped")!;
    assert.match(
      skipped.message,
      /would leave zone us-east-1a with 2 of 4 nodes; maxUnavailable 1 \(gate domain topology\.kubernetes\.io\/zone\)/,
    );
    const held = cordoned[0].node;
    await waitFor("the drain held by the breaker", async () => {
      const events = (await core.listEventForAllNamespaces()).items;
      return events.some((e) =>
        e.involvedObject.name === held && /gate breaker/.test(e.message ?? "")
      );
    }, 10_000);
    // Still cordoned, not draining, a moment later: no drain starts under an open breaker.
    await new Promise((r) => setTimeout(r, 1500));
    for (const w of zoneA) assert.notEqual(await stepOf(core, w.name), "draining");
    assert.equal(await stepOf(core, held), "cordoned");
  } finally {
    await stop(dev);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dev mode, 30 workers: a storm of concurrent alerts across zones never takes out more than maxUnavailable per zone", async () => {
  await using hook = startWebhookReceiver(HMAC_KEY);
  const dir = await Deno.makeTempDir({ prefix: "node-heal-storm-" });
  await Deno.writeTextFile(`${dir}/hmac`, HMAC_KEY);
  const text = `rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon]
gates:
  minHealthy: 1
  rate: { max: 100, window: 1h }
  domains:
    - key: topology.kubernetes.io/zone
      maxUnavailable: 2
notify:
  - { name: audit, type: webhook, url: "${hook.url}", secretFile: ${dir}/hmac }
`;
  const { dev, url, core } = await devWith(30, text, dir);
  try {
    const all = await workers(core);
    // Every worker alerts, each in its own notification, three times over: 8 notifications in
    // flight at a time (as many as one client may keep open), shuffled across the zones.
    const queue = [0, 1, 2].flatMap((round) =>
      all.map((w, i) => ({ w, key: (i * 7919 + round * 104729) % 9973 }))
    ).sort((a, b) => a.key - b.key).map((q) => q.w);
    const rounds: Awaited<ReturnType<typeof post>>[] = [];
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let w = queue.shift(); w; w = queue.shift()) rounds.push(await post(url, "firing", [w]));
    }));
    const cordons = rounds.flat().filter((a) => a.outcome === "cordon");
    const zones = new Map<string, number>();
    for (const w of all) zones.set(w.zone, (zones.get(w.zone) ?? 0) + 1);
    // Cordons only add up here (the alerts keep firing), so the end is the most ever out.
    const out = new Map<string, number>();
    for (const n of (await core.listNode()).items) {
      if (!n.spec?.unschedulable) continue;
      const zone = n.metadata!.labels![ZONE];
      out.set(zone, (out.get(zone) ?? 0) + 1);
    }
    for (const [zone, size] of zones) {
      assert.equal(out.get(zone) ?? 0, Math.min(2, size), `zone ${zone}`);
    }
    assert.equal(cordons.length, [...out.values()].reduce((a, b) => a + b, 0));
    assert.ok(
      rounds.flat().filter((a) => a.outcome === "skipped").every((a) =>
        /\(gate domain topology\.kubernetes\.io\/zone\)|already cordoned/.test(a.message)
      ),
    );
  } finally {
    await stop(dev);
    await Deno.remove(dir, { recursive: true });
  }
});
