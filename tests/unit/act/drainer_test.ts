// drainNode (lib/act/drainer.ts) over the in-memory FakeClient. The drain's timeout runs on a
// fake clock the tests move from the progress callback, so no test waits for it in real time;
// retryMs is 1 ms, so the real waits between rounds stay a few milliseconds.
import assert from "node:assert/strict";
import { drainNode, type DrainRun } from "../../../lib/act/drainer.ts";
import { DEFAULT_DRAIN, type DrainOptions } from "../../../lib/decide/drain_plan.ts";
import type { Pod } from "../../../lib/base/pod.ts";
import { FakeClient, podOn, workerNode } from "../../fakes/fake_client.ts";
import { Fenced } from "../../../lib/act/fence.ts";

const NODE = "worker-1";
const PDB_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget.";

/** A clock that stands still until {@link advance}d. */
function fakeClock(start = Date.parse("2024-05-01T10:00:00Z")) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
}

/** `pod` with its controller replaced (`undefined`: a bare pod). */
function ownedBy(pod: Pod, kind?: string, name = "owner"): Pod {
  pod.metadata.ownerReferences = kind
    ? [{ apiVersion: "apps/v1", kind, name, controller: true }]
    : undefined;
  return pod;
}

function client(pods: Pod[]): FakeClient {
  return new FakeClient({ nodes: [workerNode(NODE)], pods });
}

/** Keys of the pods still stored on the node. */
function podsLeft(c: FakeClient): string[] {
  return [...c.pods.keys()].sort();
}

/** How often `evictPod` was called for pod `key`. */
function evictions(c: FakeClient, key: string): number {
  return c.calls.filter((call) => call.method === "evictPod" && call.arg === key).length;
}

/** Rounds after which a test's drain fails instead of going on (the real waits double each round). */
const MAX_ROUNDS = 10;

/** A DrainRun with the default options and a 1 ms retry; it throws after {@link MAX_ROUNDS} rounds. */
function run(options: Partial<DrainOptions> = {}, more: Partial<DrainRun> = {}): DrainRun {
  let rounds = 0;
  return {
    options: { ...DEFAULT_DRAIN, ...options },
    retryMs: 1,
    ...more,
    progress: (left, evicted) => {
      if (++rounds > MAX_ROUNDS) throw new Error(`the drain went on past ${MAX_ROUNDS} rounds`);
      return more.progress?.(left, evicted);
    },
  };
}

Deno.test("drainNode() evicts ReplicaSet pods and leaves DaemonSet and mirror pods", async () => {
  const ds = ownedBy(podOn(NODE, "fluentd-x1", "logging"), "DaemonSet", "fluentd");
  const mirror = ownedBy(podOn(NODE, "etcd-worker-1", "kube-system"), "Node", NODE);
  mirror.metadata.annotations = { "kubernetes.io/config.mirror": "abc" };
  const c = client([
    podOn(NODE, "web-1"),
    podOn(NODE, "api-1", "shop"),
    ds,
    mirror,
    podOn("worker-2", "elsewhere"),
  ]);
  c.daemonSets.add("logging/fluentd");
  const results: string[] = [];
  const progress: [number, number][] = [];
  const report = await drainNode(
    c,
    NODE,
    run({}, {
      evicted: (r) => void results.push(r),
      progress: (left, evicted) => void progress.push([left, evicted]),
    }),
  );
  assert.equal(report.outcome, "drained");
  assert.deepEqual(report.evicted.sort(), ["default/web-1", "shop/api-1"]);
  assert.deepEqual(report.skipped.sort(), ["kube-system/etcd-worker-1", "logging/fluentd-x1"]);
  assert.deepEqual(report.blocking, []);
  assert.deepEqual(podsLeft(c), [
    "default/elsewhere",
    "kube-system/etcd-worker-1",
    "logging/fluentd-x1",
  ]);
  assert.equal(evictions(c, "logging/fluentd-x1"), 0);
  assert.equal(evictions(c, "kube-system/etcd-worker-1"), 0);
  assert.deepEqual(results, ["evicted", "evicted"]);
  assert.deepEqual(progress, [[0, 2]]);
  assert.match(
    report.message,
    /^Drained worker-1: evicted 2 pods \(.*default\/web-1.*\); left 2 pods/,
  );
});

Deno.test("drainNode() also evicts finished pods, and pods its options allow", async () => {
  const done = ownedBy(podOn(NODE, "job-done"));
  done.status = { phase: "Succeeded" };
  const bare = ownedBy(podOn(NODE, "bare"));
  const c = client([done, bare]);
  const report = await drainNode(c, NODE, run({ evictStandalone: true }));
  assert.equal(report.outcome, "drained");
  assert.deepEqual(report.evicted.sort(), ["default/bare", "default/job-done"]);
  assert.deepEqual(podsLeft(c), []);
});

