// The replacer against an in-memory client: the ledger written before the provider is asked and
// its operation recorded after, the gates counted on the stored ledger, a replacement followed
// until a successor is Ready or its deadline, and resumed from the ledger without asking again.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../../lib/decide/policy.ts";
import { NodeIndex } from "../../../../lib/resolve/node_index.ts";
import { Replacer } from "../../../../lib/act/replace/replacer.ts";
import { ReplaceBlocked, type ReplaceNews } from "../../../../lib/act/replace/replacer_deps.ts";
import {
  type Operation,
  type ReplaceProvider,
  ReplaceRefused,
  type ReplaceTarget,
  type UntrustedSink,
} from "../../../../lib/act/replace/provider.ts";
import { LEDGER_KEY, LEDGER_NAME } from "../../../../lib/act/replace/ledger.ts";
import { FakeClient, workerNode } from "../../../fakes/fake_client.ts";
import { waitFor } from "../../../support/wait.ts";
import type { Node } from "../../../../lib/base/node.ts";
import { ANNOTATIONS } from "../../../../lib/decide/node_state.ts";
import { Tally } from "../../../../lib/decide/tally.ts";

const CONFIG_MAPS = { group: "", version: "v1", plural: "configmaps" };

const POLICY = parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { provider: karpenter, timeout: 2s }
acknowledge: [minHealthyZero]
gates: { minHealthy: 0, maxReplacing: 1, replaceRate: { max: 2, window: 1h } }
`);

/** A provider that records what it is asked, and answers as told. */
class ScriptedProvider implements ReplaceProvider {
  readonly name = "karpenter" as const;
  starts: ReplaceTarget[] = [];
  answer: (t: ReplaceTarget) => Operation = (t) => ({
    id: `op-${this.starts.length}`,
    message: `asked to replace ${t.node}`,
  });
  start(target: ReplaceTarget): Promise<Operation> {
    this.starts.push(target);
    try {
      return Promise.resolve(this.answer(target));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

function node(name: string, created = "2026-01-01T00:00:00Z"): Node {
  const n = workerNode(name);
  n.metadata.uid = `uid-${name}`;
  n.metadata.creationTimestamp = created;
  n.metadata.labels = { ...n.metadata.labels, "karpenter.sh/nodepool": "general" };
  return n;
}

/** A Node node-heal cordoned, drained and marked for replacement, as the pipeline leaves it. */
function marked(name: string): Node {
  const n = node(name);
  n.spec = { unschedulable: true };
  n.metadata.annotations = {
    [ANNOTATIONS.cordonedBy]: "node-heal",
    [ANNOTATIONS.step]: "replacing",
  };
  return n;
}

function setup(nodes = ["w1", "w2", "w3"]) {
  const client = new FakeClient({ nodes: nodes.map(marked) });
  const index = new NodeIndex();
  index.replaceAll([...client.nodes.values()]);
  const provider = new ScriptedProvider();
  const news: ReplaceNews[] = [];
  let clock = Date.parse("2026-06-01T00:00:00Z");
  const untrusted: Parameters<UntrustedSink["report"]>[0][] = [];
  const make = (policy = POLICY) =>
    new Replacer({
      client,
      index,
      policy: () => policy,
      providers: () => new Map([["heal", provider]]),
      namespace: "node-heal",
      instance: "test",
      now: () => new Date(clock),
      pollMs: 5,
      told: (n) => void news.push(n),
      untrusted: { report: (finding) => void untrusted.push(finding) },
    });
  return {
    client,
    index,
    provider,
    news,
    untrusted,
    make,
    tick: (ms: number) => clock += ms,
    now: () => new Date(clock),
  };
}

/** Begins and follows the replacement of `name`, until its operation is recorded. */
async function requested(f: ReturnType<typeof setup>, replacer: Replacer, name: string) {
  const r = await replacer.begin(f.index.get(name)!, POLICY.rules[0], {
    now: f.now(),
    paused: false,
  });
  replacer.follow(r);
  await waitFor("requested", () => stored(f.client)[0].phase === "requested");
  return r;
}

function stored(client: FakeClient) {
  const cm = client.objects.get(FakeClient.key(CONFIG_MAPS, LEDGER_NAME, "node-heal"));
  return cm ? JSON.parse(cm.data![LEDGER_KEY]) : undefined;
}

Deno.test("a replacement is in the ledger before its provider is asked, its operation right after, and ends when a successor is Ready", async () => {
  const f = setup();
  const replacer = f.make();
  const r = await replacer.begin(f.index.get("w2")!, POLICY.rules[0], {
    now: f.now(),
    paused: false,
  });
  assert.equal(f.provider.starts.length, 0);
  assert.equal(stored(f.client)[0].phase, "starting");
  assert.deepEqual(stored(f.client)[0].pool, { label: "karpenter.sh/nodepool", value: "general" });
  replacer.follow(r);
  await waitFor("the operation recorded", () => stored(f.client)[0].phase === "requested");
  assert.equal(stored(f.client)[0].operation, "op-1");
  assert.equal(f.provider.starts[0].node, "w2");
  assert.equal(f.provider.starts[0].uid, "uid-w2");
  // Karpenter's part: the old Node goes, a new one of the pool comes up, Ready.
  f.index.remove("w2");
  assert.equal(replacer.goneInFlight(), 1);
  f.index.upsert(node("w9", f.now().toISOString()));
  await waitFor("the replacement's end", () => stored(f.client)[0].phase === "replaced");
  assert.equal(stored(f.client)[0].successor, "w9");
  assert.deepEqual(f.news.map((n) => n.kind), ["requested", "replaced"]);
  assert.equal(f.provider.starts.length, 1);
  assert.equal(replacer.goneInFlight(), 0);
  await replacer.stopAll();
});

Deno.test("a successor must be new, Ready and of the same pool", async () => {
  const f = setup();
  const replacer = f.make();
  await requested(f, replacer, "w2");
  f.index.remove("w2");
  const other = node("x1", f.now().toISOString());
  other.metadata.labels!["karpenter.sh/nodepool"] = "gpu";
  const old = node("x2", "2020-01-01T00:00:00Z");
  const notReady = node("x3", f.now().toISOString());
  notReady.status!.conditions = [{ type: "Ready", status: "False" }];
  for (const n of [other, old, notReady]) f.index.upsert(n);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(stored(f.client)[0].phase, "requested");
  await replacer.stopAll();
});

Deno.test("a provider done with the old Node still there: that Node is its successor only for a provider that rebuilds in place", async () => {
  for (const inPlace of [false, true]) {
    const f = setup();
    // Done at once: an ASG's terminate whose instance is gone, a GCP recreate whose VM runs again.
    Object.assign(f.provider, {
      inPlace,
      progress: () => Promise.resolve({ state: "done" }),
    });
    const replacer = f.make();
    const r = await replacer.begin(f.index.get("w2")!, POLICY.rules[0], {
      now: f.now(),
      paused: false,
    });
    replacer.follow(r);
    await waitFor("requested", () => stored(f.client)[0].phase !== "starting");
    if (inPlace) {
      await waitFor("the replacement's end", () => stored(f.client)[0].phase === "replaced");
      assert.equal(stored(f.client)[0].successor, "w2");
    } else {
      // w2 is still there, Ready and cordoned: its Node not yet deleted.
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(stored(f.client)[0].phase, "requested", "w2 is no successor of itself");
      f.index.remove("w2");
      f.index.upsert(node("w9", f.now().toISOString()));
      await waitFor("the replacement's end", () => stored(f.client)[0].phase === "replaced");
      assert.equal(stored(f.client)[0].successor, "w9");
    }
    await replacer.stopAll();
  }
});

Deno.test("the gates are counted on the stored ledger: a second replacement waits for maxReplacing, the rate counts ended ones", async () => {
  const f = setup(["w1", "w2", "w3", "w4"]);
  const replacer = f.make();
  await replacer.begin(f.index.get("w1")!, POLICY.rules[0], { now: f.now(), paused: false });
  await assert.rejects(
    replacer.begin(f.index.get("w2")!, POLICY.rules[0], { now: f.now(), paused: false }),
    (err: Error) => err instanceof ReplaceBlocked && err.gate === "maxReplacing",
  );
  // Another replica (or a restart) sees the same ledger.
  const other = f.make();
  await other.resume();
  await other.stopAll();
  assert.equal(other.budgets(f.now(), false).maxReplacing.inFlight, 1);
  assert.equal(other.replacing("w1"), true);
  // The same Node asked again: the replacement in flight, not a second one.
  const again = await replacer.begin(f.index.get("w1")!, POLICY.rules[0], {
    now: f.now(),
    paused: false,
  });
  assert.equal(again.node, "w1");
  assert.equal(stored(f.client).length, 1);
  assert.equal(
    (await replacer.begin(f.index.get("w2")!, POLICY.rules[0], { now: f.now(), paused: true })
      .catch((e) => e)).gate,
    "paused",
  );
});

Deno.test("a replacement without a successor fails at its deadline, and the budget frees", async () => {
  const f = setup();
  const replacer = f.make();
  await requested(f, replacer, "w2");
  f.tick(3000);
  await waitFor("the failure", () => stored(f.client)[0].phase === "failed");
  assert.match(
    stored(f.client)[0].message,
    /not replaced within 2s \(karpenter, op-1\): the node still exists; it stays cordoned/,
  );
  assert.equal(f.news.at(-1)!.kind, "failed");
  assert.equal(replacer.budgets(f.now(), false).maxReplacing.inFlight, 0);
  // The rate still counts it.
  assert.equal(replacer.budgets(f.now(), false).replaceRate.used, 1);
});

Deno.test("a provider's refusal fails the replacement at once; a passing error is tried again", async () => {
  const f = setup();
  const replacer = f.make();
  let calls = 0;
  f.provider.answer = () => {
    calls++;
    if (calls === 1) throw new Error("throttled");
    throw new ReplaceRefused("not in a group");
  };
  const r = await replacer.begin(f.index.get("w2")!, POLICY.rules[0], {
    now: f.now(),
    paused: false,
  });
  replacer.follow(r);
  await waitFor("the failure", () => stored(f.client)[0].phase === "failed");
  assert.equal(calls, 2);
  assert.match(stored(f.client)[0].message, /karpenter refused: not in a group/);
});

Deno.test("a restart resumes from the ledger: a recorded operation is followed, not asked again", async () => {
  const f = setup();
  const first = f.make();
  const r = await first.begin(f.index.get("w2")!, POLICY.rules[0], { now: f.now(), paused: false });
  first.follow(r);
  await waitFor("requested", () => stored(f.client)[0].phase === "requested");
  await first.stopAll();
  const second = f.make();
  await second.resume();
  f.index.remove("w2");
  f.index.upsert(node("w9", f.now().toISOString()));
  await waitFor("replaced", () => stored(f.client)[0].phase === "replaced");
  assert.equal(f.provider.starts.length, 1);
  await second.stopAll();
});

Deno.test("a ledger written meanwhile by another replica (409) is read again and the change applied to it", async () => {
  const f = setup(["w1", "w2", "w3"]);
  const a = f.make();
  const b = f.make();
  await a.resume();
  await b.resume();
  await a.begin(f.index.get("w1")!, POLICY.rules[0], { now: f.now(), paused: false });
  // b's copy is stale: its write meets 409, it reads again, and maxReplacing now says no.
  await assert.rejects(
    b.begin(f.index.get("w2")!, POLICY.rules[0], { now: f.now(), paused: false }),
    (err: Error) => err instanceof ReplaceBlocked && err.gate === "maxReplacing",
  );
  assert.equal(stored(f.client).length, 1);
});

Deno.test("a timed-out replacement whose Node is gone keeps its place until a successor comes, then ends replaced", async () => {
  const f = setup();
  const replacer = f.make();
  await requested(f, replacer, "w2");
  f.index.remove("w2");
  f.tick(3000);
  await waitFor("the failure", () => stored(f.client)[0].phase === "failed");
  assert.equal(stored(f.client)[0].unsettled, true);
  assert.match(stored(f.client)[0].message, /the node is gone and no successor became Ready/);
  assert.equal(replacer.budgets(f.now(), false).maxReplacing.inFlight, 1, "its place stays taken");
  assert.equal(replacer.goneInFlight(), 1, "minHealthy still counts it");
  await assert.rejects(
    replacer.begin(f.index.get("w3")!, POLICY.rules[0], { now: f.now(), paused: false }),
    (err: Error) => err instanceof ReplaceBlocked && err.gate === "maxReplacing",
  );
  f.index.upsert(node("w9", f.now().toISOString()));
  await waitFor("the late end", () => stored(f.client)[0].phase === "replaced");
  assert.equal(stored(f.client)[0].successor, "w9");
  assert.equal(stored(f.client)[0].unsettled, undefined);
  assert.equal(replacer.budgets(f.now(), false).maxReplacing.inFlight, 0);
  await replacer.stopAll();
});

Deno.test("one new Node ends one replacement, not two", async () => {
  const f = setup();
  const policy = parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { provider: karpenter, timeout: 1h }
acknowledge: [minHealthyZero]
gates: { minHealthy: 0, maxReplacing: 2 }
`);
  const replacer = f.make(policy);
  for (const name of ["w1", "w2"]) {
    const r = await replacer.begin(f.index.get(name)!, policy.rules[0], {
      now: f.now(),
      paused: false,
    });
    replacer.follow(r);
  }
  await waitFor(
    "both requested",
    () => stored(f.client).filter((r: { phase: string }) => r.phase === "requested").length === 2,
  );
  f.index.remove("w1");
  f.index.remove("w2");
  f.index.upsert(node("w8", f.now().toISOString()));
  await waitFor(
    "one replaced",
    () => stored(f.client).some((r: { phase: string }) => r.phase === "replaced"),
  );
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    stored(f.client).map((r: { phase: string; successor?: string }) => [r.phase, r.successor])
      .sort(),
    [["replaced", "w8"], ["requested", undefined]],
  );
  f.index.upsert(node("w9", f.now().toISOString()));
  await waitFor(
    "both replaced",
    () => stored(f.client).every((r: { phase: string }) => r.phase === "replaced"),
  );
  await replacer.stopAll();
});

