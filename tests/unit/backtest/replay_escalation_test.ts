// The replay knows escalation by recurrence (`escalate:`): a node that fails and recovers three
// times is sent straight to its replacement on the third, and the report counts it; the same
// history under a policy without it replaces nothing. Two policies side by side answer "how would
// escalation have changed replacements".
import assert from "node:assert/strict";
import { replay } from "../../../lib/backtest/replay.ts";
import { DEFAULT_ROUTE, deliveries } from "../../../lib/backtest/alertmanager_sim.ts";
import { alertmanagerFingerprint, type Episode } from "../../../lib/backtest/history.ts";
import { summarize } from "../../../lib/backtest/report.ts";
import { parsePolicy, type Policy } from "../../../lib/decide/policy.ts";
import { workerNode } from "../../fakes/fake_client.ts";

const T0 = Date.parse("2026-11-02T00:00:00Z");
const MIN = 60_000;
const at = (minutes: number) => new Date(T0 + minutes * MIN);

const RULE = `
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { provider: delete-node }
    ESCALATE
gates: { cooldown: 1m, rate: { max: 20, window: 1h } }
`;
const PLAIN = parsePolicy(RULE.replace("ESCALATE", ""));
const ESCALATING = parsePolicy(
  RULE.replace("ESCALATE", "escalate: { after: 3, within: 24h, to: replace }"),
);

/** w-2 fails three times, an hour apart, 20 minutes each. */
function history(): Episode[] {
  const labels = { alertname: "NodeKernelDeadlock", heal: "true", instance: "10.0.0.2:9100" };
  const fingerprint = alertmanagerFingerprint(labels);
  return [0, 60, 120].map((m) => ({ labels, fingerprint, start: at(m), end: at(m + 20) }));
}

function run(policy: Policy) {
  const nodes = ["w-1", "w-2", "w-3", "w-4"].map((n, i) => workerNode(n, `10.0.0.${i + 1}`));
  const to = at(300);
  const result = replay(deliveries(history(), DEFAULT_ROUTE, to), {
    policy,
    nodes,
    from: at(0),
    to,
    drainMs: 5 * MIN,
    replaceMs: 10 * MIN,
  });
  return summarize(result, { policy, name: "p", nodes, to });
}

Deno.test("replay() escalates the third remediation of a recurring node to replace; without escalate it is only cordoned", () => {
  const plain = run(PLAIN);
  const escalating = run(ESCALATING);
  assert.equal(plain.totals.cordons, 3);
  assert.equal(plain.totals.escalations, 0);
  assert.equal(plain.totals.replacements, 0);
  assert.equal(escalating.totals.escalations, 1);
  assert.equal(escalating.totals.replacements, 1);
  const escalated = escalating.decisions.find((d) => d.escalated);
  assert.equal(escalated?.node, "w-2");
  assert.equal(escalated?.escalated, "replace");
  assert.match(escalated!.message, /w-2 was remediated 3 times in 24h; escalating to replace/);
});
