// The replacement ledger's pure rules: the gates' budgets, the successor, the ledger bounded.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { checkReplace } from "../../../lib/decide/gates.ts";
import {
  earliestSuccessor,
  MAX_ENDED,
  MAX_MESSAGE,
  poolOf,
  pruned,
  readEntry,
  replaceBudgets,
  type Replacement,
  successorOf,
  UNREADABLE,
} from "../../../lib/decide/replacements.ts";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import { workerNode } from "../../fakes/fake_client.ts";
import type { Node } from "../../../lib/base/node.ts";

const { gates } = parsePolicy("gates: { maxReplacing: 2, replaceRate: { max: 3, window: 1h } }");
const NOW = new Date("2026-06-01T12:00:00Z");

function entry(node: string, minutesAgo: number, phase: Replacement["phase"]): Replacement {
  const at = new Date(NOW.getTime() - minutesAgo * 60_000).toISOString();
  return {
    id: `${node}@${minutesAgo}`,
    node,
    provider: "karpenter",
    rule: "heal",
    startedAt: at,
    deadline: at,
    by: "test",
    phase,
  };
}

function node(
  name: string,
  options: { created: string; pool?: string; uid?: string; ready?: boolean; providerID?: string },
): Node {
  const n = workerNode(name);
  n.metadata.uid = options.uid ?? `uid-${name}`;
  n.spec = { providerID: options.providerID ?? `aws:///us-east-1a/i-${name}` };
  n.metadata.creationTimestamp = options.created;
  if (options.pool) n.metadata.labels!["karpenter.sh/nodepool"] = options.pool;
  if (options.ready === false) n.status!.conditions = [{ type: "Ready", status: "False" }];
  return n;
}

Deno.test("replaceBudgets() counts in-flight and reserved replacements, and every start in the rate window", () => {
  const entries = [
    entry("a", 90, "replaced"), // outside the window
    entry("b", 30, "failed"),
    entry("c", 5, "requested"),
  ];
  const b = replaceBudgets(entries, { gates, now: NOW, paused: false, reserved: ["d", "c"] });
  assert.deepEqual(b.maxReplacing, { max: 2, inFlight: 2, nodes: ["c", "d"] });
  assert.deepEqual(b.replaceRate, { max: 3, windowMs: 3_600_000, used: 3, left: 0 });
  assert.equal(checkReplace("e", b, gates)?.gate, "maxReplacing");
  const one = replaceBudgets(entries, { gates, now: NOW, paused: false });
  assert.equal(checkReplace("e", one, gates), undefined);
  assert.equal(checkReplace("e", { ...one, paused: true }, gates)?.gate, "paused");
  const full = replaceBudgets([...entries, entry("f", 1, "replaced")], {
    gates,
    now: NOW,
    paused: false,
  });
  const blocked = checkReplace("e", full, gates);
  assert.equal(blocked?.gate, "replaceRate");
  assert.match(blocked!.message, /3 started in the last 1h, replaceRate allows 3/);
});

Deno.test("successorOf() wants a Ready Node of the same pool, made after the start, not the old one", () => {
  const r = {
    ...entry("old", 1, "requested"),
    uid: "uid-old",
    pool: poolOf(node("old", { created: "2026-01-01T00:00:00Z", pool: "general" })),
  };
  assert.deepEqual(r.pool, { label: "karpenter.sh/nodepool", value: "general" });
  const after = new Date(NOW.getTime()).toISOString();
  const candidates = [
    node("old", { created: after, pool: "general", uid: "uid-old" }), // the old object itself
    node("before", { created: "2026-01-01T00:00:00Z", pool: "general" }),
    node("gpu", { created: after, pool: "gpu" }),
    node("booting", { created: after, pool: "general", ready: false }),
  ];
  assert.equal(successorOf(r, candidates, { gates }), undefined);
  const good = node("new", { created: after, pool: "general" });
  assert.equal(successorOf(r, [...candidates, good], { gates })?.metadata.name, "new");
  // A control-plane Node never counts.
  const cp = node("cp", { created: after, pool: "general" });
  cp.metadata.labels!["node-role.kubernetes.io/control-plane"] = "";
  assert.equal(successorOf(r, [cp], { gates }), undefined);
  // Without a pool, any new Ready Node.
  assert.equal(
    successorOf({ ...r, pool: undefined }, [node("x", { created: after })], { gates })?.metadata
      .name,
    "x",
  );
});

