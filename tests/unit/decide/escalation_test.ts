// Escalation by recurrence (decide/escalation.ts): a Node remediated `after` times within
// `within`, this one counted, goes straight to `to`, through the same gates.
import assert from "node:assert/strict";
import { alertOf } from "../../support/alerts.ts";
import { decide, type Decision } from "../../../lib/decide/decide.ts";
import { ANNOTATIONS, HISTORY, readState } from "../../../lib/decide/node_state.ts";
import type { Alert } from "../../../lib/intake/alertmanager.ts";
import type { Node } from "../../../lib/base/node.ts";
import { parsePolicy, PolicyRefused } from "../../../lib/decide/policy.ts";
import { workerNode } from "../../fakes/fake_client.ts";

const POLICY = `
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    drainAfter: 5m
    replace: { provider: delete-node }
    escalate: { after: 3, within: 24h, to: replace }
acknowledge: [minHealthyZero]
`;
const policy = parsePolicy(`${POLICY}gates: { minHealthy: 0, cooldown: 0s }`);
const opts = (now: Date, p = policy) => ({ now, holdTtlMs: 4 * 3_600_000, policy: p });
const T0 = Date.parse("2026-12-01T00:00:00Z");
const at = (hours: number) => new Date(T0 + hours * 3_600_000);

function alert(status: Alert["status"], extra: Record<string, string> = {}, fingerprint = "fp1") {
  return alertOf({ alertname: "KubeletDown", heal: "true", ...extra }, {
    fingerprint,
    status,
    annotations: {},
  });
}

/** The Node after a decision's write (a merge patch: null removes). */
function applied(node: Node, d: Decision): Node {
  assert.equal(d.kind, "act", d.message);
  if (d.kind !== "act") return node;
  const annotations = { ...node.metadata.annotations };
  for (const [k, v] of Object.entries(d.patch.metadata.annotations ?? {})) {
    if (v === null) delete annotations[k];
    else annotations[k] = v;
  }
  const unschedulable = d.patch.spec ? d.patch.spec.unschedulable : node.spec?.unschedulable;
  return {
    ...node,
    metadata: { ...node.metadata, annotations },
    spec: unschedulable ? { unschedulable: true } : {},
  };
}

/** A Node that failed and recovered at each of `hours`. */
function failedAt(hours: number[]): Node {
  let node = workerNode("heal-worker3");
  for (const h of hours) {
    node = applied(node, decide(alert("firing"), node, opts(at(h))));
    node = applied(node, decide(alert("resolved"), node, opts(at(h + 0.5))));
  }
  return node;
}

Deno.test("the 1st and 2nd remediation follow the ladder; the 3rd in 24h escalates to replace", () => {
  let node = workerNode("heal-worker3");
  for (const h of [0, 2]) {
    const d = decide(alert("firing"), node, opts(at(h)));
    assert.equal(d.kind === "act" && d.action, "cordon");
    assert.equal(d.event?.reason, "NodeHealCordoned");
    assert.equal(d.kind === "act" && d.escalated, undefined);
    node = applied(node, d);
    assert.equal(readState(node).target, undefined);
    node = applied(node, decide(alert("resolved"), node, opts(at(h + 1))));
  }
  const third = decide(alert("firing"), node, opts(at(4)));
  assert.equal(third.kind === "act" && third.action, "cordon");
  assert.deepEqual(third.event, {
    reason: "NodeHealEscalated",
    type: "Warning",
    message: "heal-worker3 was remediated 3 times in 24h; escalating to replace",
  });
  assert.equal(third.kind === "act" && third.escalated, "replace");
  assert.match(third.message, /^Cordoned heal-worker3 for alert KubeletDown .*; escalating/);
  const state = readState(applied(node, third));
  assert.equal(state.target, "replace");
  assert.equal(state.rule, "heal");
  // The drain waits drainAfter, as any drain would.
  assert.equal(state.drainAt, at(4 + 5 / 60).toISOString());
});

Deno.test("remediations outside the window do not count", () => {
  const node = failedAt([0, 1]);
  // 24h after the first: it left the window, this is the 2nd within it.
  const d = decide(alert("firing"), node, opts(new Date(T0 + 24 * 3_600_000)));
  assert.equal(d.event?.reason, "NodeHealCordoned");
  assert.equal(d.kind === "act" && d.escalated, undefined);
  const inside = decide(alert("firing"), node, opts(at(23)));
  assert.equal(inside.event?.reason, "NodeHealEscalated");
});

Deno.test("an escalated cordon passes the take-out gates: paused and cooldown still skip it", () => {
  const node = failedAt([0, 1]);
  const p = decide(alert("firing"), node, { ...opts(at(2)), paused: true });
  assert.equal(p.kind === "skip" && p.gate, "paused");
  const cooling = parsePolicy(`${POLICY}gates: { minHealthy: 0, cooldown: 2h }`);
  const c = decide(alert("firing"), node, opts(at(2), cooling));
  assert.equal(c.kind === "skip" && c.gate, "cooldown");
});