Deno.test("drainNode() refuses the whole drain for a pod the options forbid, evicting nothing", async () => {
  const scratch = podOn(NODE, "scratch");
  scratch.spec!.volumes = [{ name: "tmp", emptyDir: {} }];
  const unsafe = podOn(NODE, "unsafe");
  unsafe.metadata.annotations = { "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" };
  const cases: {
    pod: Pod;
    options: Partial<DrainOptions>;
    why: string;
    allow: Partial<DrainOptions>;
  }[] = [
    {
      pod: ownedBy(podOn(NODE, "bare")),
      options: {},
      why: "no controller would recreate it",
      allow: { evictStandalone: true },
    },
    {
      pod: scratch,
      options: { deleteEmptyDirData: false },
      why: "it has emptyDir data",
      allow: { deleteEmptyDirData: true },
    },
    {
      pod: unsafe,
      options: {},
      why: "it is annotated cluster-autoscaler.kubernetes.io/safe-to-evict=false",
      allow: { evictUnsafe: true },
    },
    {
      pod: ownedBy(podOn(NODE, "orphan"), "DaemonSet", "gone-ds"),
      options: {},
      why: "its DaemonSet gone-ds does not exist",
      allow: { evictStandalone: true },
    },
  ];
  for (const { pod, options, why, allow } of cases) {
    const key = `default/${pod.metadata.name}`;
    const c = client([podOn(NODE, "web-1"), structuredClone(pod)]);
    const report = await drainNode(c, NODE, run(options));
    assert.equal(report.outcome, "refused", key);
    assert.deepEqual(report.blocking, [{ pod: key, why }]);
    assert.deepEqual(report.evicted, []);
    assert.equal(report.message, `Cannot drain ${NODE}: ${key} (${why}); nothing was evicted`);
    assert.deepEqual(podsLeft(c), [key, "default/web-1"].sort(), `${key}: nothing evicted`);
    assert.equal(c.calls.filter((call) => call.method === "evictPod").length, 0);

    // With the option that allows it, the same pod is evicted.
    const allowed = client([podOn(NODE, "web-1"), structuredClone(pod)]);
    const ok = await drainNode(allowed, NODE, run({ ...options, ...allow }));
    assert.equal(ok.outcome, "drained", `${key} with ${JSON.stringify(allow)}`);
    assert.deepEqual(podsLeft(allowed), []);
  }
});

Deno.test("drainNode() retries a budget-blocked pod until the timeout, then fails naming it", async () => {
  const clock = fakeClock();
  const c = client([podOn(NODE, "web-1"), podOn(NODE, "db-0", "data")]);
  c.blocked.add("data/db-0");
  const results: string[] = [];
  const report = await drainNode(
    c,
    NODE,
    run({ timeoutMs: 60_000 }, {
      now: clock.now,
      // Each round takes 20 s on the drain's clock: the third one reaches the timeout.
      progress: () => clock.advance(20_000),
      evicted: (r) => void results.push(r),
    }),
  );
  assert.equal(report.outcome, "failed");
  assert.deepEqual(report.evicted, ["default/web-1"]);
  assert.deepEqual(report.blocking, [{ pod: "data/db-0", why: PDB_MESSAGE }]);
  assert.equal(
    report.message,
    `Cannot drain ${NODE} within 1m: data/db-0 (${PDB_MESSAGE}); it stays cordoned`,
  );
  assert.deepEqual(podsLeft(c), ["data/db-0"]);
  assert.equal(evictions(c, "data/db-0"), 3, "tried in each of the three rounds");
  assert.equal(evictions(c, "default/web-1"), 1);
  assert.deepEqual(results.filter((r) => r === "blocked").length, 3);
});

Deno.test("drainNode() finishes once the budget lets the blocked pod go", async () => {
  const clock = fakeClock();
  const c = client([podOn(NODE, "db-0", "data")]);
  c.blocked.add("data/db-0");
  const progress: [number, number][] = [];
  const report = await drainNode(
    c,
    NODE,
    run({ timeoutMs: 60_000 }, {
      now: clock.now,
      progress: (left, evicted) => {
        progress.push([left, evicted]);
        clock.advance(10_000);
        if (progress.length === 2) c.blocked.delete("data/db-0");
      },
    }),
  );
  assert.equal(report.outcome, "drained");
  assert.deepEqual(report.evicted, ["data/db-0"]);
  assert.deepEqual(progress, [[1, 0], [1, 0], [0, 1]]);
  assert.deepEqual(podsLeft(c), []);
});

