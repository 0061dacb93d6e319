// Escalation by recurrence end to end (issue 32's done-when): `deno task dev` (a real process)
// with a rule that escalates to replace after 3 remediations in 24h; heal-worker3 fails and
// recovers twice, then fails a third time and is escalated: the NodeHealEscalated Event, the
// metric, /status's repeat offenders and the Node's target, read back over HTTP with the real
// client library.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { notification, waitFor } from "../../support/helpers.ts";
import { readyReplica, startDev, stop } from "../../support/processes.ts";

// drainAfter 1h: the escalated Node waits, cordoned, its target replace, for the test to read.
const POLICY = `
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    drainAfter: 1h
    replace: { provider: karpenter }
    escalate: { after: 3, within: 24h, to: replace }
gates: { cooldown: 0s }
`;

async function post(url: string, status: "firing" | "resolved", ip: string, fp: string) {
  const body = notification(status, [{
    labels: { alertname: "KubeletDown", heal: "true", instance: `${ip}:9100` },
    fingerprint: fp,
  }]);
  const res = await fetch(`${url}/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return (await res.json()).alerts as { node: string; outcome: string; message: string }[];
}

Deno.test("dev mode: a node that fails and recovers three times in 24h is escalated to replace on the third alert", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-escalate-" });
  await Deno.writeTextFile(`${dir}/policy.yaml`, POLICY);
  const dev = startDev([
    `--embedded-kubeconfig-out=${dir}/kubeconfig`,
    `--config=${dir}/policy.yaml`,
  ]);
  try {
    const url = await readyReplica(dev);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(`${dir}/kubeconfig`);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const node = await core.readNode({ name: "heal-worker3" });
    const ip = node.status!.addresses!.find((a) => a.type === "InternalIP")!.address;
    const annotation = async (key: string) =>
      (await core.readNode({ name: "heal-worker3" })).metadata?.annotations?.[key];

    for (const episode of [1, 2]) {
      const [fired] = await post(url, "firing", ip, `fp-${episode}`);
      assert.equal(fired.node, "heal-worker3");
      assert.equal(fired.outcome, "cordon", fired.message);
      assert.doesNotMatch(fired.message, /escalating/);
      const [resolved] = await post(url, "resolved", ip, `fp-${episode}`);
      assert.equal(resolved.outcome, "uncordon", resolved.message);
    }
    const [third] = await post(url, "firing", ip, "fp-3");
    assert.equal(third.outcome, "cordon", third.message);
    assert.match(
      third.message,
      /heal-worker3 was remediated 3 times in 24h; escalating to replace/,
    );

    // The Node asks for its replacement, through the same gates: the drain first, due in 1h.
    assert.equal(await annotation("node-heal.io/target"), "replace");
    assert.equal(await annotation("node-heal.io/step"), "cordoned");
    assert.equal((await core.readNode({ name: "heal-worker3" })).spec?.unschedulable, true);

    const event = await waitFor(
      "the NodeHealEscalated Event",
      async () =>
        (await core.listEventForAllNamespaces()).items.find((e) =>
          e.reason === "NodeHealEscalated" && e.involvedObject.name === "heal-worker3"
        ),
      10_000,
    );
    assert.equal(
      event.message,
      "heal-worker3 was remediated 3 times in 24h; escalating to replace",
    );
    assert.equal(event.type, "Warning");

    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^nodeheal_escalations_total\{to="replace"\} 1$/m);
    assert.match(metrics, /^nodeheal_escalations_total\{to="drain"\} 0$/m);
    assert.match(metrics, /^nodeheal_repeat_offenders 1$/m);

    const status = await (await fetch(`${url}/status`)).json();
    assert.equal(status.repeatOffenders.windowMs, 86_400_000);
    assert.equal(status.repeatOffenders.nodes.length, 1);
    const [offender] = status.repeatOffenders.nodes;
    assert.equal(offender.node, "heal-worker3");
    assert.equal(offender.remediations, 3);
    assert.ok(Date.now() - Date.parse(offender.last) < 60_000, offender.last);

    // A repeat of the third alert asks nothing more: not escalated, not counted again.
    const [again] = await post(url, "firing", ip, "fp-3");
    assert.doesNotMatch(again.message, /escalating/);
    const later = await (await fetch(`${url}/metrics`)).text();
    assert.match(later, /^nodeheal_escalations_total\{to="replace"\} 1$/m);
  } finally {
    await stop(dev);
  }
});
