// The status page's waits on the correlated-failure gates: a node due to drain or be replaced in
// a domain whose breaker is open waits on `breaker` (its domain, the nodes that opened it, when it
// closes); one whose domain's budget is used up waits on `domain` (the domain, its numbers, the
// nodes holding it). Asked of the decisions' own gates, with the decisions' tally and breakers.
import assert from "node:assert/strict";
import type { Node } from "../../../lib/base/node.ts";
import { Breakers } from "../../../lib/decide/breaker.ts";
import { ANNOTATIONS } from "../../../lib/decide/node_state.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { inFlightIn, replaceBudgets, type Replacement } from "../../../lib/decide/replacements.ts";
import { Tally } from "../../../lib/decide/tally.ts";
import { type LadderContext, waitOf } from "../../../lib/report/status_ladder.ts";

const NOW = new Date("2025-01-01T12:10:00Z");
const ZONE = "topology.kubernetes.io/zone";
const policy = parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { provider: karpenter, timeout: 1m }
gates:
  minHealthy: 0
  maxConcurrent: 5
  maxReplacing: 5
  domains:
    - key: ${ZONE}
      maxConcurrent: 1
      maxReplacing: 1
  breaker: { key: ${ZONE}, alerting: 2, within: 5m, quiet: 15m }
acknowledge: [minHealthyZero]
`);

function node(name: string, zone: string, annotations: Record<string, string> = {}): Node {
  return {
    metadata: {
      name,
      labels: { [ZONE]: zone },
      annotations: {
        [ANNOTATIONS.cordonedBy]: "node-heal",
        [ANNOTATIONS.cordonedAt]: "2025-01-01T12:00:00Z",
        [ANNOTATIONS.rule]: "heal",
        [ANNOTATIONS.target]: "replace",
        ...annotations,
      },
    },
    spec: { unschedulable: true },
  } as Node;
}

const DUE_TO_DRAIN = {
  [ANNOTATIONS.step]: "cordoned",
  [ANNOTATIONS.drainAt]: "2025-01-01T12:09:00Z",
};
const DUE_TO_REPLACE = {
  [ANNOTATIONS.step]: "drained",
  [ANNOTATIONS.replaceAt]: "2025-01-01T12:05:00Z",
};

function ctx(nodes: Node[], more: Partial<LadderContext> = {}): LadderContext {
  return {
    policy,
    now: NOW,
    paused: false,
    nodes,
    tally: new Tally(policy.gates, { nodes }),
    ...more,
  };
}

/** A breaker opened a minute ago by `alerting`; `quiet` of them resolved since. */
function openBreaker(alerting: Node[], quiet: Node[] = []): Breakers {
  const breakers = new Breakers(policy.gates.breaker, { holdTtlMs: 3_600_000 });
  for (const n of alerting) {
    breakers.seen(n, `fp-${n.metadata.name}`, new Date(NOW.getTime() - 60_000));
  }
  assert.equal(breakers.update(new Date(NOW.getTime() - 60_000))[0]?.change, "opened");
  for (const n of quiet) breakers.resolved(n.metadata.name, `fp-${n.metadata.name}`);
  breakers.update(NOW);
  return breakers;
}

Deno.test("waitOf() says a node due to drain in a zone whose breaker is open waits on it, naming who opened it and when it closes", () => {
  const a = node("a", "us-east-1a", DUE_TO_DRAIN);
  const b = node("b", "us-east-1a");
  const other = node("c", "us-east-1b", DUE_TO_DRAIN);
  // b's alert resolved: fewer than 2 alert, the breaker is quiet since its opening.
  const breakers = openBreaker([a, b], [b]);
  const c = ctx([a, b, other], { breakers, breakerStates: breakers.states(NOW) });
  const wait = waitOf(a, c);
  assert.equal(wait?.gate, "breaker");
  assert.equal(wait?.step, "drain");
  assert.equal(wait?.domain, "zone us-east-1a");
  assert.deepEqual(wait?.holders.map((h) => h.node).sort(), ["a", "b"]);
  assert.equal(wait?.recheck, "when the breaker closes");
  assert.match(wait!.message, /the breaker of zone us-east-1a is open/);
  // Quiet since the opening's minute: it closes 15 min after.
  assert.equal(wait?.freesAt, "2025-01-01T12:24:00.000Z");
  assert.equal(waitOf(other, c), undefined, "another zone's drain is not held");
});

Deno.test("waitOf() says a drained node due to be replaced in a zone whose breaker is open waits on it", () => {
  const a = node("a", "us-east-1a", DUE_TO_REPLACE);
  const b = node("b", "us-east-1a");
  const breakers = openBreaker([a, b]);
  const replacements = {
    entries: [],
    budgets: (now: Date, paused: boolean) =>
      replaceBudgets([], { gates: policy.gates, now, paused }),
    replacing: () => false,
  };
  const wait = waitOf(
    a,
    ctx([a, b], { breakers, breakerStates: breakers.states(NOW), replacements }),
  );
  assert.equal(wait?.gate, "breaker");
  assert.equal(wait?.step, "replace");
  assert.equal(wait?.domain, "zone us-east-1a");
});

Deno.test("waitOf() says a node due to drain waits on its zone's maxConcurrent, naming the drain there", () => {
  const draining = node("a", "us-east-1a", {
    [ANNOTATIONS.step]: "draining",
    [ANNOTATIONS.drainStartedAt]: "2025-01-01T12:08:00Z",
  });
  const elsewhere = node("c", "us-east-1b", {
    [ANNOTATIONS.step]: "draining",
    [ANNOTATIONS.drainStartedAt]: "2025-01-01T12:07:00Z",
  });
  const due = node("b", "us-east-1a", DUE_TO_DRAIN);
  const wait = waitOf(due, ctx([draining, elsewhere, due]));
  assert.equal(wait?.gate, "domain");
  assert.equal(wait?.domain, "zone us-east-1a");
  assert.deepEqual([wait?.used, wait?.max], [1, 1]);
  assert.deepEqual(wait?.holders, [{ node: "a", since: "2025-01-01T12:08:00Z" }]);
  assert.equal(wait?.recheck, "when a drain there ends");
  assert.match(wait!.message, /maxConcurrent is 1 there/);
});

Deno.test("waitOf() says a drained node waits on its zone's maxReplacing, naming the replacement there", () => {
  const due = node("b", "us-east-1a", DUE_TO_REPLACE);
  const entries: Replacement[] = [{
    id: "a@x",
    node: "a",
    provider: "karpenter",
    rule: "heal",
    startedAt: "2025-01-01T12:03:00Z",
    deadline: "2025-01-01T12:20:00Z",
    by: "node-heal",
    phase: "requested",
    labels: { [ZONE]: "us-east-1a" },
  }];
  const replacements = {
    entries,
    budgets: (now: Date, paused: boolean) =>
      replaceBudgets(entries, { gates: policy.gates, now, paused }),
    replacing: (name: string) => name === "a",
    inDomains: (n: Node) => inFlightIn(entries, n, { gates: policy.gates }),
  };
  const wait = waitOf(due, ctx([due], { replacements }));
  assert.equal(wait?.gate, "domain");
  assert.equal(wait?.step, "replace");
  assert.equal(wait?.domain, "zone us-east-1a");
  assert.deepEqual([wait?.used, wait?.max], [1, 1]);
  assert.deepEqual(wait?.holders, [{ node: "a", since: "2025-01-01T12:03:00Z" }]);
});