Deno.test("drainNode() tries again after an eviction error", async () => {
  const clock = fakeClock();
  const c = client([podOn(NODE, "web-1")]);
  c.fail("evictPod", 500);
  const results: string[] = [];
  const report = await drainNode(
    c,
    NODE,
    run({}, { now: clock.now, evicted: (r) => void results.push(r) }),
  );
  assert.equal(report.outcome, "drained");
  assert.deepEqual(results, ["error", "evicted"]);
  assert.deepEqual(podsLeft(c), []);
});

Deno.test("drainNode() stops when its signal aborts, leaving the rest", async () => {
  const clock = fakeClock();
  const c = client([podOn(NODE, "web-1"), podOn(NODE, "db-0", "data")]);
  c.blocked.add("data/db-0");
  const stop = new AbortController();
  const report = await drainNode(
    c,
    NODE,
    run({ timeoutMs: 60_000 }, {
      now: clock.now,
      signal: stop.signal,
      progress: () => stop.abort(),
    }),
  );
  assert.equal(report.outcome, "stopped");
  assert.deepEqual(report.evicted, ["default/web-1"]);
  assert.deepEqual(report.blocking, [{ pod: "data/db-0", why: "the drain was stopped" }]);
  assert.match(report.message, new RegExp(`^Stopped draining ${NODE} with 1 pods? left$`));
  assert.deepEqual(podsLeft(c), ["data/db-0"]);
  assert.equal(evictions(c, "data/db-0"), 1);

  // Aborted before it starts: nothing is evicted.
  const fresh = client([podOn(NODE, "web-1")]);
  const before = await drainNode(fresh, NODE, run({}, { signal: AbortSignal.abort() }));
  assert.equal(before.outcome, "stopped");
  assert.deepEqual(podsLeft(fresh), ["default/web-1"]);
  assert.equal(evictions(fresh, "default/web-1"), 0);
});

Deno.test("drainNode() counts pods evicted by earlier runs in progress and the report", async () => {
  const clock = fakeClock();
  const c = client([podOn(NODE, "web-1"), podOn(NODE, "db-0", "data")]);
  c.blocked.add("data/db-0");
  const progress: [number, number][] = [];
  const report = await drainNode(
    c,
    NODE,
    run({}, {
      now: clock.now,
      evictedBefore: 3,
      progress: (left, evicted) => {
        progress.push([left, evicted]);
        c.blocked.clear();
      },
    }),
  );
  assert.equal(report.outcome, "drained");
  assert.equal(report.evictedBefore, 3);
  assert.deepEqual(progress, [[1, 4], [0, 5]]);
  assert.equal(
    report.message,
    `Drained ${NODE}: evicted 5 pods: 3 before it was resumed, then 2 pods (default/web-1, data/db-0); left 0 pods`,
  );
});

Deno.test("drainNode() waits for pods already terminating instead of evicting them again", async () => {
  const clock = fakeClock();
  const terminating = podOn(NODE, "web-1");
  terminating.metadata.deletionTimestamp = "2024-05-01T09:59:00Z";
  const c = client([terminating, podOn(NODE, "api-1")]);
  let rounds = 0;
  const report = await drainNode(
    c,
    NODE,
    run({}, {
      now: clock.now,
      evictedBefore: 1,
      progress: () => {
        // The kubelet finishes the earlier eviction after the second round.
        if (++rounds === 2) c.pods.delete("default/web-1");
      },
    }),
  );
  assert.equal(report.outcome, "drained");
  assert.equal(evictions(c, "default/web-1"), 0);
  assert.equal(evictions(c, "default/api-1"), 1);
  assert.deepEqual(report.evicted, ["default/api-1", "default/web-1"]);
  assert.equal(rounds, 3);
  assert.deepEqual(podsLeft(c), []);
});

