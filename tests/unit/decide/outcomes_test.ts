import assert from "node:assert/strict";
import fc from "fast-check";
import { alertOf } from "../../support/alerts.ts";
import { decide, reconcile } from "../../../lib/decide/decide.ts";
import { ANNOTATIONS, HISTORY } from "../../../lib/decide/node_state.ts";
import { parseAnnotations } from "../../../lib/decide/state_schema.ts";
import { MAX_OUTCOMES, type OutcomeRecord, outcomes } from "../../../lib/decide/outcomes.ts";
import { replacedInPlace } from "../../../lib/decide/replace_step.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import type { Node } from "../../../lib/base/node.ts";
import type { Decision } from "../../../lib/decide/decision.ts";

const OPTS = {
  holdTtlMs: 4 * 3_600_000,
  policy: parsePolicy("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }"),
};
const CORDONED_AT = "2026-11-25T09:00:00.000Z";
const NOW = new Date("2026-11-25T10:00:00Z");
const HOUR = 3_600_000;

function alert(status: "firing" | "resolved", name = "NodeHighCPU") {
  return alertOf({ alertname: name, heal: "true", instance: "172.18.0.3:9100" }, {
    fingerprint: "fp1",
    status,
  });
}

/** A Node node-heal holds for NodeHighCPU since 09:00, at `step`; `extra` annotations over it. */
function held(step = "cordoned", extra: Record<string, string> = {}): Node {
  return {
    metadata: {
      name: "w1",
      resourceVersion: "7",
      annotations: {
        [ANNOTATIONS.cordonedBy]: "node-heal",
        [ANNOTATIONS.cordonedAt]: CORDONED_AT,
        [ANNOTATIONS.step]: step,
        [ANNOTATIONS.alerts]: JSON.stringify({
          fp1: { alertname: "NodeHighCPU", since: CORDONED_AT, seen: NOW.toISOString() },
        }),
        ...extra,
      },
    },
    spec: { unschedulable: true },
  };
}

/** A Node node-heal holds at step drain-failed, its alert seen lately at `now` (not expired). */
function heldSeenAt(now: Date): Node {
  const node = held("drain-failed");
  const holds = JSON.parse(node.metadata.annotations![ANNOTATIONS.alerts]);
  holds.fp1.seen = now.toISOString();
  node.metadata.annotations![ANNOTATIONS.alerts] = JSON.stringify(holds);
  return node;
}

/** `node` with the annotations `d` writes merged in, as the API server would store them. */
function withWrite(node: Node, d: Decision & { kind: "act" }): Node {
  const annotations = { ...node.metadata.annotations, ...d.patch.metadata.annotations };
  return {
    ...node,
    metadata: { ...node.metadata, annotations: annotations as Record<string, string> },
  };
}

function free(extra: Record<string, string> = {}): Node {
  return { metadata: { name: "w1", resourceVersion: "7", annotations: extra }, spec: {} };
}

function written(d: Decision | undefined): OutcomeRecord[] {
  assert.ok(d?.kind === "act", "a write");
  const raw = d.patch.metadata.annotations?.[HISTORY.outcomes];
  return raw ? JSON.parse(raw) : [];
}

const RECOVERED: OutcomeRecord = {
  outcome: "recovered",
  step: "cordon",
  alert: "NodeHighCPU",
  startedAt: "2026-11-25T08:00:00.000Z",
  endedAt: "2026-11-25T09:30:00.000Z",
  seconds: 5400,
};

Deno.test("a resolution that uncordons records recovered, its step and seconds from the first alert", () => {
  const d = decide(alert("resolved"), held("drained"), { ...OPTS, now: NOW });
  assert.ok(d.kind === "act" && d.action === "uncordon");
  const expected = {
    outcome: "recovered",
    step: "drain",
    alert: "NodeHighCPU",
    startedAt: CORDONED_AT,
    endedAt: NOW.toISOString(),
    seconds: 3600,
  };
  assert.deepEqual(d.outcome, expected);
  assert.deepEqual(written(d), [expected]);
});

Deno.test("a release that keeps the node cordoned records no outcome", () => {
  const node = held();
  const holds = JSON.parse(node.metadata.annotations![ANNOTATIONS.alerts]);
  holds.fp2 = { alertname: "NodeDiskFull", since: CORDONED_AT };
  node.metadata.annotations![ANNOTATIONS.alerts] = JSON.stringify(holds);
  const d = decide(alert("resolved"), node, { ...OPTS, now: NOW });
  assert.ok(d.kind === "act" && d.action === "release");
  assert.equal(d.outcome, undefined);
  assert.equal(d.patch.metadata.annotations?.[HISTORY.outcomes], undefined);
});

Deno.test("holds expired by the sweep uncordon as recovered; the history is appended, bounded", () => {
  const old = Array.from({ length: MAX_OUTCOMES }, (_, i) => ({ ...RECOVERED, alert: `A${i}` }));
  const node = held("cordoned", { [HISTORY.outcomes]: JSON.stringify(old) });
  const now = new Date(NOW.getTime() + 5 * HOUR);
  const list = written(reconcile(node, { ...OPTS, now }));
  assert.equal(list.length, MAX_OUTCOMES);
  assert.equal(list[0].alert, "A1", "the oldest went");
  assert.deepEqual(list.at(-1), {
    outcome: "recovered",
    step: "cordon",
    alert: "NodeHighCPU",
    startedAt: CORDONED_AT,
    endedAt: now.toISOString(),
    seconds: 6 * 3600,
  });
});

