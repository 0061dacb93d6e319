import assert from "node:assert/strict";
import { alertOf } from "../../support/alerts.ts";
import { decide } from "../../../lib/decide/decide.ts";
import { ANNOTATIONS, readState } from "../../../lib/decide/node_state.ts";
import type { Alert } from "../../../lib/intake/alertmanager.ts";
import type { Node } from "../../../lib/base/node.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";

/** These cases are about ownership and holds: the safety gates (tests/unit/decide/gates_test.ts) stay open. */
const OPTS = {
  holdTtlMs: 4 * 3_600_000,
  policy: parsePolicy("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }"),
};

const NOW = new Date("2026-11-25T10:00:00Z");

function alert(
  status: Alert["status"],
  fingerprint = "fp1",
  extra: Record<string, string> = {},
): Alert {
  return alertOf(
    { alertname: "NodeHighCPU", heal: "true", instance: "172.18.0.3:9100", ...extra },
    { fingerprint, status, annotations: { summary: "CPU high" } },
  );
}

interface NodeOptions {
  cordoned?: boolean;
  labels?: Record<string, string>;
  holds?: Record<string, string>;
  owned?: boolean;
}

function node(o: NodeOptions = {}): Node {
  const annotations: Record<string, string> = {};
  if (o.owned) {
    annotations[ANNOTATIONS.cordonedBy] = "node-heal";
    annotations[ANNOTATIONS.cordonedAt] = "2026-11-25T09:00:00.000Z";
    annotations[ANNOTATIONS.step] = "cordoned";
  }
  if (o.holds) {
    annotations[ANNOTATIONS.alerts] = JSON.stringify(
      Object.fromEntries(
        Object.entries(o.holds).map((
          [fp, name],
        ) => [fp, { alertname: name, since: "2026-11-25T09:00:00.000Z" }]),
      ),
    );
  }
  return {
    metadata: { name: "heal-worker", resourceVersion: "42", labels: o.labels ?? {}, annotations },
    spec: o.cordoned ? { unschedulable: true } : {},
  };
}

type Expect = { act: string; event?: string } | { skip: string; event?: string };

const CASES: [string, Alert, Node, Expect][] = [
  [
    "a firing alert on a schedulable worker cordons it",
    alert("firing"),
    node(),
    { act: "cordon", event: "NodeHealCordoned" },
  ],
  [
    "a firing alert on a control-plane node is skipped as protected",
    alert("firing"),
    node({ labels: { "node-role.kubernetes.io/control-plane": "" } }),
    { skip: "protected", event: "NodeHealSkipped" },
  ],
  [
    "the legacy master role label protects too",
    alert("firing"),
    node({ labels: { "node-role.kubernetes.io/master": "" } }),
    { skip: "protected", event: "NodeHealSkipped" },
  ],
  [
    "a node labelled node-heal.io/exclude=true is skipped as excluded",
    alert("firing"),
    node({ labels: { "node-heal.io/exclude": "true" } }),
    { skip: "excluded", event: "NodeHealSkipped" },
  ],
  [
    "an alert without heal=true is skipped by policy, without an Event",
    alert("firing", "fp1", { heal: "false" }),
    node(),
    { skip: "policy" },
  ],
  [
    "a node cordoned by someone else is left alone",
    alert("firing"),
    node({ cordoned: true }),
    { skip: "notOurs", event: "NodeHealSkipped" },
  ],
  [
    "a repeated delivery of a held alert is a duplicate, without an Event",
    alert("firing"),
    node({ cordoned: true, owned: true, holds: { fp1: "NodeHighCPU" } }),
    { skip: "duplicate" },
  ],
  [
    "a second alert on a node node-heal cordoned joins the hold",
    alert("firing", "fp2"),
    node({ cordoned: true, owned: true, holds: { fp1: "NodeHighCPU" } }),
    { act: "hold" },
  ],
  [
    "a node someone uncordoned after node-heal's cordon is respected while the alert fires",
    alert("firing"),
    node({ owned: true, holds: { fp1: "NodeHighCPU" } }),
    { skip: "manualUncordon", event: "NodeHealSkipped" },
  ],
  [
    "the last holding alert resolving uncordons",
    alert("resolved"),
    node({ cordoned: true, owned: true, holds: { fp1: "NodeHighCPU" } }),
    { act: "uncordon", event: "NodeHealUncordoned" },
  ],
  [
    "a resolved alert while another still holds keeps the cordon",
    alert("resolved"),
    node({ cordoned: true, owned: true, holds: { fp1: "NodeHighCPU", fp2: "NodeDiskFull" } }),
    { act: "release", event: "NodeHealSkipped" },
  ],
  [
    "a resolved alert never uncordons a node cordoned by someone else",
    alert("resolved"),
    node({ cordoned: true }),
    { skip: "notOurs", event: "NodeHealSkipped" },
  ],
  [
    "a resolved alert that holds nothing does nothing",
    alert("resolved"),
    node(),
    { skip: "notHeld" },
  ],
  [
    "a resolved alert on a node someone uncordoned forgets node-heal's state",
    alert("resolved"),
    node({ owned: true, holds: { fp1: "NodeHighCPU" } }),
    { act: "forget" },
  ],
  [
    "a resolved alert on a protected node node-heal never touched does nothing",
    alert("resolved"),
    node({ labels: { "node-role.kubernetes.io/control-plane": "" } }),
    { skip: "notHeld" },
  ],
];

