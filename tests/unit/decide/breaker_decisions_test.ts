// What an open breaker changes in the decisions: a cordon still happens (within its budgets), a
// drain or a replacement of the domain does not start, a running one halts; a closed breaker
// paces what it held.
import assert from "node:assert/strict";
import { alertOf } from "../../support/alerts.ts";
import { decide } from "../../../lib/decide/decide.ts";
import { startDrain } from "../../../lib/decide/drain_step.ts";
import { reconcile } from "../../../lib/decide/reconcile.ts";
import { startReplace } from "../../../lib/decide/replace_step.ts";
import { Breakers } from "../../../lib/decide/breaker.ts";
import { ANNOTATIONS, readState } from "../../../lib/decide/node_state.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { replaceBudgets } from "../../../lib/decide/replacements.ts";
import type { Node } from "../../../lib/base/node.ts";

const NOW = new Date("2026-12-06T10:00:00Z");
const ZONE = "topology.kubernetes.io/zone";
const HOLD_TTL = 4 * 3_600_000;

const POLICY = parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    drainAfter: 10m
    replace: { provider: karpenter }
acknowledge: [noHealOptIn, minHealthyZero]
gates:
  minHealthy: 0
  breaker: { key: ${ZONE}, alerting: 3, within: 5m, quiet: 15m }
