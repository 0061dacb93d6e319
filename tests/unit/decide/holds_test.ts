// Holds that never under-count and resolutions that stay resolved: decide() and reconcile()
// on plain Node objects, each decision's patch applied as the API server would merge it.
import assert from "node:assert/strict";
import { alertOf } from "../../support/alerts.ts";
import { decide, type Decision, reconcile } from "../../../lib/decide/decide.ts";
import {
  ANNOTATIONS,
  HISTORY,
  holdCount,
  LATE_DELIVERY_MS,
  MAX_HOLDS,
  MAX_OVERFLOW,
  readState,
} from "../../../lib/decide/node_state.ts";
import type { Alert } from "../../../lib/intake/alertmanager.ts";
import type { Node } from "../../../lib/base/node.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";

const TTL = 4 * 3_600_000;
const OPTS = {
  holdTtlMs: TTL,
  policy: parsePolicy(
    "acknowledge: [minHealthyZero, highRate]\ngates: { minHealthy: 0, cooldown: 0s, rate: { max: 1000, window: 1h } }",
  ),
};
const T0 = new Date("2026-11-28T10:00:00Z");

function alert(status: Alert["status"], fingerprint: string, startsAt = "2026-11-28T09:00:00Z") {
  return {
    ...alertOf({ alertname: `Alert-${fingerprint}`, heal: "true" }, { fingerprint, status }),
    startsAt,
  };
}

/** The Node after a decision's patch, merged as a JSON merge patch is. */
function apply(node: Node, d: Decision): Node {
  if (d.kind !== "act") return node;
  const annotations = { ...node.metadata.annotations };
  for (const [k, v] of Object.entries(d.patch.metadata.annotations ?? {})) {
    if (v === null) delete annotations[k];
    else annotations[k] = v;
  }
  const spec = { ...node.spec };
  if (d.patch.spec) {
    if (d.patch.spec.unschedulable === null) delete spec.unschedulable;
    else spec.unschedulable = d.patch.spec.unschedulable;
  }
  const rv = String(Number(node.metadata.resourceVersion) + 1);
  return { ...node, metadata: { ...node.metadata, resourceVersion: rv, annotations }, spec };
}

function worker(): Node {
  return { metadata: { name: "heal-worker", resourceVersion: "1", annotations: {} }, spec: {} };
}

/** Runs alerts through decide() one by one, applying each decision. */
function run(node: Node, alerts: Alert[], now = T0): { node: Node; decisions: Decision[] } {
  const decisions: Decision[] = [];
  for (const a of alerts) {
    const d = decide(a, node, { ...OPTS, now });
    decisions.push(d);
    node = apply(node, d);
  }
  return { node, decisions };
}

const fps = (n: number, prefix = "h") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

Deno.test("decide() lists alerts past the named holds by fingerprint, and keeps the node until the last resolves", () => {
  const all = fps(MAX_HOLDS + 40);
  let { node } = run(worker(), all.map((fp) => alert("firing", fp)));
  const state = readState(node);
  assert.equal(Object.keys(state.holds).length, MAX_HOLDS);
  assert.equal(state.overflow?.fingerprints.length, 40);
  assert.equal(holdCount(state), all.length);
  // A repeated delivery of a listed alert is a duplicate, not a second entry.
  assert.equal(decide(alert("firing", all.at(-1)!), node, { ...OPTS, now: T0 }).kind, "skip");
  // Resolve the named ones first: the listed ones still hold it.
  for (const fp of all.slice(0, -1)) {
    const d = decide(alert("resolved", fp), node, { ...OPTS, now: T0 });
    assert.equal(d.kind === "act" && d.action, "release", `resolving ${fp}`);
    node = apply(node, d);
  }
  assert.equal(node.spec?.unschedulable, true);
  const last = decide(alert("resolved", all.at(-1)!), node, { ...OPTS, now: T0 });
  assert.equal(last.kind === "act" && last.action, "uncordon");
  node = apply(node, last);
  assert.equal(node.metadata.annotations?.[ANNOTATIONS.overflow], undefined);
  assert.equal(node.metadata.annotations?.[ANNOTATIONS.alerts], undefined);
});