for (const [name, a, n, expected] of CASES) {
  Deno.test(`decide(): ${name}`, () => {
    const d = decide(a, n, { ...OPTS, now: NOW });
    if ("act" in expected) {
      assert.equal(d.kind, "act", d.message);
      assert.equal(d.kind === "act" && d.action, expected.act);
    } else {
      assert.equal(d.kind, "skip", d.message);
      assert.equal(d.kind === "skip" && d.gate, expected.skip);
    }
    assert.equal(d.event?.reason, expected.event);
    assert.equal(d.node, "heal-worker");
    assert.match(d.message, /heal-worker/);
  });
}

Deno.test("decide() cordons with ownership annotations and the resourceVersion it read", () => {
  const d = decide(alert("firing"), node(), { ...OPTS, now: NOW });
  assert.equal(d.kind, "act");
  if (d.kind !== "act") return;
  assert.deepEqual(d.patch, {
    metadata: {
      resourceVersion: "42",
      annotations: {
        "node-heal.io/cordoned-by": "node-heal",
        "node-heal.io/cordoned-at": "2026-11-25T10:00:00.000Z",
        "node-heal.io/step": "cordoned",
        "node-heal.io/remediated-at": '["2026-11-25T10:00:00.000Z"]',
        "node-heal.io/alerts": JSON.stringify({
          fp1: {
            alertname: "NodeHighCPU",
            since: "2026-11-25T10:00:00.000Z",
            seen: "2026-11-25T10:00:00.000Z",
          },
        }),
      },
    },
    spec: { unschedulable: true },
  });
  assert.equal(
    d.event?.message,
    "Cordoned heal-worker for alert NodeHighCPU (fingerprint fp1): CPU high",
  );
});

Deno.test("decide() uncordons by removing every node-heal annotation", () => {
  const d = decide(
    alert("resolved"),
    node({ cordoned: true, owned: true, holds: { fp1: "NodeHighCPU" } }),
    { holdTtlMs: 4 * 3_600_000, now: NOW },
  );
  assert.equal(d.kind === "act" && d.action, "uncordon");
  if (d.kind !== "act") return;
  assert.deepEqual(d.patch.spec, { unschedulable: null });
  const {
    "node-heal.io/released-at": released,
    "node-heal.io/outcomes": outcomes,
    ...state
  } = d.patch.metadata.annotations ?? {};
  assert.ok(Object.keys(state).length >= 4);
  assert.equal(JSON.parse(outcomes ?? "[]")[0]?.outcome, "recovered", "its outcome is kept");
  assert.ok(Object.values(state).every((v) => v === null), "every state annotation is removed");
  assert.equal(released, NOW.toISOString(), "the release is kept for the cooldown gate");
});

Deno.test("decide() releasing one of two alerts keeps the other in the hold", () => {
  const d = decide(
    alert("resolved"),
    node({ cordoned: true, owned: true, holds: { fp1: "NodeHighCPU", fp2: "NodeDiskFull" } }),
    { holdTtlMs: 4 * 3_600_000, now: NOW },
  );
  assert.equal(d.kind, "act");
  if (d.kind !== "act") return;
  const after = readState({
    metadata: { name: "n", annotations: d.patch.metadata.annotations as Record<string, string> },
  });
  assert.deepEqual(Object.keys(after.holds), ["fp2"]);
  assert.match(d.message, /still held by NodeDiskFull/);
});

Deno.test("readState() treats a damaged alerts annotation as holding nothing", () => {
  const state = readState({
    metadata: { name: "n", annotations: { [ANNOTATIONS.alerts]: "{not json" } },
  });
  assert.deepEqual(state.holds, {});
  assert.equal(state.owned, false);
});
