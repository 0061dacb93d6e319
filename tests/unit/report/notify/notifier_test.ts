// The notifier: each sink gets the kinds and alerts it asks for; a gate's storm is told for a few
// nodes and summarized; the episode ties a cordon to its release.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../../lib/decide/policy.ts";
import { Notifier, type Outbox } from "../../../../lib/report/notify/notifier.ts";
import type { NotifyEvent } from "../../../../lib/report/notify/types.ts";

class Collect implements Outbox {
  events: NotifyEvent[] = [];
  closed = false;
  push(event: NotifyEvent): void {
    this.events.push(event);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function setup(yaml: string) {
  const policy = parsePolicy(yaml);
  const outs = policy.notify.map(() => new Collect());
  const notifier = new Notifier(
    policy.notify.map((config, i) => ({ config, outbox: outs[i] })),
    { replica: "r1", dryRun: false, now: () => new Date("2026-06-01T00:00:00Z") },
  );
  return { notifier, outs };
}

const AT = new Date("2026-06-01T00:00:00Z");

Deno.test("each sink gets the kinds it lists and the alerts its matchers accept", async () => {
  const { notifier, outs } = setup(`
notify:
  - { name: all, type: log }
  - { name: ends, type: log, on: [released, drainFailed] }
  - { name: critical, type: log, match: ['severity="critical"'] }
`);
  const alert = (severity: string) => ({
    name: "NodeDown",
    fingerprint: "f",
    labels: { alertname: "NodeDown", severity },
  });
  notifier.notify({
    kind: "cordoned",
    node: "w1",
    message: "m",
    alert: alert("warning"),
    cordonedAt: "T",
    at: AT,
  });
  notifier.notify({
    kind: "cordoned",
    node: "w2",
    message: "m",
    alert: alert("critical"),
    cordonedAt: "T2",
    at: AT,
  });
  notifier.notify({ kind: "released", node: "w1", message: "m", cordonedAt: "T", at: AT });
  assert.deepEqual(outs[0].events.map((e) => [e.kind, e.node]), [
    ["cordoned", "w1"],
    ["cordoned", "w2"],
    ["released", "w1"],
  ]);
  assert.deepEqual(outs[1].events.map((e) => e.kind), ["released"]);
  // An event no alert drove has empty labels: severity="critical" does not match it.
  assert.deepEqual(outs[2].events.map((e) => e.node), ["w2"]);
  const [cordon, , release] = outs[0].events;
  assert.equal(cordon.episode, "w1@T");
  assert.equal(release.episode, cordon.episode, "one episode from cordon to release");
  assert.notEqual(cordon.id, release.id);
  assert.equal(cordon.replica, "r1");
  await notifier.close(10);
  assert.ok(outs.every((o) => o.closed));
});

Deno.test("a gate's storm is told for a few nodes, each once, and the rest summarized at the window's end", async () => {
  const { notifier, outs } = setup(`
notify:
  - { name: all, type: log, blockedEvery: 100ms }
`);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 50; i++) {
      notifier.notify({
        kind: "blocked",
        node: `w${i}`,
        gate: "minHealthy",
        message: `Skipped w${i}`,
        at: AT,
      });
    }
  }
  notifier.notify({ kind: "blocked", node: "w0", gate: "rate", message: "rate", at: AT });
  const told = outs[0].events;
  assert.deepEqual(told.map((e) => [e.gate, e.node]), [
    ["minHealthy", "w0"],
    ["minHealthy", "w1"],
    ["minHealthy", "w2"],
    ["rate", "w0"],
  ]);
  await new Promise((r) => setTimeout(r, 200));
  const summary = told.at(-1)!;
  assert.equal(told.length, 5);
  assert.equal(summary.gate, "minHealthy");
  assert.match(summary.message, /Gate minHealthy also blocked 141 remediations of 47 nodes/);
  assert.match(summary.message, /w3, w4, .* and 27 more$/);
  await notifier.close(10);
});

Deno.test("close() tells the summaries under way before the queues drain", async () => {
  const { notifier, outs } = setup(`
notify:
  - { name: all, type: log }
`);
  for (let i = 0; i < 5; i++) {
    notifier.notify({ kind: "blocked", node: `w${i}`, gate: "paused", message: "m", at: AT });
  }
  await notifier.close(10);
  assert.equal(outs[0].events.length, 4);
  assert.match(outs[0].events[3].message, /Gate paused also blocked 2 remediations of 2 nodes/);
});