Deno.test("a node held past the bound is still-failing once, and a sweep after that writes nothing", () => {
  const now = new Date(Date.parse(CORDONED_AT) + 25 * HOUR);
  const node = heldSeenAt(now);
  const d = reconcile(node, { ...OPTS, now });
  assert.ok(d?.kind === "act" && d.action === "record");
  assert.equal(d.outcome?.outcome, "still-failing");
  assert.equal(d.outcome?.step, "drain");
  assert.equal(d.outcome?.seconds, 25 * 3600);
  assert.equal(d.patch.spec, undefined, "the node stays as it is");
  const after = withWrite(node, d);
  assert.equal(reconcile(after, { ...OPTS, now: new Date(now.getTime() + HOUR) }), undefined);
  const early = reconcile(node, { ...OPTS, now: new Date(Date.parse(CORDONED_AT) + HOUR) });
  assert.equal(early, undefined, "not before the bound");
});

Deno.test("a cordon for the alert the node last recovered from, within the window, recurred", () => {
  const node = free({ [HISTORY.outcomes]: JSON.stringify([RECOVERED]) });
  const d = decide(alert("firing"), node, { ...OPTS, now: NOW });
  assert.ok(d.kind === "act" && d.action === "cordon");
  assert.deepEqual(d.outcome, {
    outcome: "recurred",
    step: "cordon",
    alert: "NodeHighCPU",
    startedAt: RECOVERED.endedAt,
    endedAt: NOW.toISOString(),
    seconds: 1800,
  });
  assert.equal(written(d).length, 2);
  const other = decide(alert("firing", "NodeDiskFull"), node, { ...OPTS, now: NOW });
  assert.equal(other.kind === "act" && other.outcome, undefined, "another alert");
  const late = decide(alert("firing"), node, { ...OPTS, now: new Date(NOW.getTime() + 48 * HOUR) });
  assert.equal(late.kind === "act" && late.outcome, undefined, "after the window");
});

Deno.test("a machine replaced under its node records replaced, with no outcome to count", () => {
  const d = replacedInPlace(held("replacing"), NOW, "rebuilt");
  assert.equal(d?.kind === "act" && d.outcome, undefined, "counted from the ledger");
  assert.equal(written(d)[0].outcome, "replaced");
  assert.equal(written(d)[0].step, "replace");
});

Deno.test("hostile outcomes never throw: garbage, 1 MB, too many, future times read as none", () => {
  const future = { ...RECOVERED, endedAt: "2099-01-01T00:00:00Z" };
  const values = [
    "{not json",
    "x".repeat(1 << 20),
    JSON.stringify(Array.from({ length: 11 }, () => RECOVERED)),
    JSON.stringify({ outcome: "recovered" }),
    JSON.stringify([{ ...RECOVERED, seconds: -1 }, { ...RECOVERED, outcome: "exploded" }]),
    JSON.stringify([{ ...RECOVERED, alert: "a".repeat(300) }]),
    JSON.stringify([future]),
    "null",
    '[null, 1, "x"]',
  ];
  for (const raw of values) {
    const { values: parsed, problems } = parseAnnotations({ [HISTORY.outcomes]: raw }, {
      now: NOW.getTime(),
    });
    assert.ok(problems.length > 0, `${raw.slice(0, 30)} is a problem`);
    assert.ok(problems.every((p) => p.message.length < 200), "never echoed whole");
    assert.deepEqual(parsed[HISTORY.outcomes] ?? [], []);
    // Decisions read it as no history, and still decide.
    const d = decide(alert("resolved"), held("cordoned", { [HISTORY.outcomes]: raw }), {
      ...OPTS,
      now: NOW,
    });
    assert.ok(d.kind === "act" && d.outcome?.outcome === "recovered");
    decide(alert("firing"), free({ [HISTORY.outcomes]: raw }), { ...OPTS, now: NOW });
  }
});

Deno.test("any outcomes value and any times on the node: decisions never throw", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 40 }), (raw, at) => {
      const node = held("cordoned", { [HISTORY.outcomes]: raw, [ANNOTATIONS.cordonedAt]: at });
      outcomes(node);
      decide(alert("resolved"), node, { ...OPTS, now: NOW });
      reconcile(node, { ...OPTS, now: new Date(NOW.getTime() + 30 * HOUR) });
      decide(alert("firing"), free({ [HISTORY.outcomes]: raw }), { ...OPTS, now: NOW });
    }),
    { numRuns: 300 },
  );
});

Deno.test("a first alert in the future counts 0 seconds, never negative", () => {
  const node = held("cordoned", {
    [ANNOTATIONS.cordonedAt]: "2099-01-01T00:00:00Z",
    [ANNOTATIONS.alerts]: JSON.stringify({
      fp1: { alertname: "NodeHighCPU", since: "2099-01-01T00:00:00Z" },
    }),
  });
  const d = decide(alert("resolved"), node, { ...OPTS, now: NOW });
  assert.ok(d.kind === "act");
  assert.equal(d.outcome?.seconds, 0);
});

Deno.test("a node held longer than a record may say (366 days) is still-failing once too: its seconds are clamped, so it reads back", () => {
  const now = new Date(Date.parse(CORDONED_AT) + 400 * 24 * HOUR);
  const node = heldSeenAt(now);
  const d = reconcile(node, { ...OPTS, now });
  assert.ok(d?.kind === "act" && d.action === "record");
  assert.equal(d.outcome?.seconds, 366 * 24 * 3600);
  const after = withWrite(node, d);
  assert.equal(outcomes(after).length, 1, "the record reads back");
  assert.equal(reconcile(after, { ...OPTS, now: new Date(now.getTime() + HOUR) }), undefined);
});
