// Outcomes through the pipeline over the in-memory client: a node held past the bound is counted
// `still-failing` once, however often the sweep looks at it; in a dry run nothing is counted.
import assert from "node:assert/strict";
import { ANNOTATIONS, HISTORY } from "../../../lib/decide/node_state.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { FakeClient, workerNode } from "../../fakes/fake_client.ts";
import { pipelineOver } from "../../support/unit_pipeline.ts";
import { alertOf, parsedNotification } from "../../support/alerts.ts";

const HOUR = 3_600_000;
const T0 = Date.parse("2026-12-07T08:00:00Z");

/** w1, held by node-heal for NodeDown since T0, last seen `seen` (ms). */
function heldNode(seen: number) {
  const node = workerNode("w1", "10.0.0.1");
  node.spec = { unschedulable: true };
  node.metadata.annotations = {
    [ANNOTATIONS.cordonedBy]: "node-heal",
    [ANNOTATIONS.cordonedAt]: new Date(T0).toISOString(),
    [ANNOTATIONS.step]: "cordoned",
    [ANNOTATIONS.alerts]: JSON.stringify({
      fp: {
        alertname: "NodeDown",
        since: new Date(T0).toISOString(),
        seen: new Date(seen).toISOString(),
      },
    }),
  };
  return node;
}

async function run(dryRun: boolean) {
  let t = T0 + 25 * HOUR;
  const client = new FakeClient({
    dryRun,
    nodes: [heldNode(t - HOUR), workerNode("w2", "10.0.0.2")],
  });
  const { metrics, events, pipeline } = pipelineOver(client, {
    policy: parsePolicy("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }"),
    now: () => new Date(t),
  });
  await pipeline.reconcile("w1");
  t += 10 * 60_000;
  await pipeline.reconcile("w1");
  await pipeline.stopDrains();
  await events.flush();
  const text = (await metrics.render()).body;
  const count = text.match(
    /^nodeheal_remediation_outcomes_total\{step="cordon",outcome="still-failing"\} (\d+)$/m,
  )?.[1];
  return { client, count, text };
}

Deno.test("a node held past 24h is still-failing once: written on the node, counted once over two sweeps", async () => {
  const { client, count, text } = await run(false);
  assert.equal(count, "1");
  const w1 = client.nodes.get("w1")!;
  assert.equal(w1.spec?.unschedulable, true, "still held");
  const list = JSON.parse(w1.metadata.annotations?.[HISTORY.outcomes] ?? "[]");
  assert.deepEqual(list.map((o: { outcome: string }) => o.outcome), ["still-failing"]);
  assert.equal(list[0].seconds, 25 * 3600);
  assert.match(text, /^nodeheal_reconciles_total\{outcome="record"\} 1$/m);
  assert.doesNotMatch(text, /nodeheal_time_to_recovery_seconds_count\{/, "not a recovery");
});

Deno.test("in a dry run nothing is recorded on the node, and nothing counted", async () => {
  const { client, count } = await run(true);
  assert.equal(count, "0");
  assert.equal(client.nodes.get("w1")!.metadata.annotations?.[HISTORY.outcomes], undefined);
});

Deno.test("an escalation is counted in nodeheal_escalations_total when written, and not in a dry run", async () => {
  for (const dryRun of [false, true]) {
    // w1 was remediated twice within 24h: its next cordon is the third.
    const node = workerNode("w1", "10.0.0.1");
    node.metadata.annotations = {
      [HISTORY.remediatedAt]: JSON.stringify([
        new Date(T0 - 3 * HOUR).toISOString(),
        new Date(T0 - 2 * HOUR).toISOString(),
      ]),
    };
    const client = new FakeClient({ dryRun, nodes: [node, workerNode("w2", "10.0.0.2")] });
    const { metrics, events, pipeline } = pipelineOver(client, {
      policy: parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain]
    drainAfter: 1h
    escalate: { after: 3, within: 24h, to: drain }
acknowledge: [minHealthyZero]
gates: { minHealthy: 0 }
`),
      now: () => new Date(T0),
    });
    const alert = alertOf({ alertname: "NodeDown", heal: "true", instance: "10.0.0.1:9100" });
    const result = await pipeline.handle(parsedNotification([alert]));
    assert.equal(result.alerts[0].outcome, "cordon");
    await pipeline.stopDrains();
    await events.flush();
    const text = (await metrics.render()).body;
    assert.match(
      text,
      new RegExp(`^nodeheal_escalations_total\\{to="drain"\\} ${dryRun ? 0 : 1}$`, "m"),
      dryRun ? "a dry run counts none" : "counted once",
    );
  }
});