Deno.test("a record node-heal did not mark (written by hand) asks no provider: protected, unmarked or gone", async () => {
  const f = setup();
  const cp = node("cp");
  cp.metadata.labels!["node-role.kubernetes.io/control-plane"] = "";
  cp.metadata.annotations = {
    [ANNOTATIONS.cordonedBy]: "node-heal",
    [ANNOTATIONS.step]: "replacing",
  };
  f.client.putNode(cp);
  f.client.putNode(node("plain"));
  const at = f.now().toISOString();
  const later = new Date(f.now().getTime() + 60_000).toISOString();
  const forged = (name: string) => ({
    id: `${name}@x`,
    node: name,
    uid: `uid-${name}`,
    provider: "karpenter",
    rule: "heal",
    startedAt: at,
    deadline: later,
    by: "someone",
    phase: "starting",
  });
  f.client.putObject(CONFIG_MAPS, {
    metadata: { name: LEDGER_NAME, namespace: "node-heal" },
    data: { [LEDGER_KEY]: JSON.stringify(["cp", "plain", "nowhere"].map(forged)) },
  });
  const replacer = f.make();
  await replacer.resume();
  await waitFor(
    "each record looked at",
    () => stored(f.client).every((r: { phase: string }) => r.phase !== "starting"),
  );
  assert.equal(f.provider.starts.length, 0, "no provider asked");
  const byNode = Object.fromEntries(
    stored(f.client).map((r: { node: string; phase: string; message: string }) => [r.node, r]),
  );
  assert.equal(byNode.cp.phase, "failed");
  assert.match(byNode.cp.message, /control-plane/);
  assert.equal(byNode.plain.phase, "failed");
  assert.match(byNode.plain.message, /not marked replacing by node-heal/);
  assert.equal(byNode.nowhere.phase, "requested", "followed, not asked");
  await replacer.stopAll();
});

