// What the pipeline tells people: a cordon, a drain's start and end, a release, a blocked
// remediation, each once, with one episode from cordon to release.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../../lib/decide/policy.ts";
import { Pipeline } from "../../../../lib/pipeline/pipeline.ts";
import { EventRecorder } from "../../../../lib/report/events.ts";
import { Metrics } from "../../../../lib/report/metrics.ts";
import { Notifier, type Outbox } from "../../../../lib/report/notify/notifier.ts";
import type { NotifyEvent } from "../../../../lib/report/notify/types.ts";
import { alertOf, parsedNotification } from "../../../support/alerts.ts";
import { FakeClient, watchedIndex, workerNode } from "../../../fakes/fake_client.ts";
import { waitFor } from "../../../support/wait.ts";

class Collect implements Outbox {
  events: NotifyEvent[] = [];
  push(event: NotifyEvent): void {
    this.events.push(event);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("a cordon, its drain and its release are told once each, with one episode; a blocked one names its gate", async () => {
  const policy = parsePolicy(`
rules: [{ name: heal, match: ['heal="true"'], actions: [cordon, drain] }]
gates: { minHealthy: 3 }
notify: [{ name: all, type: log }]
`);
  const client = new FakeClient({
    nodes: [1, 2, 3, 4].map((i) => workerNode(`w${i}`, `10.0.0.${i}`)),
  });
  const out = new Collect();
  const notifier = new Notifier([{ config: policy.notify[0], outbox: out }], {
    replica: "test",
    dryRun: false,
    now: () => new Date(),
  });
  const metrics = new Metrics();
  const events = new EventRecorder(client, metrics);
  const pipeline = new Pipeline({
    client,
    index: watchedIndex(client),
    metrics,
    events,
    policy,
    drainRetryMs: 5,
    notifier,
    instance: "test",
  });
  const alert = (ip: string, status: "firing" | "resolved" = "firing") =>
    alertOf(
      { alertname: "NodeDown", instance: `${ip}:9100`, heal: "true", heal_action: "drain" },
      { fingerprint: `fp-${ip}`, status },
    );
  await pipeline.handle(parsedNotification([alert("10.0.0.1")]));
  await waitFor("the drain's end", () => out.events.some((e) => e.kind === "drained"));
  // minHealthy 3 of 4: a second node is blocked.
  await pipeline.handle(parsedNotification([alert("10.0.0.2")]));
  await pipeline.handle(parsedNotification([alert("10.0.0.1", "resolved")]));
  assert.deepEqual(out.events.map((e) => [e.kind, e.node, e.step ?? "", e.gate ?? ""]), [
    ["cordoned", "w1", "cordoned", ""],
    ["drainStarted", "w1", "draining", ""],
    ["drained", "w1", "drained", ""],
    ["blocked", "w2", "", "minHealthy"],
    ["released", "w1", "", ""],
  ]);
  const w1 = out.events.filter((e) => e.node === "w1");
  assert.equal(new Set(w1.map((e) => e.episode)).size, 1, "one episode");
  assert.match(w1[0].episode, /^w1@\d{4}-/);
  assert.equal(out.events[0].alert?.labels.alertname, "NodeDown");
  assert.equal(out.events[2].alert, undefined, "a drain's end is driven by no alert");
  await pipeline.stopDrains();
  await events.flush();
  await notifier.close(10);
});
