import assert from "node:assert/strict";
import { alertOf } from "../../support/alerts.ts";
import {
  budgets,
  checkTakeOut,
  type Gate,
  GATES,
  protection,
  required,
} from "../../../lib/decide/gates.ts";
import { SKIP_REASONS } from "../../../lib/decide/decision.ts";
import { decide } from "../../../lib/decide/decide.ts";
import { DEFAULT_POLICY, type Gates, parsePolicy } from "../../../lib/decide/policy.ts";
import type { Alert } from "../../../lib/intake/alertmanager.ts";
import type { Node } from "../../../lib/base/node.ts";

const NOW = new Date("2026-11-25T12:00:00Z");
const gates = (g: Partial<Gates> = {}): Gates => ({ ...DEFAULT_POLICY.gates, ...g });
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

interface NodeSpec {
  cordoned?: boolean;
  notReady?: boolean;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function node(name: string, o: NodeSpec = {}): Node {
  return {
    metadata: {
      name,
      resourceVersion: "1",
      labels: o.labels ?? {},
      annotations: o.annotations ?? {},
    },
    spec: o.cordoned ? { unschedulable: true } : {},
    status: { conditions: [{ type: "Ready", status: o.notReady ? "False" : "True" }] },
  };
}

function workers(n: number, o: (i: number) => NodeSpec = () => ({})): Node[] {
  return Array.from({ length: n }, (_, i) => node(`w${i + 1}`, o(i + 1)));
}

const controlPlane = node("cp", { labels: { "node-role.kubernetes.io/control-plane": "" } });

Deno.test("required() rounds percentages up and takes counts as they are", () => {
  const cases: [number, number | string, number][] = [
    [3, "51%", 2],
    [4, "51%", 3],
    [10, "51%", 6],
    [1, "51%", 1],
    [0, "51%", 0],
    [3, "100%", 3],
    [3, "0%", 0],
    [7, "50%", 4],
    [5, 2, 2],
  ];
  for (const [n, min, want] of cases) assert.equal(required(n, min), want, `${min} of ${n}`);
});

type Case = [
  name: string,
  target: Node,
  cluster: Node[],
  g: Partial<Gates>,
  paused: boolean,
  gate?: string,
];

const w3 = workers(3);
const CASES: Case[] = [
  [
    "3 workers, 51%: the first cordon is allowed",
    w3[0],
    [controlPlane, ...w3],
    {},
    false,
    undefined,
  ],
  [
    "3 workers, 51%, one already out: the second is blocked",
    w3[1],
    [controlPlane, node("w1", { cordoned: true }), w3[1], w3[2]],
    {},
    false,
    "minHealthy",
  ],
  [
    "a node cordoned by hand counts as unavailable",
    w3[0],
    [controlPlane, w3[0], w3[1], node("w3", { cordoned: true })],
    {},
    false,
    "minHealthy",
  ],
  [
    "a NotReady node counts as unavailable",
    w3[0],
    [controlPlane, w3[0], w3[1], node("w3", { notReady: true })],
    {},
    false,
    "minHealthy",
  ],
  [
    "taking out a node that is already unavailable costs nothing",
    node("w3", { notReady: true }),
    [controlPlane, node("w1", { cordoned: true }), w3[1], node("w3", { notReady: true })],
    {},
    false,
    undefined,
  ],
  [
    "a single worker is never taken out at 51%",
    w3[0],
    [controlPlane, w3[0]],
    {},
    false,
    "minHealthy",
  ],
  ["minHealthy 0 allows the last worker", w3[0], [w3[0]], { minHealthy: 0 }, false, undefined],
  [
    "all nodes already unavailable: an available one cannot go",
    w3[0],
    [w3[0], node("w2", { cordoned: true }), node("w3", { notReady: true })],
    { minHealthy: 1 },
    false,
    "minHealthy",
  ],
  [
    "a count: 2 of 3 must stay",
    w3[0],
    [...w3],
    { minHealthy: 2 },
    false,
    undefined,
  ],
  [
    "the control plane is not counted among the selected nodes",
    w3[0],
    [controlPlane, w3[0], w3[1]],
    { minHealthy: "51%" },
    false,
    "minHealthy",
  ],
  ["paused blocks everything first", w3[0], [...w3], { minHealthy: 0 }, true, "paused"],
  [
    "rate: 5 remediations in the last hour block a sixth",
    w3[0],
    [
      ...w3,
      ...workers(5, () => ({ annotations: { "node-heal.io/remediated-at": ago(30 * 60_000) } }))
        .map((n, i) => ({ ...n, metadata: { ...n.metadata, name: `r${i}` } })),
    ],
    { minHealthy: 0 },
    false,
    "rate",
  ],
  [
    "rate: remediations older than the window do not count",
    w3[0],
    [
      ...w3,
      ...workers(5, () => ({ annotations: { "node-heal.io/remediated-at": ago(61 * 60_000) } }))
        .map((n, i) => ({ ...n, metadata: { ...n.metadata, name: `r${i}` } })),
    ],
    { minHealthy: 0 },
    false,
    undefined,
  ],
  [
    "cooldown: a node released 5 minutes ago waits",
    node("w1", { annotations: { "node-heal.io/released-at": ago(5 * 60_000) } }),
    [...w3],
    { minHealthy: 0 },
    false,
    "cooldown",
  ],
  [
    "cooldown: a node released 11 minutes ago may go",
    node("w1", { annotations: { "node-heal.io/released-at": ago(11 * 60_000) } }),
    [...w3],
    { minHealthy: 0 },
    false,
    undefined,
  ],
  [
    "gates combine: minHealthy is named before rate when both block",
    w3[0],
    [
      controlPlane,
      w3[0],
      ...workers(4, () => ({
        cordoned: true,
        annotations: { "node-heal.io/remediated-at": ago(60_000) },
      })).map((n, i) => ({ ...n, metadata: { ...n.metadata, name: `x${i}` } })),
    ],
    { rate: { max: 2, windowMs: 3_600_000 } },
    false,
    "minHealthy",
  ],
];

for (const [name, target, cluster, g, paused, gate] of CASES) {
  Deno.test(`checkTakeOut(): ${name}`, () => {
    const blocked = checkTakeOut(target, { nodes: cluster, gates: gates(g), now: NOW, paused });
    assert.equal(blocked?.gate, gate, blocked?.message ?? "");
    if (blocked) assert.match(blocked.message, new RegExp(target.metadata.name));
  });
}

Deno.test("protection(): control plane, exclude label and node selector", () => {
  assert.equal(protection(controlPlane, gates())?.gate, "protected");
  assert.equal(
    protection(node("m", { labels: { "node-role.kubernetes.io/master": "" } }), gates())?.gate,
    "protected",
  );
  assert.equal(
    protection(node("x", { labels: { "node-heal.io/exclude": "true" } }), gates())?.gate,
    "excluded",
  );
  const sel = gates({ nodeSelector: { pool: "general" } });
  assert.equal(protection(node("a", { labels: { pool: "gpu" } }), sel)?.gate, "protected");
  assert.match(
    protection(node("a", { labels: { pool: "gpu" } }), sel)!.message,
    /outside the node selector/,
  );
  assert.equal(protection(node("b", { labels: { pool: "general" } }), sel), undefined);
});

Deno.test("budgets() count from cluster truth what each gate has left", () => {
  const cluster = [
    controlPlane,
    node("w1", {
      cordoned: true,
      annotations: { "node-heal.io/remediated-at": ago(60_000), "node-heal.io/step": "draining" },
    }),
    node("w2"),
    node("w3"),
    node("w4", { annotations: { "node-heal.io/released-at": ago(60_000) } }),
  ];
  assert.deepEqual(budgets(cluster, { gates: gates(), now: NOW, paused: false }), {
    selected: 4,
    available: 3,
    minHealthy: { required: 3, canTakeOut: 0, heldByNodeHeal: 0 },
    rate: { max: 5, windowMs: 3_600_000, used: 1, left: 4 },
    cooldown: { ms: 600_000, nodes: ["w4"] },
    // w1 says it drains, but node-heal did not cordon it: it takes no drain slot.
    maxConcurrent: { max: 1, inFlight: 0 },
    paused: false,
  });
  assert.deepEqual(budgets([], { gates: gates(), now: NOW, paused: true }).minHealthy, {
    required: 0,
    canTakeOut: 0,
    heldByNodeHeal: 0,
  });
});

function alert(labels: Record<string, string>): Alert {
  return alertOf({ alertname: "NodeHighCPU", heal: "true", ...labels }, { fingerprint: "fp" });
}

Deno.test("decide() names the blocking gate in a NodeHealSkipped Event and never cordons past it", () => {
  const cluster = [controlPlane, node("w1", { cordoned: true }), node("w2"), node("w3")];
  const d = decide(alert({}), cluster[2], { now: NOW, holdTtlMs: 3_600_000, nodes: cluster });
  assert.equal(d.kind, "skip");
  assert.equal(d.kind === "skip" && d.gate, "minHealthy");
  assert.equal(d.event?.reason, "NodeHealSkipped");
  assert.match(d.event?.message ?? "", /minHealthy 51%/);
  const paused = decide(alert({}), cluster[2], {
    now: NOW,
    holdTtlMs: 3_600_000,
    nodes: cluster,
    paused: true,
  });
  assert.equal(paused.kind === "skip" && paused.gate, "paused");
});

Deno.test("decide() lets the policy choose: no rule, a none rule, a refused heal_action", () => {
  const policy = parsePolicy(`
rules:
  - { name: quiet, match: ['severity="info"'], actions: [none] }
  - { name: heal, match: ['heal="true"'], actions: [cordon] }
`);
  const opts = { holdTtlMs: 3_600_000, policy, nodes: workers(10) };
  const w = workers(1)[0];
  const gateOf = (labels: Record<string, string>) => {
    const d = decide(alert(labels), w, { ...opts, now: NOW });
    return d.kind === "skip" ? d.gate : d.action;
  };
  assert.equal(gateOf({}), "cordon");
  assert.equal(gateOf({ severity: "info" }), "policy");
  assert.equal(gateOf({ heal: "false" }), "policy");
  assert.equal(gateOf({ heal_action: "drain" }), "policy");
  assert.equal(gateOf({ heal_action: "cordon" }), "cordon");
});

Deno.test("releases pass no gate: a resolved alert uncordons even while paused or below minHealthy", () => {
  const held = node("w1", {
    cordoned: true,
    annotations: {
      "node-heal.io/cordoned-by": "node-heal",
      "node-heal.io/alerts": JSON.stringify({ fp: { alertname: "NodeHighCPU", since: ago(1000) } }),
    },
  });
  const d = decide({ ...alert({}), status: "resolved" }, held, {
    now: NOW,
    holdTtlMs: 3_600_000,
    nodes: [held],
    paused: true,
  });
  assert.equal(d.kind === "act" && d.action, "uncordon");
});

Deno.test("node-heal's own cordons count against minHealthy even on NotReady nodes, so a Ready-again cluster keeps enough", () => {
  const owned = (name: string) =>
    node(name, {
      cordoned: true,
      notReady: true,
      annotations: { "node-heal.io/cordoned-by": "node-heal" },
    });
  // w2 was cordoned by node-heal while NotReady; w3 is NotReady now. Cordoning w3 costs no
  // availability today, but with w2 and w3 Ready again only w1 would be left.
  const cluster = [controlPlane, node("w1"), owned("w2"), node("w3", { notReady: true })];
  const blocked = checkTakeOut(cluster[3], {
    nodes: cluster,
    gates: gates(),
    now: NOW,
    paused: false,
  });
  assert.equal(blocked?.gate, "minHealthy");
  assert.match(blocked!.message, /node-heal already holds 1 of 3 nodes/);
  assert.equal(
    budgets(cluster, { gates: gates(), now: NOW, paused: false }).minHealthy.heldByNodeHeal,
    1,
  );
});

Deno.test("rate counts every remediation in the window, not every node: one flapping node uses it up", () => {
  const times = [50, 40, 30, 20, 10].map((m) => ago(m * 60_000));
  const flapping = node("w1", {
    annotations: { "node-heal.io/remediated-at": JSON.stringify(times) },
  });
  const cluster = [flapping, node("w2"), node("w3")];
  assert.equal(budgets(cluster, { gates: gates(), now: NOW, paused: false }).rate.used, 5);
  assert.equal(
    checkTakeOut(cluster[1], {
      nodes: cluster,
      gates: gates({ minHealthy: 0 }),
      now: NOW,
      paused: false,
    })
      ?.gate,
    "rate",
  );
});

Deno.test("what one Node says about itself takes no budget from the others: a foreign drain, future times, a protected Node's history", () => {
  const ours = (name: string, extra: Record<string, string> = {}) =>
    node(name, {
      cordoned: true,
      annotations: { "node-heal.io/cordoned-by": "node-heal", ...extra },
    });
  const future = new Date(NOW.getTime() + 3_600_000).toISOString();
  const cluster = [
    controlPlane,
    // Drains, cordoned by node-heal: one slot.
    ours("w1", { "node-heal.io/step": "draining", "node-heal.io/remediated-at": ago(60_000) }),
    // Says it drains, not node-heal's cordon: none.
    node("w2", { cordoned: true, annotations: { "node-heal.io/step": "draining" } }),
    // Remediated in 2099, and five times an hour from now: never counted.
    node("w3", {
      annotations: {
        "node-heal.io/remediated-at": JSON.stringify([
          "2099-01-01T00:00:00Z",
          future,
          future,
          future,
          future,
        ]),
        "node-heal.io/released-at": future,
      },
    }),
    // Excluded: its history and its drain count for nothing.
    ours("w4", {
      "node-heal.io/step": "draining",
      "node-heal.io/remediated-at": JSON.stringify([ago(60_000), ago(120_000)]),
    }),
    node("w5"),
  ];
  cluster[4].metadata.labels = { ...cluster[4].metadata.labels, "node-heal.io/exclude": "true" };
  const b = budgets(cluster, { gates: gates(), now: NOW, paused: false });
  assert.equal(b.maxConcurrent.inFlight, 1);
  assert.equal(b.rate.used, 1);
  assert.equal(b.minHealthy.heldByNodeHeal, 1);
  assert.equal(b.selected, 4);
  // w3's release "in the future" sets no cooldown on it.
  const open = gates({ minHealthy: 0 });
  assert.equal(
    checkTakeOut(cluster[3], { nodes: cluster, gates: open, now: NOW, paused: false })?.gate,
    undefined,
  );
});

Deno.test("gates and skip reasons are distinct: no skip reason is named like a gate", () => {
  assert.ok(GATES.includes("maxConcurrent") && GATES.includes("protected"));
  for (const reason of SKIP_REASONS) assert.ok(!GATES.includes(reason as Gate), reason);
});
