// A drain decided earlier is decided again when it starts and before each eviction: a pause, a
// protection, an exclusion, or a rule renamed, removed or no longer draining stops it, and it
// never runs under another rule's settings.
import assert from "node:assert/strict";
import { drainHalt, runningDrainHalt } from "../../../lib/decide/halts.ts";
import { startDrain } from "../../../lib/decide/drain_step.ts";
import { reconcile } from "../../../lib/decide/reconcile.ts";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import type { Node } from "../../../lib/base/node.ts";

const NOW = new Date("2026-12-06T10:00:00Z");

const POLICY = parsePolicy(`
rules:
  - { name: heal, match: ['heal="true"'], actions: [drain], drainAfter: 10m }
  - name: other
    match: ['team="batch"']
    actions: [drain]
    drain: { evictStandalone: true }
acknowledge: [noHealOptIn, minHealthyZero]
gates: { minHealthy: 0 }
`);

/** A worker node-heal cordoned and asked to drain under `rule`, its drain due (or running). */
function node(
  o: { rule?: string; step?: string; drainer?: string; labels?: Record<string, string> } = {},
): Node {
  return {
    metadata: {
      name: "heal-worker",
      resourceVersion: "7",
      labels: { "kubernetes.io/hostname": "heal-worker", ...o.labels },
      annotations: {
        [ANNOTATIONS.cordonedBy]: "node-heal",
        [ANNOTATIONS.cordonedAt]: "2026-12-06T09:00:00.000Z",
        [ANNOTATIONS.step]: o.step ?? "cordoned",
        [ANNOTATIONS.target]: "drain",
        [ANNOTATIONS.rule]: o.rule ?? "heal",
        [ANNOTATIONS.drainAt]: "2026-12-06T09:10:00.000Z",
        [ANNOTATIONS.alerts]: JSON.stringify({
          fp1: {
            alertname: "NodeDown",
            since: "2026-12-06T09:00:00.000Z",
            seen: NOW.toISOString(),
          },
        }),
        ...(o.drainer
          ? {
            [ANNOTATIONS.drainer]: o.drainer,
            [ANNOTATIONS.drainStartedAt]: "2026-12-06T09:10:00.000Z",
            [ANNOTATIONS.drainHeartbeat]: "2026-12-06T09:59:50.000Z",
          }
          : {}),
      },
    },
    spec: { unschedulable: true },
  };
}

const OPTIONS = { now: NOW, holdTtlMs: 4 * 3_600_000, instance: "a" };

Deno.test("drainHalt() lets a drain go on only under its own rule, unpaused, on a node not protected", () => {
  assert.equal(drainHalt(node(), { policy: POLICY, paused: false }), undefined);
  assert.deepEqual(drainHalt(node(), { policy: POLICY, paused: true }), {
    gate: "paused",
    message: "node-heal is paused",
  });
  const excluded = drainHalt(node({ labels: { "node-heal.io/exclude": "true" } }), {
    policy: POLICY,
    paused: false,
  });
  assert.equal(excluded?.gate, "excluded");
  const selector = parsePolicy(`
rules: [{ name: heal, match: ['heal="true"'], actions: [drain] }]
acknowledge: [minHealthyZero]
gates: { minHealthy: 0, nodeSelector: { pool: gpu } }
`);
  const outside = drainHalt(node(), { policy: selector, paused: false });
  assert.equal(outside?.gate, "protected");
  assert.match(outside!.message, /outside the node selector \(pool=gpu\)/);
});

Deno.test("drainHalt() stops a drain whose rule was renamed, removed or no longer drains, and never falls back to another rule", () => {
  const renamed = parsePolicy(`
acknowledge: [noHealOptIn]
rules:
  - { name: heal-v2, match: ['heal="true"'], actions: [drain] }
  - { name: other, match: ['team="batch"'], actions: [drain], drain: { evictStandalone: true } }
`);
  assert.deepEqual(drainHalt(node(), { policy: renamed, paused: false }), {
    gate: "policy",
    message: 'its rule "heal" is no longer in the policy',
  });
  const cordonOnly = parsePolicy(
    `rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]`,
  );
  assert.deepEqual(drainHalt(node(), { policy: cordonOnly, paused: false }), {
    gate: "policy",
    message: 'rule "heal" no longer drains (actions: cordon)',
  });
});

Deno.test("runningDrainHalt() stops quietly a drain that is no longer this replica's: uncordoned, released, claimed by another", () => {
  const options = { policy: POLICY, paused: false, instance: "a" };
  assert.equal(runningDrainHalt(node({ step: "draining", drainer: "a" }), options), undefined);
  assert.equal(
    runningDrainHalt(node({ step: "draining", drainer: "b" }), options)?.gate,
    "notOurs",
  );
  const uncordoned = node({ step: "draining", drainer: "a" });
  uncordoned.spec = {};
  assert.equal(runningDrainHalt(uncordoned, options)?.gate, "notOurs");
  assert.equal(runningDrainHalt(undefined, options)?.gate, "notOurs");
  // Ours, but the policy says no: not quiet.
  assert.equal(
    runningDrainHalt(node({ step: "draining", drainer: "a" }), { ...options, paused: true })?.gate,
    "paused",
  );
});