Deno.test("an alert that asks for replace already is no escalation", () => {
  const node = failedAt([0, 1]);
  const d = decide(alert("firing", { heal_action: "replace" }), node, opts(at(2)));
  assert.equal(d.event?.reason, "NodeHealCordoned");
  assert.equal(readState(applied(node, d)).target, "replace");
});

Deno.test("a Node already cordoned for its 3rd time: a hold raises its target, once", () => {
  let node = failedAt([0, 1]);
  // Cordoned by a rule without escalate:, its 3rd remediation in 24h.
  const plain = parsePolicy(
    `${POLICY.replace("    escalate: { after: 3, within: 24h, to: replace }\n", "")}gates: {
  minHealthy: 0 }`,
  );
  node = applied(node, decide(alert("firing"), node, opts(at(2), plain)));
  assert.equal(readState(node).target, undefined);
  // The same alert repeats under the escalating rule: the hold asks for the replacement.
  const hold = decide(alert("firing"), node, opts(at(3)));
  assert.equal(hold.kind === "act" && hold.action, "hold");
  assert.equal(
    hold.event?.message,
    "heal-worker3 was remediated 3 times in 24h; escalating to replace",
  );
  node = applied(node, hold);
  assert.equal(readState(node).target, "replace");
  // Another alert then: held, and nothing more to escalate.
  const other = decide(alert("firing", {}, "fp2"), node, opts(at(3.5)));
  assert.equal(other.kind === "act" && other.action, "hold");
  assert.equal(other.kind === "act" && other.escalated, undefined);
  assert.equal(other.event, undefined);
});

Deno.test("a hold counts the cordon already made: 2 remediations and a 2nd alert do not escalate", () => {
  let node = failedAt([0]);
  node = applied(node, decide(alert("firing"), node, opts(at(2))));
  assert.equal(JSON.parse(node.metadata.annotations![HISTORY.remediatedAt]).length, 2);
  const d = decide(alert("firing", {}, "fp2"), node, opts(at(3)));
  assert.equal(d.kind === "act" && d.action, "hold");
  assert.equal(d.kind === "act" && d.escalated, undefined);
  assert.equal(readState(applied(node, d)).target, undefined);
  assert.equal(node.metadata.annotations![ANNOTATIONS.cordonedBy], "node-heal");
});

Deno.test("escalate: is refused unless after, within and to make sense for the rule", () => {
  const rule = (escalate: string, actions = "[cordon, drain, replace]") => `
rules:
  - name: heal
    match: ['heal="true"']
    actions: ${actions}
    ${actions.includes("replace") ? "replace: { provider: karpenter }" : ""}
    escalate: ${escalate}
`;
  const refused: [string, string, RegExp][] = [
    ["{ after: 1, within: 24h, to: replace }", "", /rules\[0\]\.escalate\.after.*at least 2/],
    ["{ after: 21, within: 24h, to: replace }", "", /escalate\.after.*at most 20/],
    ["{ after: 2.5, within: 24h, to: replace }", "", /escalate\.after/],
    ["{ after: 3, within: 0s, to: replace }", "", /escalate\.within" must be at least 1m/],
    [
      "{ after: 3, within: 30s, to: replace }",
      "",
      /escalate\.within" must be at least 1m, got "30s"/,
    ],
    ["{ after: 3, within: 8760h, to: replace }", "", /escalate\.within.*at most/],
    ["{ after: 3, within: soon, to: replace }", "", /escalate\.within.*duration/],
    ["{ after: 3, within: 24h, to: cordon }", "", /escalate\.to.*drain or replace/],
    ["{ after: 3, within: 24h, to: replace }", "[cordon, drain]", /escalate\.to.*actions/],
    ["{ after: 3, within: 24h, to: drain }", "[cordon]", /escalate\.to.*actions/],
    ["{ after: 3, within: 24h }", "", /escalate\.to/],
    ["{ after: 3, within: 24h, to: replace, atfer: 2 }", "", /escalate/],
  ];
  for (const [escalate, actions, expected] of refused) {
    const text = rule(escalate, actions || undefined);
    assert.throws(() => parsePolicy(text), (err: Error) => {
      assert.ok(err instanceof PolicyRefused, err.message);
      assert.match(err.message, expected);
      assert.ok(!err.message.includes("\n"));
      return true;
    }, escalate);
  }
  const ok = parsePolicy(rule("{ after: 2, within: 90m, to: drain }", "[cordon, drain]"));
  assert.deepEqual(ok.rules[0].escalate, { after: 2, withinMs: 90 * 60_000, to: "drain" });
});
