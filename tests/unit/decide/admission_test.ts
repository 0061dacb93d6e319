// What the index takes in of a Node's node-heal.io state (lib/decide/admission.ts): sealed and
// sound, or nothing; what it drops is told once each, and nothing it reads makes it throw.
import assert from "node:assert/strict";
import fc from "fast-check";
import { StateAdmission } from "../../../lib/decide/admission.ts";
import { sealPatch, StateSeal } from "../../../lib/decide/seal.ts";
import {
  ANNOTATIONS,
  HISTORY,
  readState,
  remediations,
  STATE_KEYS,
} from "../../../lib/decide/node_state.ts";
import type { Finding } from "../../../lib/report/untrusted.ts";
import type { Node } from "../../../lib/base/node.ts";

const NOW = new Date("2026-12-06T12:00:00Z");
const seal = new StateSeal(new Uint8Array(32).fill(1));

function node(annotations: Record<string, string>): Node {
  return { metadata: { name: "w1", uid: "u1", annotations }, spec: { unschedulable: true } };
}

/** `annotations` written and sealed by node-heal. */
function sealed(annotations: Record<string, string>): Node {
  const n = node({});
  const patch = sealPatch(n, { metadata: { annotations } }, seal);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(patch.metadata.annotations!)) if (v !== null) out[k] = v;
  return node(out);
}

function admission(withSeal = true) {
  const findings: Finding[] = [];
  const a = new StateAdmission({
    ...(withSeal ? { seal } : {}),
    report: (f) => findings.push(f),
    now: () => NOW,
  });
  return { a, findings };
}

Deno.test("state node-heal did not seal is taken in as nobody's: not owned, no holds, no history", () => {
  const { a, findings } = admission();
  const forged = node({
    [ANNOTATIONS.cordonedBy]: "node-heal",
    [ANNOTATIONS.step]: "draining",
    [HISTORY.remediatedAt]: '["2026-12-06T11:59:00Z"]',
    "cluster.x-k8s.io/machine": "m1",
  });
  const admitted = a.admit(forged);
  assert.deepEqual(admitted.metadata.annotations, { "cluster.x-k8s.io/machine": "m1" });
  assert.equal(readState(admitted).owned, false);
  assert.deepEqual(remediations(admitted), []);
  assert.deepEqual(findings.map((f) => [f.kind, f.reason, f.node]), [
    ["node-state", "unsealed", "w1"],
  ]);
  // Sealed by node-heal: taken in as it is.
  const ours = sealed({ [ANNOTATIONS.cordonedBy]: "node-heal", [ANNOTATIONS.step]: "draining" });
  assert.equal(a.admit(ours), ours);
});

Deno.test("hostile values of node-heal's annotations are dropped, each told, and nothing throws", () => {
  const { a, findings } = admission(false);
  const many = Object.fromEntries(
    Array.from(
      { length: 10_000 },
      (_, i) => [`fp${i}`, { alertname: "X", since: NOW.toISOString() }],
    ),
  );
  const cases: Record<string, string>[] = [
    { [ANNOTATIONS.alerts]: '{"x":null}' },
    { [ANNOTATIONS.alerts]: '{"x":{"alertname":7,"since":[]}}' },
    { [ANNOTATIONS.alerts]: JSON.stringify(many).slice(0, 30_000) + "}" },
    { [ANNOTATIONS.alerts]: JSON.stringify(Object.fromEntries(Object.entries(many).slice(0, 40))) },
    { [ANNOTATIONS.alerts]: "not json" },
    { [ANNOTATIONS.alerts]: "[1,2,3]" },
    { [ANNOTATIONS.overflow]: '{"seen":"2099-01-01T00:00:00Z","fingerprints":[],"unlisted":true}' },
    { [HISTORY.remediatedAt]: JSON.stringify(Array(9000).fill("2026-12-06T11:00:00Z")) },
    { [HISTORY.remediatedAt]: '["2099-01-01T00:00:00Z","2026-12-06T11:00:00Z"]' },
    { [HISTORY.releasedAt]: "2099-01-01T00:00:00Z" },
    { [ANNOTATIONS.step]: "exploding" },
    { [ANNOTATIONS.drainEvicted]: "-1" },
    { [HISTORY.resolved]: '{"fp":{"startsAt":{},"at":"x"}}' },
  ];
  for (const annotations of cases) {
    const admitted = a.admit(node({ [ANNOTATIONS.cordonedBy]: "node-heal", ...annotations }));
    const state = readState(admitted);
    assert.equal(state.owned, true, JSON.stringify(annotations).slice(0, 80));
    assert.ok(Object.values(state.holds).every((h) => typeof h.alertname === "string"));
    assert.ok(remediations(admitted).every((t) => t <= NOW.getTime()));
  }
  // One more valid hold survives next to a malformed one.
  const mixed = a.admit(
    node({
      [ANNOTATIONS.alerts]: JSON.stringify({
        ok: { alertname: "A", since: NOW.toISOString() },
        bad: null,
      }),
    }),
  );
  assert.deepEqual(Object.keys(readState(mixed).holds), ["ok"]);
  assert.deepEqual(remediations(a.admit(node(cases[8]))), [Date.parse("2026-12-06T11:00:00Z")]);
  const reasons = new Set(findings.map((f) => f.reason));
  for (const r of ["schema", "too-large", "too-many", "not-json", "future-time"]) {
    assert.ok(reasons.has(r), `${r}: ${[...reasons]}`);
  }
  for (const f of findings) assert.ok(f.message.length < 400, "never the value whole");
});

