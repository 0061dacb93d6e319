// Each background path with a dependency that throws: a drain, a drain's end, a replacement
// follower, a notification queue and its blocked window, the event recorder, the policy reload,
// the pause poller, the leader election. At f829b6f each of these threw into a promise nobody
// handled, which ends a Deno process (and fails the test that runs it). Now each goes on: the
// failure is a failed step where the path has one, else logged and counted in
// nodeheal_background_errors_total{task}; and the path still works afterwards.
import assert from "node:assert/strict";
import { DrainSupervisor } from "../../../lib/act/drain_supervisor.ts";
import type { DrainReport } from "../../../lib/act/drainer.ts";
import { NodeWriter } from "../../../lib/act/node_writer.ts";
import { LeaderElector } from "../../../lib/act/elector.ts";
import type { EventBody, EventVersion } from "../../../lib/act/kube/types.ts";
import { Replacer } from "../../../lib/act/replace/replacer.ts";
import type { Operation, ReplaceProvider } from "../../../lib/act/replace/provider.ts";
import { DEFAULT_DRAIN } from "../../../lib/decide/drain_plan.ts";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { ClusterPause } from "../../../lib/service/pause.ts";
import { PolicyWatch } from "../../../lib/service/policy_reload.ts";
import { EventRecorder } from "../../../lib/report/events.ts";
import { Metrics } from "../../../lib/report/metrics.ts";
import { Notifier, type Outbox } from "../../../lib/report/notify/notifier.ts";
import { SinkQueue } from "../../../lib/report/notify/queue.ts";
import type { Attempt, NotifyEvent, Sink } from "../../../lib/report/notify/types.ts";
import { NodeIndex } from "../../../lib/resolve/node_index.ts";
import { FakeClient, podOn, workerNode } from "../../fakes/fake_client.ts";
import { backgroundErrors, failedLines, withLogs } from "../../support/logs.ts";
import { waitFor } from "../../support/wait.ts";
import { event } from "../report/notify/sample.ts";

const NOW = () => new Date("2026-06-01T00:00:00Z");

/** A drain supervisor over `client` for Node w1, its ends collected (or `ended` as given). */
function drains(client: FakeClient, ended?: (report: DrainReport) => Promise<void>) {
  const metrics = new Metrics();
  const index = new NodeIndex();
  index.replaceAll([...client.nodes.values()]);
  const reports: DrainReport[] = [];
  const supervisor = new DrainSupervisor({
    client,
    index,
    metrics,
    now: NOW,
    writer: new NodeWriter({ client, index, metrics, now: NOW }),
    instance: "test",
    retryMs: 1,
    halt: () => undefined,
    ended: (_, report) => ended?.(report) ?? Promise.resolve(void reports.push(report)),
    due: () => Promise.resolve(),
  });
  return { metrics, supervisor, reports };
}

Deno.test("a drain whose client throws a non-Error synchronously ends failed, its claim kept, and nothing escapes", async () => {
  class Throwing extends FakeClient {
    override listPodsOnNode(): never {
      throw null;
    }
  }
  const client = new Throwing({ nodes: [workerNode("w1")], pods: [podOn("w1", "web")] });
  const { supervisor, reports, metrics } = drains(client);
  supervisor.start("w1", DEFAULT_DRAIN);
  await waitFor("the drain's end", () => reports.length === 1);
  assert.equal(reports[0].outcome, "failed");
  assert.equal(reports[0].message, "Cannot drain w1: null; it stays cordoned");
  assert.equal(await backgroundErrors(metrics, "drain"), 0);
  assert.deepEqual([...supervisor.running()], []);
});

Deno.test("a drain whose end cannot be written (it throws) is logged and counted; the next drain of the Node runs", async () => {
  await withLogs(async (records) => {
    const client = new FakeClient({ nodes: [workerNode("w1")] });
    let ends = 0;
    const { supervisor, metrics } = drains(client, () => {
      ends++;
      return Promise.reject(new TypeError("Cannot read properties of null (reading 'seen')"));
    });
    supervisor.start("w1", DEFAULT_DRAIN);
    await waitFor(
      "the end's failure counted",
      async () => await backgroundErrors(metrics, "drain-end") === 1,
    );
    assert.match(String(failedLines(records, "drain-end")[0].properties.error), /reading 'seen'/);
    await waitFor("the drain gone", () => supervisor.running().size === 0);
    supervisor.start("w1", DEFAULT_DRAIN);
    await waitFor("a second drain's end", () => ends === 2);
    await supervisor.stopAll();
  });
});