Deno.test("pruned() keeps what is in flight and what the rate counts, and at most MAX_ENDED more", () => {
  const old = Array.from({ length: MAX_ENDED + 10 }, (_, i) => entry(`o${i}`, 600 - i, "replaced"));
  const kept = pruned(
    [...old, entry("stuck", 700, "requested"), entry("recent", 10, "failed")],
    gates,
    NOW,
  );
  assert.equal(kept.length, MAX_ENDED + 2);
  assert.ok(kept.some((r) => r.node === "stuck"), "in flight, however old");
  assert.ok(kept.some((r) => r.node === "recent"));
  assert.ok(!kept.some((r) => r.node === "o0"), "the oldest ended ones go");
  assert.ok(kept.some((r) => r.node === `o${MAX_ENDED + 9}`));
});

Deno.test("successorOf() never takes the predecessor's machine: another uid is not enough, unless its provider rebuilds in place", () => {
  const after = NOW.toISOString();
  const r = { ...entry("old", 1, "requested"), uid: "uid-old", providerID: "aws:///z/i-old" };
  const sameMachine = node("old", { created: after, uid: "uid-new", providerID: "aws:///z/i-old" });
  assert.equal(successorOf(r, [sameMachine], { gates }), undefined);
  assert.equal(
    successorOf(r, [sameMachine], { gates, samePlace: true })?.metadata.name,
    "old",
    "a GCP recreate keeps the VM, so its providerID",
  );
  const newMachine = node("old", { created: after, uid: "uid-new", providerID: "aws:///z/i-new" });
  assert.equal(successorOf(r, [newMachine], { gates })?.metadata.name, "old");
});

Deno.test("successorOf() takes no Node node-heal is replacing, and none made before `since`", () => {
  const r = entry("old", 60, "requested");
  const recent = new Date(NOW.getTime() - 10 * 60_000).toISOString();
  const busy = node("busy", { created: NOW.toISOString() });
  busy.metadata.annotations = { [ANNOTATIONS.step]: "replacing" };
  assert.equal(successorOf(r, [busy], { gates }), undefined);
  const fresh = node("fresh", { created: recent });
  assert.equal(successorOf(r, [fresh], { gates })?.metadata.name, "fresh");
  assert.equal(successorOf(r, [fresh], { gates, since: NOW.getTime() - 5 * 60_000 }), undefined);
});

Deno.test("earliestSuccessor(): the record's start, but never before this replica first followed it less the timeout", () => {
  const now = NOW.getTime();
  const own = entry("mine", 0, "starting");
  assert.equal(earliestSuccessor(own, { followedAt: now, timeoutMs: 1_200_000 }), now);
  // Resumed after a restart 5 minutes in: its start.
  const resumed = entry("resumed", 5, "requested");
  assert.equal(
    earliestSuccessor(resumed, { followedAt: now, timeoutMs: 1_200_000 }),
    now - 5 * 60_000,
  );
  // Written by someone else with a start long ago: no earlier than the timeout before now.
  const forged = { ...entry("ghost", 0, "requested"), startedAt: "2020-01-01T00:00:00Z" };
  assert.equal(
    earliestSuccessor(forged, { followedAt: now, timeoutMs: 1_200_000 }),
    now - 1_200_000,
  );
});

Deno.test("replaceBudgets() counts each unreadable ledger entry as a replacement in flight started now", () => {
  const b = replaceBudgets([entry("c", 5, "requested")], {
    gates,
    now: NOW,
    paused: false,
    unreadable: 1,
  });
  assert.deepEqual(b.maxReplacing, { max: 2, inFlight: 2, nodes: ["c", UNREADABLE] });
  assert.equal(b.replaceRate.used, 2);
  const blocked = checkReplace("e", b, gates);
  assert.equal(blocked?.gate, "maxReplacing");
  assert.match(blocked!.message, /\(c, an unreadable ledger entry\)/);
});

