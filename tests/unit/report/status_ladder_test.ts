// The status page's view of the ladder: why a node waits (asked of the decisions' own gates), since
// when it is on its step, the replacements whose Node is gone, and the take-outs the rate no longer
// counts; and the decision log telling a repeated wait once.
import assert from "node:assert/strict";
import type { Node } from "../../../lib/base/node.ts";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { replaceBudgets, type Replacement } from "../../../lib/decide/replacements.ts";
import { goneNodes, ledgerTakeOuts, stepSince, waitOf } from "../../../lib/report/status_ladder.ts";
import { readState } from "../../../lib/decide/node_state.ts";
import { DecisionLog } from "../../../lib/report/decision_log.ts";

const NOW = new Date("2025-01-01T12:10:00Z");
const policy = parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { provider: karpenter, timeout: 1m }
gates: { minHealthy: 0, maxReplacing: 1, maxConcurrent: 1 }
acknowledge: [minHealthyZero]
`);

function node(name: string, annotations: Record<string, string>): Node {
  return {
    metadata: {
      name,
      annotations: {
        [ANNOTATIONS.cordonedBy]: "node-heal",
        [ANNOTATIONS.cordonedAt]: "2025-01-01T12:00:00Z",
        [ANNOTATIONS.rule]: "heal",
        [ANNOTATIONS.target]: "replace",
        ...annotations,
      },
    },
    spec: { unschedulable: true },
  } as Node;
}

function replacement(node: string, extra: Partial<Replacement> = {}): Replacement {
  return {
    id: `${node}@x`,
    node,
    provider: "karpenter",
    rule: "heal",
    cordonedAt: "2025-01-01T11:50:00Z",
    startedAt: "2025-01-01T12:03:00Z",
    deadline: "2025-01-01T12:04:00Z",
    by: "node-heal",
    phase: "requested",
    ...extra,
  };
}

function view(entries: Replacement[]) {
  return {
    entries,
    budgets: (now: Date, paused: boolean) =>
      replaceBudgets(entries, { gates: policy.gates, now, paused }),
    replacing: (name: string) => entries.some((r) => r.node === name && r.phase === "requested"),
  };
}

Deno.test("waitOf() says a drained node waits on maxReplacing, held by the node being replaced since its start", () => {
  const waiting = node("heal-worker2", {
    [ANNOTATIONS.step]: "drained",
    [ANNOTATIONS.replaceAt]: "2025-01-01T12:05:00Z",
  });
  const wait = waitOf(waiting, {
    policy,
    now: NOW,
    paused: false,
    nodes: [waiting],
    replacements: view([replacement("heal-worker")]),
  });
  assert.equal(wait?.gate, "maxReplacing");
  assert.equal(wait?.step, "replace");
  assert.deepEqual([wait?.used, wait?.max], [1, 1]);
  assert.deepEqual(wait?.holders, [{ node: "heal-worker", since: "2025-01-01T12:03:00Z" }]);
  assert.equal(wait?.recheck, "when a replacement ends");
  assert.match(wait!.message, /maxReplacing is 1, so heal-worker2 waits/);
});

Deno.test("waitOf() says nothing of a node whose replacement may start, or is not due", () => {
  const due = node("a", {
    [ANNOTATIONS.step]: "drained",
    [ANNOTATIONS.replaceAt]: "2025-01-01T12:05:00Z",
  });
  const later = node("b", {
    [ANNOTATIONS.step]: "drained",
    [ANNOTATIONS.replaceAt]: "2025-01-01T13:00:00Z",
  });
  const ctx = { policy, now: NOW, paused: false, nodes: [due, later], replacements: view([]) };
  assert.equal(waitOf(due, ctx), undefined);
  assert.equal(waitOf(later, ctx), undefined);
});

Deno.test("waitOf() says a cordoned node due to drain waits on maxConcurrent, naming the drain", () => {
  const draining = node("a", {
    [ANNOTATIONS.step]: "draining",
    [ANNOTATIONS.drainStartedAt]: "2025-01-01T12:08:00Z",
  });
  const due = node("b", {
    [ANNOTATIONS.step]: "cordoned",
    [ANNOTATIONS.drainAt]: "2025-01-01T12:09:00Z",
  });
  const wait = waitOf(due, { policy, now: NOW, paused: false, nodes: [draining, due] });
  assert.equal(wait?.gate, "maxConcurrent");
  assert.deepEqual(wait?.holders, [{ node: "a", since: "2025-01-01T12:08:00Z" }]);
  assert.equal(wait?.recheck, "when a drain ends");
});

Deno.test("stepSince() is the replacement's, the drain's, or the cordon's start", () => {
  const replacing = node("a", {
    [ANNOTATIONS.step]: "replacing",
    [ANNOTATIONS.drainStartedAt]: "2025-01-01T12:01:00Z",
    [ANNOTATIONS.replaceStartedAt]: "2025-01-01T12:03:00Z",
  });
  assert.equal(stepSince(replacing, readState(replacing)), "2025-01-01T12:03:00Z");
  const drained = node("b", {
    [ANNOTATIONS.step]: "drained",
    [ANNOTATIONS.drainStartedAt]: "2025-01-01T12:01:00Z",
  });
  assert.equal(stepSince(drained, readState(drained)), "2025-01-01T12:01:00Z");
  const cordoned = node("c", { [ANNOTATIONS.step]: "cordoned" });
  assert.equal(stepSince(cordoned, readState(cordoned)), "2025-01-01T12:00:00Z");
});

Deno.test("goneNodes() lists the replacements whose Node is gone, with the successor once it came", () => {
  const entries = [
    replacement("old", { phase: "replaced", endedAt: "2025-01-01T09:00:00Z", successor: "x" }),
    replacement("done", { phase: "replaced", endedAt: "2025-01-01T12:05:00Z", successor: "new" }),
    replacement("flying"),
    replacement("present"),
  ];
  const gone = goneNodes(entries, { present: (n) => n === "present", now: NOW });
  assert.deepEqual(gone.map((g) => [g.node, g.step, g.successor]), [
    ["done", "replaced", "new"],
    ["flying", "replacing", undefined],
  ]);
  assert.equal(gone[1].since, "2025-01-01T12:03:00Z");
});

Deno.test("ledgerTakeOuts() names gone Nodes taken out within the rate window", () => {
  const entries = [replacement("a"), replacement("b", { cordonedAt: "2025-01-01T08:00:00Z" })];
  const gone = goneNodes(entries, { present: () => false, now: NOW });
  assert.deepEqual(ledgerTakeOuts(gone, entries, { windowMs: 3_600_000, now: NOW }), ["a"]);
});

Deno.test("DecisionLog.add() with once tells a wait repeated on the same node once", () => {
  const log = new DecisionLog({ now: () => NOW, dryRun: false });
  const wait = {
    node: "b",
    alertname: "",
    fingerprint: "",
    status: "reconcile",
    outcome: "skipped",
    gate: "maxReplacing",
    message: "Waiting",
  };
  log.add(wait, { once: true });
  log.add(wait, { once: true });
  log.add({ ...wait, node: "c" }, { once: true });
  log.add({ ...wait, gate: "replaceRate" }, { once: true });
  assert.deepEqual(log.list().map((d) => `${d.node} ${d.gate}`), [
    "b maxReplacing",
    "c maxReplacing",
    "b replaceRate",
  ]);
});