Deno.test("a replacement whose provider throws a non-Error is tried again, not ended by the follower's own catch", async () => {
  await withLogs(async (records) => {
    const policy = parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { provider: karpenter, timeout: 1h }
acknowledge: [minHealthyZero]
gates: { minHealthy: 0 }
`);
    const node = workerNode("w1");
    node.metadata.uid = "uid-w1";
    node.spec = { unschedulable: true };
    node.metadata.annotations = {
      [ANNOTATIONS.cordonedBy]: "node-heal",
      [ANNOTATIONS.step]: "replacing",
    };
    const client = new FakeClient({ nodes: [node] });
    const index = new NodeIndex();
    index.replaceAll([...client.nodes.values()]);
    let starts = 0;
    const provider: ReplaceProvider = {
      name: "karpenter",
      start(): Promise<Operation> {
        // A non-Error, thrown synchronously: a provider's SDK that does what it should not.
        if (++starts < 3) throw starts === 1 ? null : "quota exceeded";
        return Promise.resolve({ id: "op-1", message: "asked" });
      },
    };
    const metrics = new Metrics();
    const replacer = new Replacer({
      client,
      index,
      policy: () => policy,
      providers: () => new Map([["heal", provider]]),
      namespace: "node-heal",
      instance: "test",
      now: NOW,
      pollMs: 5,
      told: () => {},
      background: metrics.background,
    });
    const r = await replacer.begin(index.get("w1")!, policy.rules[0], {
      now: NOW(),
      paused: false,
    });
    replacer.follow(r);
    await waitFor("the operation recorded", () => replacer.inFlight() === 1 && starts === 3);
    await waitFor("requested", () =>
      [...replacer.replacing("w1") ? ["w1"] : []].length === 1 &&
      records.some((l) => String(l.properties.error) === "quota exceeded"));
    assert.ok(records.some((l) => String(l.properties.error) === "null"));
    assert.equal(await backgroundErrors(metrics, "replacement"), 0);
    await replacer.stopAll();
  });
});

/** A sink whose first delivery throws `thrown`, then sends. */
class ThrowingSink implements Sink {
  readonly type = "log" as const;
  readonly name = "s";
  sent: string[] = [];
  constructor(private thrown: () => unknown) {}
  deliver(e: NotifyEvent): Promise<Attempt> {
    const thrown = this.thrown;
    this.thrown = () => undefined;
    const err = thrown();
    if (err !== undefined) throw err;
    this.sent.push(e.id);
    return Promise.resolve({ result: "sent" });
  }
}

Deno.test("a notification sink that throws is retried; one whose throw cannot even be read ends its worker, counted, and the next push delivers", async () => {
  await withLogs(async (records) => {
    const metrics = new Metrics();
    const plain = new ThrowingSink(() => null);
    const retried = new SinkQueue(plain, { capacity: 10, metrics, baseMs: 1, maxMs: 1 });
    retried.push(event());
    await waitFor("sent after a retry", () => plain.sent.length === 1);
    await retried.close(100);

    const hostile = new ThrowingSink(() => ({
      get name(): string {
        throw new Error("a getter that throws");
      },
    }));
    const queue = new SinkQueue(hostile, { capacity: 10, metrics, baseMs: 1, maxMs: 1 });
    queue.push(event());
    await waitFor(
      "the worker's failure counted",
      async () => await backgroundErrors(metrics, "notify") === 1,
    );
    assert.equal(failedLines(records, "notify")[0].properties.error, "a getter that throws");
    const next = event();
    queue.push(next);
    await waitFor("the next push delivered", () => hostile.sent.includes(next.id));
    await queue.close(100);
  });
});

Deno.test("a blocked-notification window whose summary throws is logged and counted, and the notifier goes on", async () => {
  await withLogs(async (records) => {
    const policy = parsePolicy(`
notify:
  - { name: all, type: log, blockedEvery: 20ms }
`);
    const pushed: NotifyEvent[] = [];
    const outbox: Outbox = {
      push(e) {
        if (e.episode.startsWith("summary@")) throw new RangeError("Invalid time value");
        pushed.push(e);
      },
      close: () => Promise.resolve(),
    };
    const metrics = new Metrics();
    const notifier = new Notifier([{ config: policy.notify[0], outbox }], {
      replica: "r1",
      dryRun: false,
      now: NOW,
      background: metrics.background,
    });
    for (let i = 0; i < 5; i++) {
      notifier.notify({ kind: "blocked", node: `w${i}`, gate: "rate", message: "m", at: NOW() });
    }
    await waitFor(
      "the summary's failure counted",
      async () => await backgroundErrors(metrics, "notify") === 1,
    );
    assert.equal(failedLines(records, "notify")[0].properties.error, "Invalid time value");
    notifier.notify({ kind: "cordoned", node: "w9", message: "m", at: NOW() });
    assert.equal(pushed.at(-1)?.node, "w9");
    await notifier.close(100);
  });
});

Deno.test("an Event whose create throws a non-Error is counted a failure, and its next record is written, not queued forever", async () => {
  class Throwing extends FakeClient {
    throws = 3;
    override createEvent(e: EventBody): Promise<EventVersion | undefined> {
      if (this.throws-- > 0) throw null;
      return super.createEvent(e);
    }
  }
  const client = new Throwing();
  const metrics = new Metrics();
  const recorder = new EventRecorder(client, metrics);
  const intent = { reason: "NodeHealCordoned" as const, type: "Warning" as const, message: "m" };
  // Tried three times (a thrown non-Error reads as a network error), then given up.
  recorder.record("w1", intent, { at: NOW() });
  await recorder.flush();
  const { values } = await metrics.events.results.get();
  assert.equal(values.find((v) => v.labels.result === "failure")?.value, 1);
  recorder.record("w1", intent, { at: NOW() });
  await recorder.flush();
  assert.equal(client.events.size, 1);
  assert.equal(await backgroundErrors(metrics, "events"), 0);
});

Deno.test("a policy file read that throws a non-Error is logged and counted, and the next read applies the edit", async () => {
  await withLogs(async (records) => {
    const metrics = new Metrics();
    const applied: string[] = [];
    let reads = 0;
    const watch = new PolicyWatch({
      path: "/etc/node-heal/policy.yaml",
      pollMs: 5,
      text: "old",
      read: () => {
        if (++reads === 1) throw null;
        return Promise.resolve("new");
      },
      apply: (text) => Promise.resolve(void applied.push(text)),
      told: () => {},
      background: metrics.background,
    });
    watch.start();
    await waitFor("the edit applied", () => applied.length === 1);
    await watch.stop();
    assert.equal(await backgroundErrors(metrics, "policy-reload"), 1);
    assert.equal(failedLines(records, "policy-reload").length, 1);
  });
});

Deno.test("a pause read that throws a non-Error is logged and counted, and the next read still sees the pause", async () => {
  await withLogs(async (records) => {
    class Throwing extends FakeClient {
      reads = 0;
      override namespacePaused(): Promise<boolean> {
        this.reads++;
        if (this.reads === 2) throw null;
        return Promise.resolve(this.reads > 2);
      }
    }
    const client = new Throwing();
    const metrics = new Metrics();
    const pause = new ClusterPause(client, "node-heal", { background: metrics.background });
    await pause.start(5);
    await waitFor("the pause seen", () => pause.paused);
    pause.stop();
    assert.equal(await backgroundErrors(metrics, "pause-poll"), 1);
    assert.equal(failedLines(records, "pause-poll").length, 1);
  });
});

Deno.test("an election try that throws is logged and counted, and the next try comes all the same: the replica leads", async () => {
  await withLogs(async (records) => {
    const client = new FakeClient();
    const metrics = new Metrics();
    let asked = 0;
    const elector = new LeaderElector({
      client,
      namespace: "node-heal",
      name: "node-heal",
      identity: "a",
      leaseDurationMs: 50,
      renewDeadlineMs: 30,
      retryPeriodMs: 5,
      watchFailureTimeoutMs: 50,
      // The Node watch's state, unreadable twice: a dependency that throws.
      watchUnhealthySince: () => {
        if (++asked <= 2) throw new Error("the watch's state is unreadable");
        return undefined;
      },
      background: metrics.background,
    });
    elector.start();
    await waitFor("the replica to lead", () => elector.leading);
    await elector.stop();
    assert.equal(await backgroundErrors(metrics, "election"), 2);
    assert.equal(failedLines(records, "election").length, 2);
  });
});
