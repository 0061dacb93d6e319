// The breaker in the pipeline, against an in-memory client: a storm opens it before its alerts are
// decided, a running drain halts at its next eviction, and once the storm has been quiet for
// `quiet` the breaker closes and the held drain starts again. The clock is the test's.
import assert from "node:assert/strict";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import type { Alert } from "../../../lib/intake/alertmanager.ts";
import { alertOf, parsedNotification } from "../../support/alerts.ts";
import { FakeClient, podOn, workerNode } from "../../fakes/fake_client.ts";
import { pipelineOver } from "../../support/unit_pipeline.ts";
import { waitFor } from "../../support/wait.ts";

const POLICY = parsePolicy(`
rules: [{ name: heal, match: ['heal="true"'], actions: [drain] }]
acknowledge: [minHealthyZero]
gates:
  minHealthy: 0
  maxConcurrent: 5
  breaker: { alerting: 3, within: 5m, quiet: 15m, release: 1m }
`);

function setup() {
  let t = Date.parse("2026-12-07T10:00:00Z");
  const nodes = Array.from({ length: 6 }, (_, i) => workerNode(`w${i + 1}`, `10.0.0.${i + 1}`));
  const client = new FakeClient({ nodes });
  const { metrics, events, pipeline } = pipelineOver(client, {
    policy: POLICY,
    drainRetryMs: 5,
    now: () => new Date(t),
  });
  return {
    client,
    pipeline,
    metrics,
    advance: (ms: number) => t += ms,
    [Symbol.asyncDispose]: async () => {
      await pipeline.stopDrains();
      await events.flush();
    },
  };
}

function alert(n: number, status: Alert["status"] = "firing"): Alert {
  return alertOf({ alertname: "NodeDown", instance: `10.0.0.${n}:9100`, heal: "true" }, {
    fingerprint: `fp-${n}`,
    status,
  });
}

const evictions = (f: ReturnType<typeof setup>) =>
  f.client.calls.filter((c) => c.method === "evictPod").length;

const step = (f: ReturnType<typeof setup>, name: string) =>
  f.client.nodes.get(name)!.metadata.annotations?.[ANNOTATIONS.step];

Deno.test("a storm halts a running drain at its next eviction; once quiet, the breaker closes and the drain starts again", async () => {
  await using f = setup();
  // w4 drains, round after round, on a pod a budget guards.
  f.client.pods.set("default/guarded", podOn("w4", "guarded"));
  f.client.blocked.add("default/guarded");
  await f.pipeline.handle(parsedNotification([alert(4)]));
  await waitFor("the drain to try the guarded pod", () => evictions(f) > 0);

  // Two more nodes alert a minute later: three within 5m, the breaker opens. Their cordons go on
  // (the breaker never blocks a cordon); their drains do not start, and w4's halts.
  f.advance(60_000);
  const storm = await f.pipeline.handle(parsedNotification([alert(1), alert(2)]));
  assert.deepEqual(storm.alerts.map((a) => a.outcome), ["cordon", "cordon"]);
  await waitFor("w4's drain halted", () => step(f, "w4") === "cordoned");
  const tried = evictions(f);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(evictions(f), tried, "no eviction under an open breaker");
  const events = [...f.client.events.values()];
  const halted = events.find((e) =>
    e.reason === "NodeHealDrainHalted" && e.involvedObject.name === "w4"
  );
  assert.match(
    halted!.message!,
    /^Stopped draining w4: the breaker of the selection is open: 3 nodes alerted within 5m/,
  );
  assert.match(halted!.message!, /\(gate breaker\)$/);
  assert.deepEqual(
    events.filter((e) => e.reason === "NodeHealBreakerOpen").map((e) => e.involvedObject.name)
      .sort(),
    ["w1", "w2", "w4"],
  );
  for (const name of ["w1", "w2"]) {
    await f.pipeline.reconcile(name);
    assert.equal(step(f, name), "cordoned", `${name} is cordoned, its drain held`);
  }
  const open = f.pipeline.breakers.states();
  assert.equal(open.length, 1);
  assert.equal(open[0].open, true);
  assert.ok((await f.metrics.render()).body.includes('nodeheal_breaker_open{key="",domain=""} 1'));

  // w1 and w2 recover: one node alerts. 14 minutes later the breaker is still open...
  await f.pipeline.handle(parsedNotification([alert(1, "resolved"), alert(2, "resolved")]));
  f.advance(14 * 60_000);
  f.pipeline.breakers.update();
  assert.equal(f.pipeline.breakers.states()[0].open, true);
  // ... and at 15 it closes; w4's drain is due again and starts.
  f.advance(60_000);
  f.pipeline.breakers.update();
  const closed = f.pipeline.breakers.states();
  assert.ok(closed.every((b) => !b.open));
  await waitFor("w4's drain again", () => evictions(f) > tried);
  assert.equal(step(f, "w4"), "draining");
  assert.ok((await f.metrics.render()).body.includes('nodeheal_breaker_open{key="",domain=""} 0'));
});