Deno.test("decide() holds a node past what it can list until none of the unlisted alerts fired for the hold TTL", () => {
  const listed = fps(MAX_HOLDS + MAX_OVERFLOW);
  let { node } = run(worker(), listed.map((fp) => alert("firing", fp)));
  const extra = run(node, [alert("firing", "x1"), alert("firing", "x2")]);
  node = extra.node;
  const [first, second] = extra.decisions;
  assert.equal(first.kind === "act" && first.action, "hold");
  assert.equal(second.kind === "skip" && second.gate, "holdLimit", "recorded once, not per alert");
  assert.equal(readState(node).overflow?.unlisted, true);
  // Every alert node-heal knows by name or fingerprint resolves; x1 and x2 never do.
  node = run(node, listed.map((fp) => alert("resolved", fp))).node;
  assert.equal(node.spec?.unschedulable, true, "unlisted alerts still hold it");
  assert.equal(reconcile(node, { ...OPTS, now: new Date(T0.getTime() + TTL - 1000) }), undefined);
  const expired = reconcile(node, { ...OPTS, now: new Date(T0.getTime() + TTL + 1000) });
  assert.equal(expired?.kind === "act" && expired.action, "uncordon");
  assert.match((expired as { message: string }).message, /not seen firing for 4h/);
});

Deno.test("the overflow stays far below the API server's 256 KB annotation budget", () => {
  const long = (i: number) => `${"f".repeat(60)}${String(i).padStart(4, "0")}`;
  const { node } = run(
    worker(),
    Array.from({ length: MAX_HOLDS + MAX_OVERFLOW + 50 }, (_, i) => ({
      ...alert("firing", long(i)),
      labels: { alertname: "A".repeat(4096), heal: "true" },
    })),
  );
  const bytes = Object.entries(node.metadata.annotations ?? {})
    .reduce((n, [k, v]) => n + k.length + v.length, 0);
  assert.ok(bytes < 64 * 1024, `node-heal's annotations are ${bytes} bytes`);
});

Deno.test("decide() ignores a firing delivered late, after the resolution of the same alert", () => {
  const { node } = run(worker(), [alert("firing", "a"), alert("resolved", "a")]);
  assert.equal(node.spec?.unschedulable, undefined);
  assert.deepEqual(JSON.parse(node.metadata.annotations![HISTORY.resolved]), {
    a: { startsAt: "2026-11-28T09:00:00Z", at: T0.toISOString() },
  });
  const late = decide(alert("firing", "a"), node, { ...OPTS, now: T0 });
  assert.equal(late.kind === "skip" && late.gate, "stale");
  // Past the window of a late delivery, the same alert firing again is real (Prometheus restored
  // it after a restart, with its old startsAt): it acts.
  const restored = decide(alert("firing", "a"), node, {
    ...OPTS,
    now: new Date(T0.getTime() + LATE_DELIVERY_MS + 1000),
  });
  assert.equal(restored.kind === "act" && restored.action, "cordon");
  // Fired again (a new startsAt): a new alert, decided as any other.
  const again = decide(alert("firing", "a", "2026-11-28T11:00:00Z"), node, { ...OPTS, now: T0 });
  assert.equal(again.kind === "act" && again.action, "cordon");
  // Without a startsAt, nothing tells a late firing from a new one: it is decided as new.
  const bare = decide({ ...alert("firing", "a"), startsAt: "" }, node, { ...OPTS, now: T0 });
  assert.equal(bare.kind === "act" && bare.action, "cordon");
});

Deno.test("the record of resolutions keeps the newest 32", () => {
  let node = worker();
  for (let i = 0; i < 40; i++) {
    node = run(node, [alert("firing", `r${i}`), alert("resolved", `r${i}`)]).node;
  }
  const resolved = Object.keys(JSON.parse(node.metadata.annotations![HISTORY.resolved]));
  assert.equal(resolved.length, 32);
  assert.equal(resolved.at(-1), "r39");
  assert.equal(resolved[0], "r8");
});