Deno.test("a drain due while node-heal is paused does not start: a NodeHealDrainHalted Event says why, and it stays due", () => {
  const d = reconcile(node(), { ...OPTIONS, policy: POLICY, paused: true });
  assert.equal(d?.kind, "skip");
  assert.equal(d?.kind === "skip" && d.gate, "paused");
  assert.equal(d?.event?.reason, "NodeHealDrainHalted");
  assert.equal(d?.event?.type, "Warning");
  assert.equal(
    d?.event?.message,
    "Not draining heal-worker: node-heal is paused; it stays cordoned (gate paused)",
  );
  // Once the pause is lifted, the same node drains.
  const after = reconcile(node(), { ...OPTIONS, policy: POLICY, paused: false });
  assert.equal(after?.kind === "act" && after.action, "drain");
});

Deno.test("a drain due under a renamed rule is no longer asked for: the node stays cordoned, its target back to cordon", () => {
  const renamed = parsePolicy(`
acknowledge: [noHealOptIn]
rules:
  - { name: heal-v2, match: ['heal="true"'], actions: [drain] }
  - { name: other, match: ['team="batch"'], actions: [drain], drain: { evictStandalone: true } }
`);
  const d = startDrain(node(), NOW, { ...OPTIONS, policy: renamed });
  assert.equal(d.kind, "act");
  if (d.kind !== "act") return;
  assert.equal(d.action, "drain-halt");
  assert.equal(d.gate, "policy");
  assert.equal(d.drain, undefined, "no drain options: nothing is evicted");
  assert.deepEqual(d.patch.metadata.annotations, {
    [ANNOTATIONS.target]: "cordon",
    [ANNOTATIONS.drainAt]: null,
    [ANNOTATIONS.replaceAt]: null,
  });
  assert.equal(d.patch.spec, undefined, "it stays cordoned");
  assert.match(d.event!.message, /its rule "heal" is no longer in the policy; it stays cordoned/);
});

Deno.test("a running drain the policy halts goes back to step cordoned, its claim dropped, due again once allowed", () => {
  const running = node({ step: "draining", drainer: "a" });
  const d = startDrain(running, NOW, {
    ...OPTIONS,
    policy: POLICY,
    paused: false,
    resume: true,
  });
  assert.equal(d.kind === "act" && d.action, "drain", "allowed: resumed");
  const excluded = node({
    step: "draining",
    drainer: "a",
    labels: { "node-heal.io/exclude": "true" },
  });
  const halted = startDrain(excluded, NOW, { ...OPTIONS, policy: POLICY, resume: true });
  assert.equal(halted.kind === "act" && halted.action, "drain-halt");
  if (halted.kind !== "act") return;
  assert.equal(halted.gate, "excluded");
  assert.deepEqual(halted.patch.metadata.annotations, {
    [ANNOTATIONS.step]: "cordoned",
    [ANNOTATIONS.drainer]: null,
    [ANNOTATIONS.drainHeartbeat]: null,
    [ANNOTATIONS.drainAt]: "2026-12-06T09:10:00.000Z",
  });
  assert.match(
    halted.event!.message,
    /^Stopped draining heal-worker: heal-worker is labelled node-heal.io\/exclude=true; it stays cordoned \(gate excluded\)$/,
  );
});

Deno.test("a drain started again after a halt keeps its start time and its count of evicted pods", () => {
  const halted = node();
  halted.metadata.annotations![ANNOTATIONS.drainStartedAt] = "2026-12-06T09:10:00.000Z";
  halted.metadata.annotations![ANNOTATIONS.drainEvicted] = "3";
  const d = startDrain(halted, NOW, { ...OPTIONS, policy: POLICY });
  assert.equal(d.kind === "act" && d.action, "drain");
  if (d.kind !== "act") return;
  const a = d.patch.metadata.annotations!;
  assert.equal(a[ANNOTATIONS.drainStartedAt], "2026-12-06T09:10:00.000Z");
  assert.equal(Object.hasOwn(a, ANNOTATIONS.drainEvicted), false);
});

Deno.test("a drain halted while due (a pause, a protection) keeps no hold alive: its alert not seen for the hold TTL, the node is uncordoned, paused or not", () => {
  // The pause lasted past the hold TTL, and the alert's resolution was missed.
  const later = new Date(NOW.getTime() + OPTIONS.holdTtlMs + 60_000);
  for (
    const [why, n, paused] of [
      ["paused", node(), true],
      ["excluded", node({ labels: { "node-heal.io/exclude": "true" } }), false],
    ] as const
  ) {
    const d = reconcile(n, { ...OPTIONS, now: later, policy: POLICY, paused });
    assert.equal(d?.kind === "act" && d.action, "uncordon", `${why}: released as under no drain`);
  }
});

Deno.test("a drain due once its alert is taken as resolved (a pause outlasted the hold TTL) never starts: the node is uncordoned", () => {
  const later = new Date(NOW.getTime() + OPTIONS.holdTtlMs + 60_000);
  const d = reconcile(node(), { ...OPTIONS, now: later, policy: POLICY, paused: false });
  assert.equal(
    d?.kind === "act" && d.action,
    "uncordon",
    "no drain for an alert taken as resolved",
  );
});
