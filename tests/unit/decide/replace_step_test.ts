// The replace step decided: when it is due, what its gates say, what it writes on the Node.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import { endDrain } from "../../../lib/decide/drain_step.ts";
import { reconcile } from "../../../lib/decide/reconcile.ts";
import { decide } from "../../../lib/decide/decide.ts";
import { replaceBudgets, type ReplaceView } from "../../../lib/decide/replacements.ts";
import { endReplace, startReplace } from "../../../lib/decide/replace_step.ts";
import { workerNode } from "../../fakes/fake_client.ts";
import { alertOf } from "../../support/alerts.ts";
import type { Node } from "../../../lib/base/node.ts";

const policy = parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replaceAfter: 10m
    replace: { provider: karpenter }
acknowledge: [minHealthyZero]
gates: { minHealthy: 0 }
`);
const NOW = new Date("2026-06-01T12:00:00Z");
const view = (inFlight: string[] = []): ReplaceView => ({
  budgets: (now, paused) =>
    replaceBudgets([], { gates: policy.gates, now, paused, reserved: inFlight }),
  replacing: (name) => inFlight.includes(name),
});

function at(node: Node, annotations: Record<string, string>): Node {
  return { ...node, metadata: { ...node.metadata, annotations: { ...annotations } } };
}

function drained(extra: Record<string, string> = {}): Node {
  const n = workerNode("w1");
  n.spec = { unschedulable: true };
  return at(n, {
    [ANNOTATIONS.cordonedBy]: "node-heal",
    [ANNOTATIONS.step]: "drained",
    [ANNOTATIONS.target]: "replace",
    [ANNOTATIONS.rule]: "heal",
    [ANNOTATIONS.alerts]: JSON.stringify({
      fp: { alertname: "A", since: NOW.toISOString(), seen: NOW.toISOString() },
    }),
    ...extra,
  });
}

const options = (extra = {}) => ({
  now: NOW,
  holdTtlMs: 4 * 3_600_000,
  policy,
  replacements: view(),
  ...extra,
});

Deno.test("a replace alert asks for the whole ladder on the cordon: target replace", () => {
  const d = decide(
    alertOf({ heal: "true", heal_action: "replace", instance: "10.0.0.1:9100" }, {
      fingerprint: "fp",
    }),
    workerNode("w1"),
    options(),
  );
  assert.equal(d.kind === "act" && d.action, "cordon");
  assert.equal(d.kind === "act" && d.patch.metadata.annotations?.[ANNOTATIONS.target], "replace");
});

Deno.test("the end of a drain asked to replace sets replace-at replaceAfter later, and the replacement is due then", () => {
  const draining = at(drained(), {
    ...drained().metadata.annotations,
    [ANNOTATIONS.step]: "draining",
  });
  const end = endDrain(draining, { outcome: "failed", blocking: 1, evicted: 0, message: "m" }, {
    now: NOW,
    policy,
  });
  const replaceAt = end?.kind === "act" && end.patch.metadata.annotations?.[ANNOTATIONS.replaceAt];
  assert.equal(replaceAt, "2026-06-01T12:10:00.000Z");
  const node = drained({ [ANNOTATIONS.replaceAt]: replaceAt as string });
  assert.equal(reconcile(node, options()), undefined, "not yet due");
  const later = new Date(NOW.getTime() + 600_000);
  const d = reconcile(node, options({ now: later }));
  assert.equal(d?.kind === "act" && d.action, "replace");
  assert.equal(d?.kind === "act" && d.event?.reason, "NodeHealReplaceStarted");
  assert.equal(d?.kind === "act" && d.patch.metadata.annotations?.[ANNOTATIONS.step], "replacing");
});

Deno.test("startReplace() names the gate that blocks, never replaces the control plane, and leaves a Node being replaced alone", () => {
  const node = drained({ [ANNOTATIONS.replaceAt]: NOW.toISOString() });
  const blocked = startReplace(node, NOW, options({ replacements: view(["w7"]) }));
  assert.equal(blocked?.kind === "skip" && blocked.gate, "maxReplacing");
  assert.equal(blocked?.kind === "skip" && blocked.event?.reason, "NodeHealSkipped");
  assert.equal(startReplace(node, NOW, options({ paused: true }))?.kind === "skip", true);
  assert.equal(startReplace(node, NOW, options({ replacements: view(["w1"]) })), undefined);
  const cp = {
    ...node,
    metadata: { ...node.metadata, labels: { "node-role.kubernetes.io/control-plane": "" } },
  };
  const d = startReplace(cp, NOW, options());
  assert.equal(d?.kind === "skip" && d.gate, "protected");
});

Deno.test("a Node being replaced is the replacer's: reconcile leaves it, a resolution keeps it cordoned, a failure is written", () => {
  const node = drained({ [ANNOTATIONS.step]: "replacing" });
  assert.equal(
    reconcile(node, options({ now: new Date(NOW.getTime() + 10 * 3_600_000) })),
    undefined,
  );
  const d = decide(
    alertOf({ heal: "true", instance: "10.0.0.1:9100" }, { fingerprint: "fp", status: "resolved" }),
    node,
    options(),
  );
  assert.equal(d.kind === "act" && d.action, "release");
  assert.equal(d.kind === "act" && d.patch.spec, undefined, "no uncordon");
  const failed = endReplace(node, "no successor");
  assert.equal(
    failed?.kind === "act" && failed.patch.metadata.annotations?.[ANNOTATIONS.step],
    "replace-failed",
  );
  assert.equal(endReplace(drained(), "x"), undefined);
});
