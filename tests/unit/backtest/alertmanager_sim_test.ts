import assert from "node:assert/strict";
import { DEFAULT_ROUTE, deliveries } from "../../../lib/backtest/alertmanager_sim.ts";
import { alertmanagerFingerprint, type Episode } from "../../../lib/backtest/history.ts";

const T0 = Date.parse("2026-11-02T00:00:00Z");
const S = 1000;
const MIN = 60 * S;

function episode(labels: Record<string, string>, from: number, to?: number): Episode {
  return {
    labels,
    fingerprint: alertmanagerFingerprint(labels),
    start: new Date(T0 + from),
    ...(to !== undefined ? { end: new Date(T0 + to) } : {}),
  };
}

/** Each notification as `+seconds alert:status ...`. */
function sent(history: Episode[], route = DEFAULT_ROUTE, toMs = 6 * 60 * MIN): string[] {
  return deliveries(history, route, new Date(T0 + toMs)).map((d) =>
    `+${(d.at.getTime() - T0) / S}s ${
      d.notification.alerts.map((a) => `${a.labels.instance}:${a.status}`).join(" ")
    }`
  );
}

const A = { alertname: "NodeHighCPU", heal: "true", instance: "a:9100" };
const B = { alertname: "NodeHighCPU", heal: "true", instance: "b:9100" };

Deno.test("deliveries() sends a group's first alert after group_wait and its resolution on the next tick", () => {
  assert.deepEqual(sent([episode(A, 0, 30 * MIN)]), [
    "+10s a:9100:firing",
    "+1810s a:9100:resolved",
  ]);
});

Deno.test("deliveries() repeats a firing alert every repeat_interval on a group_interval tick", () => {
  assert.deepEqual(sent([episode(A, 0, 150 * MIN)]), [
    "+10s a:9100:firing",
    "+3670s a:9100:firing",
    "+7330s a:9100:firing",
    "+9010s a:9100:resolved",
  ]);
});

Deno.test("deliveries() puts alerts of one group in one notification, a later one on the next tick", () => {
  const byName = { ...DEFAULT_ROUTE, groupBy: ["alertname"] };
  assert.deepEqual(
    sent([
      episode(A, 0, 10 * MIN),
      episode(B, 2 * S, 10 * MIN),
      episode({ ...A, instance: "c:9100" }, 90 * S, 10 * MIN),
    ], byName),
    [
      "+10s a:9100:firing b:9100:firing",
      "+130s a:9100:firing b:9100:firing c:9100:firing",
      "+610s a:9100:resolved b:9100:resolved c:9100:resolved",
    ],
  );
  // Grouped by instance too (the node-heal route), each has its own group and group_wait.
  assert.deepEqual(sent([episode(A, 0, 10 * MIN), episode(B, 2 * S, 10 * MIN)]), [
    "+10s a:9100:firing",
    "+12s b:9100:firing",
    "+610s a:9100:resolved",
    "+612s b:9100:resolved",
  ]);
});

Deno.test("deliveries() sends nothing for an alert that fired and resolved within group_wait", () => {
  assert.deepEqual(sent([episode(A, 0, 5 * S)]), []);
});

Deno.test("deliveries() starts a new group, with group_wait, when an alert fires again after its group ended", () => {
  assert.deepEqual(sent([episode(A, 0, 10 * MIN), episode(A, 40 * MIN, 50 * MIN)]), [
    "+10s a:9100:firing",
    "+610s a:9100:resolved",
    "+2410s a:9100:firing",
    "+3010s a:9100:resolved",
  ]);
});

Deno.test("deliveries() leaves an alert still firing at the end without a resolution", () => {
  assert.deepEqual(sent([episode(A, 0)], DEFAULT_ROUTE, 30 * MIN), ["+10s a:9100:firing"]);
});

Deno.test("deliveries() rebuilds days of an alert flapping on 300 nodes in one group, one notification per tick of change", () => {
  // 50 minutes firing in every 2 hours, each node 7s after the one before: 10,800 firing periods.
  // (How long it takes is measured by deno task bench:backtest, not asserted here.)
  const DAY = 24 * 60 * MIN;
  const history: Episode[] = [];
  for (let i = 0; i < 300; i++) {
    const labels = { ...A, instance: `10.0.${i >> 8}.${i & 255}:9100` };
    for (let t = i * 7 * S; t < 3 * DAY; t += 120 * MIN) {
      history.push(episode(labels, t, t + 50 * MIN));
    }
  }
  const sent = deliveries(
    history,
    { ...DEFAULT_ROUTE, groupBy: ["alertname"] },
    new Date(T0 + 3 * DAY),
  );
  // Each 2 hours the starts span 35 minutes (36 ticks of group_interval), and the ends too.
  assert.equal(sent.length, 3 * 12 * (36 + 36));
  assert.equal(Math.max(...sent.map((d) => d.notification.alerts.length)), 300);
});

Deno.test("deliveries() lists a notification's alerts in Alertmanager's order: by job, by instance, then by labels, firing or not", () => {
  const byName = { ...DEFAULT_ROUTE, groupBy: ["alertname"] };
  const at = (instance: string, extra: Record<string, string> = {}) => ({
    ...A,
    instance,
    ...extra,
  });
  const history = [
    episode(at("10.0.1.9:9100"), 0, 10 * MIN),
    episode(at("10.0.1.10:9100"), 1 * S, 10 * MIN),
    episode(at("10.0.1.2:9100"), 2 * S, 2 * MIN),
    episode({ alertname: A.alertname, heal: "true", node: "w1" }, 3 * S, 10 * MIN),
    episode(at("10.0.1.9:9100", { job: "node-exporter" }), 4 * S, 10 * MIN),
    episode(at("10.0.1.9:9100", { device: "sda" }), 5 * S, 10 * MIN),
  ];
  const [, second] = deliveries(history, byName, new Date(T0 + 5 * MIN));
  assert.deepEqual(
    second.notification.alerts.map((a) =>
      `${a.labels.job ?? ""}/${a.labels.instance ?? a.labels.node}${
        a.labels.device ?? ""
      }:${a.status}`
    ),
    [
      "node-exporter/10.0.1.9:9100:firing",
      "/10.0.1.10:9100:firing",
      "/10.0.1.2:9100:resolved",
      "/10.0.1.9:9100:firing",
      "/10.0.1.9:9100sda:firing",
      "/w1:firing",
    ],
  );
});