Deno.test("drainNode() takes a pod back under another uid or on another node as gone", async () => {
  const clock = fakeClock();
  const c = client([podOn(NODE, "web-0"), podOn(NODE, "web-1")]);
  // The API server answers "evicted", but the pods are still there until the progress callback.
  const evict = c.evictPod.bind(c);
  c.evictPod = (namespace: string, name: string) => {
    const key = `${namespace}/${name}`;
    const pod = c.pods.get(key);
    return evict(namespace, name).then((outcome) => {
      if (pod) c.pods.set(key, pod);
      return outcome;
    });
  };
  let rounds = 0;
  const report = await drainNode(
    c,
    NODE,
    run({}, {
      now: clock.now,
      progress: () => {
        if (++rounds > 1) return;
        const recreated = podOn(NODE, "web-0");
        recreated.metadata.uid = "a-new-uid";
        c.pods.set("default/web-0", recreated);
        c.pods.set("default/web-1", podOn("worker-2", "web-1"));
      },
    }),
  );
  assert.equal(report.outcome, "drained");
  assert.deepEqual(report.evicted.sort(), ["default/web-0", "default/web-1"]);
  assert.equal(evictions(c, "default/web-0"), 1);
  assert.equal(evictions(c, "default/web-1"), 1);
});

Deno.test("drainNode() fails at the timeout on a pod still terminating", async () => {
  const clock = fakeClock();
  const stuck = podOn(NODE, "web-1");
  stuck.metadata.deletionTimestamp = "2024-05-01T09:59:00Z";
  const c = client([stuck]);
  const report = await drainNode(
    c,
    NODE,
    run({ timeoutMs: 30_000 }, { now: clock.now, progress: () => clock.advance(30_000) }),
  );
  assert.equal(report.outcome, "failed");
  assert.deepEqual(report.blocking, [{ pod: "default/web-1", why: "evicted, still terminating" }]);
  assert.equal(evictions(c, "default/web-1"), 0);
  assert.deepEqual(podsLeft(c), ["default/web-1"]);
});

Deno.test("drainNode() asks before every eviction whether it may go on: a halt mid-round evicts nothing more and says why", async () => {
  const c = client([podOn(NODE, "web-1"), podOn(NODE, "web-2"), podOn(NODE, "web-3")]);
  let asked = 0;
  const report = await drainNode(
    c,
    NODE,
    run({}, {
      // Allowed at the start, the round and the first eviction; then paused.
      halt: () => ++asked > 3 ? { gate: "paused", message: "node-heal is paused" } : undefined,
    }),
  );
  assert.equal(report.outcome, "halted");
  assert.deepEqual(report.halt, { gate: "paused", message: "node-heal is paused" });
  assert.equal(c.calls.filter((call) => call.method === "evictPod").length, 1);
  assert.deepEqual(podsLeft(c), ["default/web-2", "default/web-3"]);
  assert.match(
    report.message,
    /^Halted the drain of worker-1 with 3 pods left: node-heal is paused$/,
  );
});

Deno.test("drainNode() halted before it starts lists no pods and evicts nothing", async () => {
  const c = client([podOn(NODE, "web-1")]);
  const report = await drainNode(
    c,
    NODE,
    run({}, { halt: () => ({ gate: "excluded", message: "worker-1 is labelled" }) }),
  );
  assert.equal(report.outcome, "halted");
  assert.equal(c.calls.filter((call) => call.method === "listPodsOnNode").length, 0);
  assert.equal(evictions(c, "default/web-1"), 0);
});

Deno.test("drainNode() stops quietly when the drain is no longer this replica's, and when the fence refuses an eviction", async () => {
  const c = client([podOn(NODE, "web-1"), podOn(NODE, "web-2")]);
  const quiet = await drainNode(
    c,
    NODE,
    run({}, { halt: () => ({ gate: "notLeading", message: "this replica no longer leads" }) }),
  );
  assert.equal(quiet.outcome, "stopped");
  assert.equal(quiet.halt?.gate, "notLeading");

  // The check passed, then the process slept past its renew deadline: the client's fence
  // refuses the eviction as it is sent, and the drain stops at once, nothing retried.
  const fenced = client([podOn(NODE, "web-1"), podOn(NODE, "web-2")]);
  fenced.evictPod = () => Promise.reject(new Fenced("evict", 'pod "default/web-1"'));
  const report = await drainNode(fenced, NODE, run());
  assert.equal(report.outcome, "stopped");
  assert.equal(report.halt?.gate, "notLeading");
  assert.deepEqual(podsLeft(fenced), ["default/web-1", "default/web-2"]);
});

Deno.test("drainNode() evicts with the uid it planned as a precondition", async () => {
  const pod = podOn(NODE, "web-1");
  pod.metadata.uid = "uid-web-1";
  const c = client([pod]);
  const seen: unknown[] = [];
  const evict = c.evictPod.bind(c);
  c.evictPod = (ns, name, options) => {
    seen.push(options);
    return evict(ns, name, options);
  };
  await drainNode(c, NODE, run({ gracePeriodSeconds: 5 }));
  assert.deepEqual(seen, [{ gracePeriodSeconds: 5, uid: "uid-web-1" }]);
});