Deno.test("a damaged ledger is neither counted as empty nor written over: no replacement starts until it is repaired", async () => {
  const f = setup();
  f.client.putObject(CONFIG_MAPS, {
    metadata: { name: LEDGER_NAME, namespace: "node-heal" },
    data: { [LEDGER_KEY]: '[{"id": "x", "node": "w1"' },
  });
  const replacer = f.make();
  await replacer.resume();
  const b = replacer.budgets(f.now(), false);
  assert.match(b.damaged!, /not JSON/);
  await assert.rejects(
    replacer.begin(f.index.get("w2")!, POLICY.rules[0], { now: f.now(), paused: false }),
    /damaged/,
  );
  assert.match(
    f.client.objects.get(FakeClient.key(CONFIG_MAPS, LEDGER_NAME, "node-heal"))!.data![LEDGER_KEY],
    /^\[\{"id": "x"/,
    "left as it was",
  );
  // Deleted by a person: a fresh ledger.
  f.client.objects.delete(FakeClient.key(CONFIG_MAPS, LEDGER_NAME, "node-heal"));
  const r = await replacer.begin(f.index.get("w2")!, POLICY.rules[0], {
    now: f.now(),
    paused: false,
  });
  assert.equal(r.node, "w2");
  assert.equal(replacer.budgets(f.now(), false).damaged, undefined);
});

Deno.test("a ledger deleted during a replacement is made again with it, and the replacement goes on", async () => {
  const f = setup();
  const replacer = f.make();
  await replacer.begin(f.index.get("w2")!, POLICY.rules[0], { now: f.now(), paused: false });
  f.client.objects.delete(FakeClient.key(CONFIG_MAPS, LEDGER_NAME, "node-heal"));
  replacer.follow(replacer.entries[0]);
  await waitFor("requested, in a new ledger", () => stored(f.client)?.[0]?.phase === "requested");
  f.index.remove("w2");
  f.index.upsert(node("w9", f.now().toISOString()));
  await waitFor("replaced", () => stored(f.client)[0].phase === "replaced");
  await replacer.stopAll();
});

/** Sets the stored ledger to `entries` by hand, as `kubectl edit` would. */
function editLedger(client: FakeClient, entries: unknown[]) {
  const key = FakeClient.key(CONFIG_MAPS, LEDGER_NAME, "node-heal");
  const cm = client.objects.get(key)!;
  client.objects.set(key, {
    ...cm,
    metadata: { ...cm.metadata, resourceVersion: `${Number(cm.metadata.resourceVersion) + 1}` },
    data: { [LEDGER_KEY]: JSON.stringify(entries) },
  });
}

Deno.test("a ledger emptied by hand during a replacement frees no place: maxReplacing and replaceRate count what this replica follows", async () => {
  const f = setup(["w1", "w2", "w3", "w4"]);
  const replacer = f.make();
  await requested(f, replacer, "w1");
  editLedger(f.client, []);
  assert.equal(replacer.budgets(f.now(), false).maxReplacing.inFlight, 1);
  assert.equal(replacer.replacing("w1"), true);
  await assert.rejects(
    replacer.begin(f.index.get("w2")!, POLICY.rules[0], { now: f.now(), paused: false }),
    (err: Error) => err instanceof ReplaceBlocked && err.gate === "maxReplacing",
  );
  assert.equal(f.provider.starts.length, 1, "no second machine was asked for");
  // It ends; the rate still counts it though the ledger lost it, and it is written back.
  f.index.remove("w1");
  f.index.upsert(node("w9", f.now().toISOString()));
  await waitFor("replaced", () => stored(f.client)?.[0]?.phase === "replaced");
  editLedger(f.client, []);
  await replacer.resume();
  const second = await replacer.begin(f.index.get("w2")!, POLICY.rules[0], {
    now: f.now(),
    paused: false,
  });
  replacer.follow(second);
  await waitFor("requested", () => f.provider.starts.length === 2);
  f.index.remove("w2");
  f.index.upsert(node("w8", f.now().toISOString()));
  await waitFor(
    "replaced",
    () =>
      stored(f.client)?.some((r: { node: string; phase: string }) =>
        r.node === "w2" && r.phase === "replaced"
      ),
  );
  editLedger(f.client, []);
  await replacer.resume();
  assert.equal(replacer.budgets(f.now(), false).replaceRate.used, 2);
  await assert.rejects(
    replacer.begin(f.index.get("w3")!, POLICY.rules[0], { now: f.now(), paused: false }),
    (err: Error) => err instanceof ReplaceBlocked && err.gate === "replaceRate",
  );
  await replacer.stopAll();
});

Deno.test("an in-flight record marked ended by hand still holds its place while this replica follows it", async () => {
  const f = setup(["w1", "w2"]);
  const replacer = f.make();
  await requested(f, replacer, "w1");
  editLedger(f.client, stored(f.client).map((r: object) => ({ ...r, phase: "replaced" })));
  await replacer.resume();
  assert.equal(replacer.budgets(f.now(), false).maxReplacing.inFlight, 1);
  await replacer.stopAll();
});

Deno.test("a replacement recorded before a pause asks its provider only once the pause ends", async () => {
  const f = setup();
  let paused = true;
  const replacer = new Replacer({
    client: f.client,
    index: f.index,
    policy: () => POLICY,
    providers: () => new Map([["heal", f.provider]]),
    namespace: "node-heal",
    instance: "test",
    now: f.now,
    pollMs: 5,
    paused: () => paused,
    told: (n) => void f.news.push(n),
  });
  const r = await replacer.begin(f.index.get("w2")!, POLICY.rules[0], {
    now: f.now(),
    paused: false,
  });
  replacer.follow(r);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(f.provider.starts.length, 0, "not asked while paused");
  assert.equal(stored(f.client)[0].phase, "starting");
  paused = false;
  await waitFor("asked", () => f.provider.starts.length === 1);
  await replacer.stopAll();
});

Deno.test("a ledger emptied by hand is written again with the replacements in flight, at the next sweep and when the leader stops: the next leader counts them", async () => {
  const f = setup(["w1", "w2", "w3"]);
  const replacer = f.make();
  await requested(f, replacer, "w1");
  editLedger(f.client, []);
  await replacer.resume();
  assert.deepEqual(stored(f.client).map((r: { node: string }) => r.node), ["w1"], "at the sweep");
  editLedger(f.client, []);
  await replacer.stopAll();
  assert.deepEqual(stored(f.client).map((r: { node: string }) => r.node), ["w1"], "at the stop");
  const next = f.make();
  await next.resume();
  await assert.rejects(
    next.begin(f.index.get("w2")!, POLICY.rules[0], { now: f.now(), paused: false }),
    (err: Error) => err instanceof ReplaceBlocked && err.gate === "maxReplacing",
  );
  await next.stopAll();
});

Deno.test("a replica that stopped following a replacement (it stepped down) does not count it in flight for ever once another replica ended it and the ledger let it go", async () => {
  const f = setup(["w1", "w2", "w3"]);
  // a follows w1's replacement, then steps down.
  const a = f.make();
  await requested(f, a, "w1");
  await a.stopAll();
  // b leads, follows it to its end: replaced.
  const b = f.make();
  await b.resume();
  f.index.remove("w1");
  f.index.upsert(node("w9", f.now().toISOString()));
  await waitFor("replaced", () => stored(f.client)?.[0]?.phase === "replaced");
  await b.stopAll();
  // The record leaves the ledger (a person empties it, nothing being in flight; or it is pruned
  // once 50 newer ones have ended).
  editLedger(f.client, []);
  // a leads again: nothing is in flight.
  await a.resume();
  assert.equal(
    a.budgets(f.now(), false).maxReplacing.inFlight,
    0,
    "w1 ended; nothing is in flight",
  );
  const r = await a.begin(f.index.get("w2")!, POLICY.rules[0], { now: f.now(), paused: false });
  assert.equal(r.node, "w2");
  await a.stopAll();
});

Deno.test("an in-flight record marked ended by hand is written back in flight at the next sweep: the next leader counts it too", async () => {
  const f = setup(["w1", "w2"]);
  const a = f.make();
  await requested(f, a, "w1");
  editLedger(f.client, stored(f.client).map((r: object) => ({ ...r, phase: "replaced" })));
  await a.resume();
  assert.equal(stored(f.client)[0].phase, "requested", "written back as this replica follows it");
  await a.stopAll();
  const b = f.make();
  await b.resume();
  await assert.rejects(
    b.begin(f.index.get("w2")!, POLICY.rules[0], { now: f.now(), paused: false }),
    (err: Error) => err instanceof ReplaceBlocked && err.gate === "maxReplacing",
  );
  await b.stopAll();
});

Deno.test("a Node whose providerID changed since its replacement was decided asks no provider, whichever it is", async () => {
  const f = setup();
  const w2 = f.client.nodes.get("w2")!;
  f.client.putNode({
    ...w2,
    spec: { ...w2.spec, providerID: "aws:///us-east-1a/i-0aaaaaaaaaaaaaaaa" },
  });
  f.index.replaceAll([...f.client.nodes.values()]);
  const replacer = f.make();
  const r = await replacer.begin(f.index.get("w2")!, POLICY.rules[0], {
    now: f.now(),
    paused: false,
  });
  assert.equal(r.providerID, "aws:///us-east-1a/i-0aaaaaaaaaaaaaaaa");
  // The instance behind the Node changed (or someone wrote another providerID on it).
  const now = f.client.nodes.get("w2")!;
  f.client.putNode({
    ...now,
    spec: { ...now.spec, providerID: "aws:///us-east-1a/i-0bbbbbbbbbbbbbbbb" },
  });
  replacer.follow(r);
  await waitFor("the failure", () => stored(f.client)[0].phase === "failed");
  assert.equal(f.provider.starts.length, 0, "no provider asked");
  assert.equal(
    stored(f.client)[0].message,
    "not asked: w2's providerID is aws:///us-east-1a/i-0bbbbbbbbbbbbbbbb now, not " +
      "aws:///us-east-1a/i-0aaaaaaaaaaaaaaaa as when its replacement was decided",
  );
  await replacer.stopAll();
});

Deno.test("a record that names no uid asks no provider", async () => {
  const f = setup();
  const later = new Date(f.now().getTime() + 60_000).toISOString();
  f.client.putObject(CONFIG_MAPS, {
    metadata: { name: LEDGER_NAME, namespace: "node-heal" },
    data: {
      [LEDGER_KEY]: JSON.stringify([{
        id: "w2@x",
        node: "w2",
        provider: "karpenter",
        rule: "heal",
        startedAt: f.now().toISOString(),
        deadline: later,
        by: "someone",
        phase: "starting",
      }]),
    },
  });
  const replacer = f.make();
  await replacer.resume();
  await waitFor("the failure", () => stored(f.client)[0].phase === "failed");
  assert.equal(f.provider.starts.length, 0);
  assert.match(stored(f.client)[0].message, /the record names no uid of w2/);
  await replacer.stopAll();
});

Deno.test("a record someone else wrote, started long ago, for a Node that never existed: no long-Ready Node ends it", async () => {
  const f = setup();
  const forged = {
    id: "ghost@forged",
    node: "ghost",
    uid: "uid-ghost",
    providerID: "aws:///us-east-1a/i-0123456789abcdef0",
    provider: "karpenter",
    rule: "heal",
    // Before every Node of the cluster was made.
    startedAt: "2025-12-01T00:00:00Z",
    deadline: "2025-12-01T00:00:02Z",
    by: "elsewhere",
    phase: "requested",
    operation: "forged",
  };
  f.client.putObject(CONFIG_MAPS, {
    metadata: { name: LEDGER_NAME, namespace: "node-heal" },
    data: { [LEDGER_KEY]: JSON.stringify([forged]) },
  });
  // A Node made a day ago, within no timeout of now: Ready, of no node-heal's business.
  f.index.upsert(node("w8", new Date(f.now().getTime() - 86_400_000).toISOString()));
  const replacer = f.make();
  await replacer.resume();
  await waitFor("the failure", () => stored(f.client)[0].phase === "failed");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(stored(f.client)[0].phase, "failed");
  assert.equal(stored(f.client)[0].successor, undefined);
  assert.equal(stored(f.client)[0].unsettled, true, "it keeps a place: the gates stay cautious");
  // A Node made since this replica first read it, less the rule's timeout (2s), may end it: as
  // a real replacement's late successor would.
  f.index.upsert(node("w9", f.now().toISOString()));
  await waitFor("the late end", () => stored(f.client)[0].phase === "replaced");
  assert.equal(stored(f.client)[0].successor, "w9");
  await replacer.stopAll();
});

Deno.test("a hand edit of a followed record's start or pool does not change which Node may succeed it", async () => {
  const f = setup();
  const replacer = f.make();
  await requested(f, replacer, "w2");
  editLedger(
    f.client,
    stored(f.client).map((r: Record<string, unknown>) => ({
      ...r,
      startedAt: "2025-12-01T00:00:00Z",
      pool: { label: "karpenter.sh/nodepool", value: "gpu" },
    })),
  );
  await replacer.resume();
  f.index.remove("w2");
  const gpu = node("g1", f.now().toISOString());
  gpu.metadata.labels!["karpenter.sh/nodepool"] = "gpu";
  f.index.upsert(gpu);
  f.index.upsert(node("old", "2026-02-01T00:00:00Z"));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(stored(f.client)[0].phase, "requested", "neither the gpu Node nor an old one");
  f.index.upsert(node("w9", f.now().toISOString()));
  await waitFor("replaced", () => stored(f.client)[0].phase === "replaced");
  assert.equal(stored(f.client)[0].successor, "w9");
  assert.equal(stored(f.client)[0].startedAt, f.now().toISOString(), "its start as written");
  await replacer.stopAll();
});

Deno.test("an unreadable ledger entry is reported, asks nothing, counts as one in flight, and is written back as it was", async () => {
  const f = setup();
  const bad = {
    id: "bad@1",
    node: "w1",
    uid: "uid-w1",
    provider: "karpenter",
    rule: "heal",
    // A day ahead of this replica's clock.
    startedAt: new Date(f.now().getTime() + 86_400_000).toISOString(),
    deadline: new Date(f.now().getTime() + 86_401_000).toISOString(),
    by: "someone",
    phase: "starting",
  };
  f.client.putObject(CONFIG_MAPS, {
    metadata: { name: LEDGER_NAME, namespace: "node-heal" },
    data: { [LEDGER_KEY]: JSON.stringify([bad]) },
  });
  const replacer = f.make();
  await replacer.resume();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(f.provider.starts.length, 0, "it asks nothing");
  assert.deepEqual(replacer.entries, []);
  assert.equal(replacer.budgets(f.now(), false).damaged, undefined, "the rest of the ledger works");
  assert.equal(replacer.inFlight(), 1);
  assert.deepEqual(f.untrusted.map((u) => [u.kind, u.object, u.reason]), [
    ["ledger", 'node-heal/node-heal-replacements["bad@1"]', "future-time"],
  ]);
  // With maxReplacing 1, it holds the place.
  await assert.rejects(
    replacer.begin(f.index.get("w2")!, POLICY.rules[0], { now: f.now(), paused: false }),
    (err: Error) =>
      err instanceof ReplaceBlocked && err.gate === "maxReplacing" &&
      err.message.includes("(an unreadable ledger entry)"),
  );
  // With maxReplacing 2, another goes, and the entry is written back untouched.
  const two = parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { provider: karpenter, timeout: 2s }
acknowledge: [minHealthyZero]
gates: { minHealthy: 0, maxReplacing: 2, replaceRate: { max: 5, window: 1h } }
`);
  const wider = f.make(two);
  await wider.resume();
  const r = await wider.begin(f.index.get("w2")!, two.rules[0], { now: f.now(), paused: false });
  assert.equal(r.node, "w2");
  assert.deepEqual(stored(f.client).map((e: { id: string }) => e.id), [r.id, "bad@1"]);
  assert.deepEqual(stored(f.client)[1], bad);
  await replacer.stopAll();
  await wider.stopAll();
});

Deno.test("a replaced Node's take-out still counts in the rate once its Node is gone: goneTakeOuts() gives its cordonedAt, once", async () => {
  const f = setup();
  const w2 = f.index.get("w2")!;
  w2.metadata.annotations![ANNOTATIONS.cordonedAt] = "2026-05-31T23:50:00Z";
  const replacer = f.make();
  await requested(f, replacer, "w2");
  assert.deepEqual(replacer.goneTakeOuts(), [], "its Node is there: its own record counts");
  f.index.remove("w2");
  assert.deepEqual(replacer.goneTakeOuts(), [Date.parse("2026-05-31T23:50:00Z")]);
  f.index.upsert(node("w9", f.now().toISOString()));
  await waitFor("the replacement's end", () => stored(f.client)[0].phase === "replaced");
  assert.deepEqual(replacer.goneTakeOuts(), [Date.parse("2026-05-31T23:50:00Z")], "ended too");
  // The tally's rate counts it, within the window only.
  const tally = new Tally(POLICY.gates, { nodes: f.index.nodes() });
  tally.goneTakeOuts = () => replacer.goneTakeOuts();
  const now = new Date("2026-06-01T00:00:00Z");
  assert.equal(tally.budgets({ now, paused: false }).rate.used, 1);
  const later = new Date("2026-06-01T01:00:00Z");
  assert.equal(tally.budgets({ now: later, paused: false }).rate.used, 0, "out of the 1h window");
  await replacer.stopAll();
});

Deno.test("a replacement decided and not yet recorded counts in its zone's maxReplacing", () => {
  const f = setup();
  for (const [name, zone] of [["w1", "a"], ["w2", "a"], ["w3", "b"]]) {
    const n = f.index.get(name)!;
    f.index.upsert({
      ...n,
      metadata: {
        ...n.metadata,
        labels: { ...n.metadata.labels, "topology.kubernetes.io/zone": zone },
      },
    });
  }
  const zoned = parsePolicy(`
rules:
  - { name: heal, match: ['heal="true"'], actions: [cordon, drain, replace], replace: { provider: karpenter } }
acknowledge: [minHealthyZero]
gates:
  minHealthy: 0
  maxReplacing: 5
  domains: [{ key: topology.kubernetes.io/zone, maxReplacing: 1 }]
`);
  const replacer = f.make(zoned);
  const release = replacer.reserve("w1");
  const inZone = (name: string) => replacer.inDomains(f.index.get(name)!)[0].inFlight;
  assert.deepEqual(inZone("w2"), ["w1"], "w1 is decided in zone a");
  assert.deepEqual(inZone("w3"), [], "zone b has none");
  release();
  assert.deepEqual(inZone("w2"), []);
});
