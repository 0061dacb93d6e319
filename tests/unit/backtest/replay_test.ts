import assert from "node:assert/strict";
import { replay } from "../../../lib/backtest/replay.ts";
import { DEFAULT_ROUTE, deliveries } from "../../../lib/backtest/alertmanager_sim.ts";
import { alertmanagerFingerprint, type Episode } from "../../../lib/backtest/history.ts";
import { summarize } from "../../../lib/backtest/report.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { isCordoned, type Node } from "../../../lib/base/node.ts";
import { workerNode } from "../../fakes/fake_client.ts";

const T0 = Date.parse("2026-11-02T00:00:00Z");
const MIN = 60_000;
const at = (minutes: number) => new Date(T0 + minutes * MIN);

function cluster(): Node[] {
  const workers = Array.from(
    { length: 10 },
    (_, i) => workerNode(`worker-${String(i + 1).padStart(2, "0")}`, `10.0.1.${i + 1}`),
  );
  const cp = workerNode("cp-1", "10.0.0.1");
  cp.metadata.labels!["node-role.kubernetes.io/control-plane"] = "";
  return [cp, ...workers];
}

function episode(
  alertname: string,
  ip: string,
  from: number,
  to?: number,
  extra: Record<string, string> = {},
): Episode {
  const labels = { alertname, heal: "true", instance: `${ip}:9100`, ...extra };
  return {
    labels,
    fingerprint: alertmanagerFingerprint(labels),
    start: at(from),
    ...(to !== undefined ? { end: at(to) } : {}),
  };
}

const CORDON = (minHealthy: string) =>
  parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon]
gates: { minHealthy: "${minHealthy}" }
`);

/** Six of ten workers sick in the same minute for an hour. */
const ROLLOUT = Array.from(
  { length: 6 },
  (_, i) => episode("NodeMemoryPressure", `10.0.1.${i + 3}`, 60, 120),
);

function run(policy: ReturnType<typeof CORDON>, history: Episode[], minutes = 240) {
  const nodes = cluster();
  const result = replay(deliveries(history, DEFAULT_ROUTE, at(minutes)), {
    policy,
    nodes,
    from: at(0),
    to: at(minutes),
    drainMs: 5 * MIN,
    replaceMs: 10 * MIN,
  });
  return { result, run: summarize(result, { policy, name: "p", nodes, to: at(minutes) }) };
}

Deno.test("replay() holds minHealthy in a rollout: 4 of 6 sick workers cordoned at 51%, 2 blocked", () => {
  const { result, run: r } = run(CORDON("51%"), ROLLOUT);
  const firstAlerts = result.decisions.filter((d) =>
    d.trigger === "alert" && d.status === "firing"
  );
  assert.deepEqual(
    firstAlerts.map((d) => d.gate ?? d.outcome),
    ["cordon", "cordon", "cordon", "cordon", "minHealthy", "minHealthy"],
  );
  assert.equal(r.totals.cordons, 4);
  assert.equal(r.totals.uncordons, 4);
  assert.equal(r.selected, 10);
  assert.equal(r.minHealthyRequired, 6);
  assert.deepEqual({ count: r.peakOut.count, budget: r.peakOut.budget }, { count: 4, budget: 4 });
  assert.equal(r.peakOut.at, "2026-11-02T01:00:10.000Z");
  const blocked = r.blockedBy.find((b) => b.gate === "minHealthy")!;
  assert.equal(blocked.alerts, 2);
  // Blocked from the first notification (01:00:10) until the resolution (02:00:10), each.
  assert.equal(blocked.blockedMs, 2 * 60 * MIN);
  // Everyone is back at the end.
  assert.equal(result.nodes.filter(isCordoned).length, 0);
  assert.equal(r.outOverTime.at(-1)?.out, 0);
});

Deno.test("replay() under a stricter policy cordons 2 of the 6 at 80% and blocks 4", () => {
  const { run: r } = run(CORDON("80%"), ROLLOUT);
  assert.equal(r.totals.cordons, 2);
  assert.equal(r.blockedBy.find((b) => b.gate === "minHealthy")?.alerts, 4);
  assert.equal(r.peakOut.budget, 2);
});

Deno.test("replay() never touches the control plane and counts alerts that match no node", () => {
  const { result, run: r } = run(CORDON("51%"), [
    episode("NodeHighCPU", "10.0.0.1", 10, 40),
    episode("NodeHighCPU", "10.9.9.9", 10, 40),
  ]);
  assert.equal(r.totals.cordons, 0);
  assert.equal(r.blockedBy.find((b) => b.gate === "protected")?.alerts, 1);
  assert.ok(result.decisions.some((d) => d.outcome === "unresolved"));
});

Deno.test("replay() skips another cluster's alerts as the service does, before they name a Node", () => {
  const policy = parsePolicy(`
cluster: { cluster: prod }
rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]
gates: { minHealthy: "51%" }
`);
  const { result, run: r } = run(policy, [
    episode("NodeHighCPU", "10.0.1.1", 10, 40, { cluster: "staging" }),
    episode("NodeHighCPU", "10.0.1.2", 10, 40),
    episode("NodeHighCPU", "10.0.1.3", 10, 40, { cluster: "prod" }),
  ]);
  const alerts = result.decisions.filter((d) => d.trigger === "alert" && d.status === "firing");
  assert.deepEqual(
    alerts.map((d) => [d.node, d.outcome, d.gate ?? ""]).sort(),
    [["", "otherCluster", "cluster"], ["", "otherCluster", "cluster"], [
      "worker-03",
      "cordon",
      "",
    ]],
  );
  assert.equal(r.totals.cordons, 1);
  assert.equal(r.totals.blocked, 0, "another cluster's alert blocks nothing of this one");
});

Deno.test("replay() applies the rate gate and the cooldown across alerts over time", () => {
  const policy = parsePolicy(`
rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]
gates: { minHealthy: 1, rate: { max: 2, window: 15m }, cooldown: 30m }
`);
  const { run: r } = run(policy, [
    episode("NodeHighCPU", "10.0.1.1", 0, 10),
    episode("NodeHighCPU", "10.0.1.2", 5, 15),
    episode("NodeHighCPU", "10.0.1.3", 6, 16), // a third within 15 minutes: rate
    episode("NodeHighCPU", "10.0.1.1", 20, 30), // released at 10: cooldown
    episode("NodeHighCPU", "10.0.1.4", 70, 80), // later: fine
  ]);
  assert.equal(r.totals.cordons, 3);
  assert.deepEqual(r.blockedBy.map((b) => b.gate).sort(), ["cooldown", "rate"]);
});

Deno.test("replay() walks the ladder: cordon, drain after drainAfter, replace after replaceAfter", () => {
  const policy = parsePolicy(`
acknowledge: [replaceByDefault]
rules:
  - name: heal
    match: ['heal="true"']
    actions: [replace]
    drainAfter: 10m
    replaceAfter: 5m
    replace: { provider: karpenter, timeout: 30m }
gates: { minHealthy: 1, maxReplacing: 1 }
`);
  const { result, run: r } = run(policy, [episode("NodeDiskFailing", "10.0.1.1", 0, 90)]);
  const actions = result.decisions.filter((d) => d.outcome !== "skipped").map((d) =>
    `${d.at.slice(11, 19)} ${d.outcome}`
  );
  assert.deepEqual(actions, [
    "00:00:10 cordon",
    "00:10:10 drain",
    "00:15:10 drain-end",
    "00:20:10 replace",
    "00:30:10 replaced",
    // The alert's repeat and resolution name a node that is gone.
    "01:01:10 unresolved",
    "01:30:10 unresolved",
  ]);
  assert.equal(r.totals.replacements, 1);
  // The old node is gone and its successor is in, Ready and schedulable.
  const names = result.nodes.map((n) => n.metadata.name);
  assert.ok(!names.includes("worker-01"));
  assert.ok(names.includes("worker-01-r1"));
});

Deno.test("replay() makes a second replacement wait behind maxReplacing", () => {
  const policy = parsePolicy(`
acknowledge: [replaceByDefault]
rules:
  - name: heal
    match: ['heal="true"']
    actions: [replace]
    replace: { provider: karpenter, timeout: 30m }
gates: { minHealthy: 1, maxReplacing: 1, maxConcurrent: 2 }
`);
  const { result } = run(policy, [
    episode("NodeDiskFailing", "10.0.1.1", 0, 90),
    episode("NodeDiskFailing", "10.0.1.2", 0, 90),
  ]);
  const replaces = result.decisions.filter((d) =>
    d.outcome === "replace" || d.gate === "maxReplacing"
  );
  assert.deepEqual(replaces.map((d) => `${d.node} ${d.gate ?? d.outcome}`), [
    "worker-01 replace",
    "worker-02 maxReplacing",
    "worker-02 replace",
  ]);
  // The second starts when the first's successor is Ready (10 minutes later).
  assert.equal(Date.parse(replaces[2].at) - Date.parse(replaces[0].at), 10 * MIN);
});

Deno.test("replay() lets go of a hold whose resolution never came after the hold TTL", () => {
  const { result } = run(CORDON("51%"), [episode("NodeHighCPU", "10.0.1.1", 0)], 24 * 60);
  // Still firing at the end: repeated every hour, so the hold is refreshed, never expired.
  assert.equal(result.decisions.filter((d) => d.outcome === "uncordon").length, 0);
  assert.ok(result.nodes.find((n) => n.metadata.name === "worker-01")!.spec?.unschedulable);
  // Without the repeats (a silence), the hold expires at the first sweep after 4h.
  const silenced = replay(
    deliveries([episode("NodeHighCPU", "10.0.1.1", 0)], {
      ...DEFAULT_ROUTE,
      repeatIntervalMs: 1000 * 60 * MIN,
    }, at(600)),
    {
      policy: CORDON("51%"),
      nodes: cluster(),
      from: at(0),
      to: at(600),
      drainMs: MIN,
      replaceMs: MIN,
    },
  );
  const uncordon = silenced.decisions.find((d) => d.outcome === "uncordon");
  assert.equal(uncordon?.trigger, "reconcile");
  assert.equal(uncordon?.at, "2026-11-02T04:01:00.000Z");
});

Deno.test("summarize() counts the alerts no rule of the policy acts on", () => {
  const drainOnly = parsePolicy(`
rules: [{ name: heal, match: ['heal="true"'], actions: [drain] }]
gates: { minHealthy: 1 }
`);
  const { run: r } = run(drainOnly, [
    episode("NodeHighCPU", "10.0.1.1", 0, 30, { heal_action: "cordon" }),
    episode("NodeHighCPU", "10.0.1.2", 0, 30, { heal_action: "cordon" }),
  ]);
  assert.equal(r.totals.cordons, 0);
  assert.equal(r.totals.noRule, 2);
});
