// The replacement ledger's pure rules: the gates' budgets, the successor, the ledger bounded.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import {
  checkReplace,
  earliestSuccessor,
  MAX_ENDED,
  poolOf,
  pruned,
  replaceBudgets,
  type Replacement,
  successorOf,
} from "../../../lib/decide/replacements.ts";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import { workerNode } from "../../fake_client.ts";
import type { Node } from "../../../lib/node.ts";

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