`);

function worker(name: string, zone: string, annotations: Record<string, string> = {}): Node {
  const ours = Object.keys(annotations).length > 0;
  return {
    metadata: { name, resourceVersion: "7", labels: { [ZONE]: zone }, annotations },
    spec: ours ? { unschedulable: true } : {},
    status: { conditions: [{ type: "Ready", status: "True" }] },
  };
}

/** node-heal's state on a Node it cordoned at 09:00 and asked to drain at 09:10, held by fp1. */
function cordoned(step = "cordoned", extra: Record<string, string> = {}): Record<string, string> {
  return {
    [ANNOTATIONS.cordonedBy]: "node-heal",
    [ANNOTATIONS.cordonedAt]: "2026-12-06T09:00:00.000Z",
    [ANNOTATIONS.step]: step,
    [ANNOTATIONS.target]: "replace",
    [ANNOTATIONS.rule]: "heal",
    [ANNOTATIONS.drainAt]: "2026-12-06T09:10:00.000Z",
    [ANNOTATIONS.alerts]: JSON.stringify({
      fp1: { alertname: "NodeDown", since: "2026-12-06T09:00:00.000Z", seen: NOW.toISOString() },
    }),
    ...extra,
  };
}

/** Breakers with zone a's open: three of its nodes began alerting within a minute. */
function openInA(): Breakers {
  const b = new Breakers(POLICY.gates.breaker, { holdTtlMs: HOLD_TTL });
  for (const n of ["a1", "a2", "a3"]) b.seen(worker(n, "a"), "storm", NOW);
  assert.equal(b.update(NOW)[0].change, "opened");
  return b;
}

const OPTIONS = { now: NOW, holdTtlMs: HOLD_TTL, policy: POLICY, instance: "r1", nodes: [] };

Deno.test("an open breaker never blocks a cordon: the Node of its zone is still taken out", () => {
  const alert = alertOf({ alertname: "NodeDown", heal: "true", node: "a4" }, { fingerprint: "x" });
  const a4 = worker("a4", "a");
  const d = decide(alert, a4, { ...OPTIONS, nodes: [a4], breakers: openInA() });
  assert.equal(d.kind === "act" && d.action, "cordon");
  if (d.kind !== "act") return;
  assert.equal(d.patch.spec?.unschedulable, true);
  assert.equal(d.patch.metadata.annotations?.[ANNOTATIONS.step], "cordoned");
});

Deno.test("startDrain() with its zone's breaker open skips with gate breaker and an Event", () => {
  const node = worker("a4", "a", cordoned());
  const d = startDrain(node, NOW, { ...OPTIONS, breakers: openInA() });
  assert.equal(d.kind, "skip");
  if (d.kind !== "skip") return;
  assert.equal(d.gate, "breaker");
  assert.match(
    d.event!.message,
    /^Not draining a4: the breaker of zone a is open: 3 nodes alerted within 5m \(a1, a2, a3\), taken as a domain problem; it stays cordoned \(gate breaker\)$/,
  );
  assert.equal(d.event!.type, "Warning");
  // The other zone's Node drains.
  const b = startDrain(worker("b1", "b", cordoned()), NOW, { ...OPTIONS, breakers: openInA() });
  assert.equal(b.kind === "act" && b.action, "drain");
});

Deno.test("a running drain in the zone halts when the breaker opens, back to step cordoned", () => {
  const running = worker(
    "a4",
    "a",
    cordoned("draining", {
      [ANNOTATIONS.drainer]: "r1",
      [ANNOTATIONS.drainStartedAt]: "2026-12-06T09:10:00.000Z",
      [ANNOTATIONS.drainHeartbeat]: "2026-12-06T09:59:50.000Z",
    }),
  );
  const d = startDrain(running, NOW, { ...OPTIONS, breakers: openInA(), resume: true });
  assert.equal(d.kind === "act" && d.action, "drain-halt");
  if (d.kind !== "act") return;
  assert.equal(d.gate, "breaker");
  assert.equal(d.patch.metadata.annotations?.[ANNOTATIONS.step], "cordoned");
  assert.equal(d.patch.metadata.annotations?.[ANNOTATIONS.drainer], null);
  assert.equal(d.patch.metadata.annotations?.[ANNOTATIONS.target], undefined, "still asked for");
});

Deno.test("reconcile() of a cordoned Node whose drain is due does not start it while the breaker is open", () => {
  const node = worker("a4", "a", cordoned());
  assert.equal(readState(node).step, "cordoned");
  const open = reconcile(node, { ...OPTIONS, breakers: openInA() });
  assert.equal(open?.kind, "skip");
  assert.equal(open?.kind === "skip" && open.gate, "breaker");
  const closed = reconcile(node, {
    ...OPTIONS,
    breakers: new Breakers(POLICY.gates.breaker, { holdTtlMs: HOLD_TTL }),
  });
  assert.equal(closed?.kind === "act" && closed.action, "drain");
});

Deno.test("once the breaker closed, a held drain waits its turn (gate breaker, Waiting to drain)", () => {
  const b = openInA();
  const a4 = worker("a4", "a", cordoned());
  b.seen(a4, "own", NOW);
  b.heldBack(a4);
  b.heldBack(worker("a1", "a"));
  for (const n of ["a2", "a3"]) b.resolved(n, "storm");
  const later = new Date(NOW.getTime() + 15 * 60_000);
  b.seen(a4, "own", later);
  b.seen(worker("a1", "a"), "storm", later);
  assert.equal(b.update(later)[0].change, "closed");
  b.escalated(worker("a1", "a"), later);
  const d = startDrain(a4, later, { ...OPTIONS, breakers: b });
  assert.equal(d.kind === "skip" && d.gate, "breaker");
  assert.match(
    d.kind === "skip" ? d.event!.message : "",
    /^Waiting to drain a4: the breaker of zone a closed .* a4 starts in 60s at the earliest \(gate breaker\)$/,
  );
});

Deno.test("startReplace() with its zone's breaker open waits (gate breaker)", () => {
  const node = worker(
    "a4",
    "a",
    cordoned("drained", { [ANNOTATIONS.replaceAt]: "2026-12-06T09:30:00.000Z" }),
  );
  const replacements = {
    budgets: (now: Date, paused: boolean) =>
      replaceBudgets([], { gates: POLICY.gates, now, paused }),
    replacing: () => false,
  };
  const d = startReplace(node, NOW, { ...OPTIONS, replacements, breakers: openInA() });
  assert.equal(d?.kind === "skip" && d.gate, "breaker");
  assert.match(
    d?.kind === "skip" ? d.message : "",
    /^Waiting to replace a4: the breaker of zone a is open/,
  );
  const free = startReplace(node, NOW, {
    ...OPTIONS,
    replacements,
    breakers: new Breakers(POLICY.gates.breaker, { holdTtlMs: HOLD_TTL }),
  });
  assert.equal(free?.kind === "act" && free.action, "replace");
});