Deno.test("readState() never throws on what anyone writes, even without admission", () => {
  for (
    const raw of [
      '{"x":null}',
      "[]",
      "null",
      "{",
      '{"__proto__":{"alertname":"A"}}',
      "9".repeat(40_000),
    ]
  ) {
    const n = node({
      [ANNOTATIONS.alerts]: raw,
      [HISTORY.remediatedAt]: raw,
      [HISTORY.resolved]: raw,
    });
    readState(n);
    remediations(n);
  }
});

Deno.test("a seal of a seal's length in characters but not in bytes is no seal, and throws nothing", () => {
  const { a, findings } = admission();
  // 67 characters as a seal is, 68 bytes: once a throw of the comparison, and of every upsert after.
  const forged = node({
    [ANNOTATIONS.cordonedBy]: "node-heal",
    [ANNOTATIONS.step]: "cordoned",
    "node-heal.io/seal": `v1.${"0".repeat(63)}é`,
  });
  const admitted = a.admit(forged);
  assert.equal(admitted.metadata.annotations?.[ANNOTATIONS.step], undefined);
  assert.equal(readState(admitted).owned, false);
  assert.deepEqual(findings.map((f) => f.reason), ["seal"]);
});

Deno.test("a Node whose state cannot be read at all is taken in without it and told, never thrown", () => {
  const findings: Finding[] = [];
  const broken = new StateAdmission({
    seal: {
      verify: () => {
        throw new Error("a bug");
      },
    } as unknown as StateSeal,
    report: (f) => findings.push(f),
    now: () => NOW,
  });
  const n = node({
    [ANNOTATIONS.cordonedBy]: "node-heal",
    [ANNOTATIONS.step]: "cordoned",
    "node-heal.io/seal": `v1.${"0".repeat(64)}`,
    "kubelet.example/other": "kept",
  });
  const admitted = broken.admit(n);
  assert.deepEqual(admitted.metadata.annotations, { "kubelet.example/other": "kept" });
  assert.equal(findings.length, 1);
  assert.equal(findings[0].reason, "error");
  assert.match(findings[0].message, /could not read its state on w1 \(a bug\)/);
});

Deno.test("whatever a Node's node-heal.io annotations hold, admission reads them without a bug", () => {
  // Any text in any of node-heal's keys and its seal, forged or sealed: none is ever taken in
  // through the safety net for a state that cannot be read ("error"), and none throws.
  const value = fc.oneof(
    fc.string({ unit: "binary", maxLength: 80 }),
    fc.json({ maxDepth: 3 }),
    fc.constantFrom("v1." + "0".repeat(63) + "é", "v1." + "a".repeat(64), "", "null", "[]", "{}"),
  );
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom(...STATE_KEYS, "node-heal.io/seal"), value),
      fc.boolean(),
      (annotations, reseal) => {
        const { a, findings } = admission();
        const n = reseal ? sealed(annotations) : node(annotations);
        const admitted = a.admit(n);
        readState(admitted);
        assert.ok(!findings.some((f) => f.reason === "error"), JSON.stringify(findings));
      },
    ),
    { numRuns: 400 },
  );
});
