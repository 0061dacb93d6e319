// Outcomes through real interfaces (issue 32): alerts over HTTP to node-heal, node-heal to the
// embedded cluster, read back with the real client library, `/metrics` and `/status`.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { notification, type ServiceFixture, withService } from "../../support/helpers.ts";

const ALERT = {
  labels: { alertname: "NodeDown", heal: "true", instance: "172.18.0.3:9100" },
  fingerprint: "o1",
};

async function metrics(f: ServiceFixture): Promise<string> {
  return await (await fetch(`${f.service.url}/metrics`)).text();
}

async function outcome(f: ServiceFixture, status: "firing" | "resolved"): Promise<string> {
  const res = await f.post(notification(status, [ALERT]));
  assert.equal(res.status, 200);
  return (await res.json()).alerts[0].outcome;
}

Deno.test("a cordon then its resolution is recovered, with its seconds, on the Node, in /metrics; a new cordon recurred, in /status", async () => {
  await using f = await withService({
    policy: parsePolicy(`
rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]
acknowledge: [minHealthyZero]
gates: { minHealthy: 0, cooldown: 0s }
`),
  });
  const before = await metrics(f);
  for (const step of ["cordon", "drain", "replace"]) {
    for (const o of ["recovered", "replaced", "still-failing", "recurred"]) {
      assert.ok(
        before.includes(`nodeheal_remediation_outcomes_total{step="${step}",outcome="${o}"} 0`),
        `${step} ${o} starts at 0`,
      );
    }
  }
  assert.equal(await outcome(f, "firing"), "cordon");
  await new Promise((r) => setTimeout(r, 1_100));
  assert.equal(await outcome(f, "resolved"), "uncordon");

  const node = await f.core.readNode({ name: "heal-worker" });
  assert.equal(node.spec?.unschedulable, undefined);
  const list = JSON.parse(node.metadata?.annotations?.["node-heal.io/outcomes"] ?? "[]");
  assert.equal(list.length, 1);
  assert.equal(list[0].outcome, "recovered");
  assert.equal(list[0].step, "cordon");
  assert.equal(list[0].alert, "NodeDown");
  assert.ok(list[0].seconds >= 1 && list[0].seconds < 60, `seconds ${list[0].seconds}`);
  assert.ok(node.metadata?.annotations?.["node-heal.io/seal"], "sealed with the rest");

  const text = await metrics(f);
  assert.match(
    text,
    /^nodeheal_remediation_outcomes_total\{step="cordon",outcome="recovered"\} 1$/m,
  );
  assert.match(text, /^nodeheal_time_to_recovery_seconds_count\{step="cordon"\} 1$/m);
  assert.match(text, /^nodeheal_time_to_recovery_seconds_sum\{step="cordon"\} [1-9]/m);

  // The same alert again, a new episode: it recurred, counted once, and the node shows its past.
  const again = { ...ALERT, fingerprint: "o2" };
  const res = await f.post(notification("firing", [again]));
  assert.equal((await res.json()).alerts[0].outcome, "cordon");
  const status = await (await fetch(`${f.service.url}/status`)).json();
  const shown = status.nodes.find((n: { node: string }) => n.node === "heal-worker");
  assert.deepEqual(shown.outcomes.map((o: { outcome: string }) => o.outcome), [
    "recovered",
    "recurred",
  ]);
  const after = await metrics(f);
  assert.match(
    after,
    /^nodeheal_remediation_outcomes_total\{step="cordon",outcome="recurred"\} 1$/m,
  );
  assert.match(
    after,
    /^nodeheal_remediation_outcomes_total\{step="cordon",outcome="recovered"\} 1$/m,
  );
});
