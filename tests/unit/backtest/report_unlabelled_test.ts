// A domain key no Node carries makes one domain of all of them: the report says so.
import assert from "node:assert/strict";
import { summarize } from "../../../lib/backtest/report.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { workerNode } from "../../fakes/fake_client.ts";

const POLICY = parsePolicy(`
gates:
  domains:
    - { key: topology.kubernetes.io/zone, maxUnavailable: 1 }
    - { key: karpenter.sh/nodepool, minHealthy: "80%" }
`);

Deno.test("summarize() names the domain keys no counted Node carries", () => {
  const nodes = ["a", "b"].map((n) => {
    const w = workerNode(n);
    w.metadata.labels = { ...w.metadata.labels, "topology.kubernetes.io/zone": `z-${n}` };
    return w;
  });
  const empty = {
    decisions: [],
    outOverTime: [],
    nodes,
    breakers: [],
    breakersLeftOut: 0,
    peakOutByDomain: [],
  };
  const run = summarize(empty, { policy: POLICY, name: "p.yaml", nodes, to: new Date() });
  assert.deepEqual(run.unlabelledKeys, ["karpenter.sh/nodepool"]);
  const labelled = nodes.map((n) => ({
    ...n,
    metadata: { ...n.metadata, labels: { ...n.metadata.labels, "karpenter.sh/nodepool": "p" } },
  }));
  const none = summarize({ ...empty, nodes: labelled }, {
    policy: POLICY,
    name: "p.yaml",
    nodes: labelled,
    to: new Date(),
  });
  assert.equal(none.unlabelledKeys, undefined);
});