Deno.test("alerts spread wider than `within` do not open the breaker: each node is drained as usual", async () => {
  await using f = setup();
  for (const n of [1, 2, 3]) {
    await f.pipeline.handle(parsedNotification([alert(n)]));
    f.advance(3 * 60_000); // 3 minutes apart: never three within 5m
  }
  f.pipeline.breakers.update();
  assert.deepEqual(f.pipeline.breakers.states(), []);
  await waitFor("three drains", () => ["w1", "w2", "w3"].every((n) => step(f, n) === "drained"));
});

Deno.test("a closed breaker releases what it held one per `release`, not all at once", async () => {
  await using f = setup();
  await f.pipeline.handle(parsedNotification([alert(1), alert(2), alert(3)]));
  for (const n of ["w1", "w2", "w3"]) {
    await f.pipeline.reconcile(n);
    assert.equal(step(f, n), "cordoned", `${n}'s drain held`);
  }
  // w3 recovers; w1 and w2 still alert, below the threshold. After `quiet` the breaker closes.
  await f.pipeline.handle(parsedNotification([alert(3, "resolved")]));
  f.advance(15 * 60_000);
  f.pipeline.breakers.update();
  await waitFor("one drain released", () => ["w1", "w2"].some((n) => step(f, n) === "drained"));
  const [first, second] = step(f, "w1") === "drained" ? ["w1", "w2"] : ["w2", "w1"];
  await f.pipeline.reconcile(second);
  assert.equal(step(f, second), "cordoned", "the second waits its turn");
  const waiting = [...f.client.events.values()].find((e) =>
    e.involvedObject.name === second && /releases what it held one per 1m/.test(e.message ?? "")
  );
  assert.ok(waiting, "its wait is told, naming the breaker");
  f.advance(60_000);
  await f.pipeline.reconcile(second);
  await waitFor("the second drain", () => step(f, second) === "drained");
  assert.equal(step(f, first), "drained");
});

Deno.test("a replica that begins to lead learns the storm from the holds on the Nodes: its breaker is open before any drain of it starts", async () => {
  await using f = setup();
  await f.pipeline.handle(parsedNotification([alert(1), alert(2), alert(3)]));
  assert.equal(f.pipeline.breakers.states()[0]?.open, true);
  // Another replica takes over: it was sent none of these alerts.
  const next = pipelineOver(f.client, {
    policy: POLICY,
    drainRetryMs: 5,
    now: () => new Date(Date.parse("2026-12-07T10:01:00Z")),
  });
  try {
    await waitFor(
      "its index",
      () => next.index.get("w3")?.metadata.annotations?.[ANNOTATIONS.step],
    );
    await next.pipeline.resumeReplacements();
    next.pipeline.breakers.update();
    assert.deepEqual(next.pipeline.breakers.states().map((b) => [b.open, b.count]), [[true, 3]]);
    for (const name of ["w1", "w2", "w3"]) {
      await next.pipeline.reconcile(name);
      assert.equal(step(f, name), "cordoned", `${name}'s drain is held by the new leader too`);
    }
  } finally {
    await next.pipeline.stopDrains();
    await next.events.flush();
  }
});