/** A record as node-heal writes it, started a minute before NOW. */
function stored(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const at = new Date(NOW.getTime() - 60_000);
  return {
    id: "heal-worker@mxcg60be",
    node: "heal-worker",
    uid: "4aa27f36-b3ca-485e-8cf2-5186861ab9ae",
    providerID: "aws:///us-east-1b/i-004c7949b33c47e32",
    pool: { label: "karpenter.sh/nodepool", value: "general" },
    provider: "karpenter",
    rule: "heal",
    cordonedAt: at.toISOString(),
    startedAt: at.toISOString(),
    deadline: new Date(at.getTime() + 20 * 60_000).toISOString(),
    by: "node-heal-0",
    phase: "requested",
    operation: "9fddd144-fc09-418c-ae85-956393a84fe7",
    message: "Deleted NodeClaim general-47662 (NodePool general) of heal-worker",
    ...overrides,
  };
}

Deno.test("readEntry() takes what node-heal writes, and drops keys it does not know", () => {
  const read = readEntry({ ...stored(), extra: "x" }, NOW);
  assert.ok("entry" in read);
  assert.deepEqual(read.entry, stored());
});

Deno.test("readEntry() refuses names, ids and fields beyond their bounds, naming the field", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ node: "n".repeat(254) }, 'field "node"'],
    [{ node: "" }, 'field "node"'],
    [{ successor: "s".repeat(254), phase: "replaced" }, 'field "successor"'],
    [{ providerID: 7 }, 'field "providerID"'],
    [{ phase: "done" }, 'field "phase"'],
    [{ provider: "azure" }, 'field "provider"'],
    [{ startedAt: "yesterday" }, 'field "startedAt" must be an RFC 3339 time'],
    // The pattern's shape, not a time: once read as NaN, a deadline no comparison ever passed.
    [{ deadline: "2026-13-01T00:00:00Z" }, 'field "deadline" must be an RFC 3339 time'],
    [{ startedAt: "2026-06-01T25:00:00Z" }, 'field "startedAt" must be an RFC 3339 time'],
    [{ successor: "heal-worker2" }, 'field "successor" only a replaced entry names a successor'],
    [{ unsettled: true }, 'field "unsettled" only a failed entry is unsettled'],
    [
      { annotations: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, "v"])) },
      'field "annotations" must have at most 8 entries',
    ],
  ];
  for (const [overrides, why] of cases) {
    const read = readEntry(stored(overrides), NOW);
    assert.ok("reason" in read, JSON.stringify(overrides).slice(0, 80));
    assert.equal(read.reason, "schema");
    assert.ok(read.message.startsWith(why), `${read.message} starts with ${why}`);
    assert.ok(read.message.length < 200);
  }
  for (const raw of [null, 7, "x", [], {}]) assert.ok("reason" in readEntry(raw, NOW));
});

Deno.test("readEntry() clips a long message rather than refusing the entry", () => {
  const read = readEntry(stored({ message: "m".repeat(100_000) }), NOW);
  assert.ok("entry" in read);
  assert.equal(read.entry.message!.length, MAX_MESSAGE);
});

Deno.test("readEntry() refuses times in the future beyond the clock skew, before Kubernetes 1.0, and a deadline beyond 24h of the start", () => {
  const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
  const inSkew = stored({ startedAt: at(60_000), deadline: at(120_000) });
  assert.ok("entry" in readEntry(inSkew, NOW), "a minute ahead: another replica's clock");
  const cases: [Record<string, unknown>, string][] = [
    [{ startedAt: at(3_600_000), deadline: at(3_700_000) }, "future-time"],
    [{ endedAt: at(3_600_000) }, "future-time"],
    [{ cordonedAt: "2099-01-01T00:00:00Z" }, "future-time"],
    [{ startedAt: "1970-01-01T00:00:00Z", deadline: "1970-01-01T00:20:00Z" }, "old-time"],
    [{ deadline: at(-3_600_000) }, "future-time"],
    [{ deadline: at(30 * 3_600_000) }, "future-time"],
  ];
  for (const [overrides, reason] of cases) {
    const read = readEntry(stored(overrides), NOW);
    assert.ok("reason" in read, JSON.stringify(overrides));
    assert.equal(read.reason, reason, read.message);
  }
});
