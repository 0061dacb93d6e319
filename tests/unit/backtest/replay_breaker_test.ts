// The replay knows the correlated-failure breakers and the budgets per domain (gates.breaker,
// gates.domains): a zone storm opens its zone's breaker, no drain starts there while it is open,
// and the report names what it held and how far each zone went out.
import assert from "node:assert/strict";
import { replay } from "../../../lib/backtest/replay.ts";
import { DEFAULT_ROUTE, deliveries } from "../../../lib/backtest/alertmanager_sim.ts";
import { alertmanagerFingerprint, type Episode } from "../../../lib/backtest/history.ts";
import { comparedKeys, summarize } from "../../../lib/backtest/report.ts";
import { parsePolicy, type Policy } from "../../../lib/decide/policy.ts";
import type { Node } from "../../../lib/base/node.ts";
import { workerNode } from "../../fakes/fake_client.ts";

const T0 = Date.parse("2026-11-02T00:00:00Z");
const MIN = 60_000;
const at = (minutes: number) => new Date(T0 + minutes * MIN);
const ZONE = "topology.kubernetes.io/zone";

/** Twelve workers, four per zone: a-1..a-4 in zone a (10.0.1.x), b-* in b, c-* in c. */
function cluster(): Node[] {
  return ["a", "b", "c"].flatMap((zone, z) =>
    [1, 2, 3, 4].map((i) => {
      const n = workerNode(`${zone}-${i}`, `10.0.${z + 1}.${i}`);
      n.metadata.labels![ZONE] = `zone-${zone}`;
      return n;
    })
  );
}

function episode(ip: string, from: number, to: number): Episode {
  const labels = { alertname: "NodeKernelDeadlock", heal: "true", instance: `${ip}:9100` };
  return { labels, fingerprint: alertmanagerFingerprint(labels), start: at(from), end: at(to) };
}

const RULES = `
rules:
  - name: heal
    match: ['heal="true"']
    actions: [drain]
    drainAfter: 2m
`;
const GATES_YAML = `minHealthy: "50%"
  maxConcurrent: 3
  rate: { max: 20, window: 1h }
  cooldown: 0s`;
const PLAIN = parsePolicy(`${RULES}\ngates:\n  ${GATES_YAML}\n`);
const BREAKER = `
  breaker:
    key: ${ZONE}
    alerting: 3
    within: 5m
    quiet: 15m`;
const BREAKER_ONLY = parsePolicy(`${RULES}\ngates:\n  ${GATES_YAML}${BREAKER}\n`);
const GUARDED = parsePolicy(`${RULES}
gates:
  ${GATES_YAML}
  domains:
    - key: ${ZONE}
      maxUnavailable: 1${BREAKER}
`);

/** Zone a's four workers alert within a minute for 40 minutes; b-1 alone alerts later. */
const STORM = [
  episode("10.0.1.1", 10, 50),
  episode("10.0.1.2", 10, 50),
  episode("10.0.1.3", 11, 50),
  episode("10.0.1.4", 11, 50),
  episode("10.0.2.1", 20, 60),
];

function run(policy: Policy, history: Episode[] = STORM, domainKeys?: string[]) {
  const minutes = 180;
  const nodes = cluster();
  const result = replay(deliveries(history, DEFAULT_ROUTE, at(minutes)), {
    policy,
    nodes,
    from: at(0),
    to: at(minutes),
    drainMs: 5 * MIN,
    replaceMs: 10 * MIN,
    domainKeys,
  });
  return summarize(result, { policy, name: "p", nodes, to: at(minutes) });
}

/** What happened to each node, as `HH:MM:SS outcome` or `HH:MM:SS skipped(gate)`. */
function steps(r: ReturnType<typeof run>, node: string): string[] {
  return r.decisions.filter((d) => d.node === node).map((d) =>
    `${d.at.slice(11, 19)} ${d.outcome === "skipped" ? `skipped(${d.gate})` : d.outcome}`
  );
}

Deno.test("replay() opens zone a's breaker in a storm, starts no drain there while open, names who it held, and drains a node of zone b", () => {
  const r = run(BREAKER_ONLY);
  assert.equal(r.breakers.length, 1);
  const [b] = r.breakers;
  assert.deepEqual({ domain: b.domain, key: b.key, value: b.value, count: b.count }, {
    domain: "zone zone-a",
    key: ZONE,
    value: "zone-a",
    count: 3,
  });
  // The third alert of zone a (00:11:10) opens it; it closes 15m after the storm resolved.
  assert.equal(b.openedAt, "2026-11-02T00:11:10.000Z");
  assert.deepEqual(b.nodes, ["a-1", "a-2", "a-3"]);
  assert.deepEqual([...b.held].sort(), ["a-1", "a-2", "a-3", "a-4"]);
  const closed = Date.parse(b.closedAt!);
  assert.ok(
    closed >= Date.parse("2026-11-02T01:05:00Z") && closed <= at(67).getTime(),
    b.closedAt!,
  );
  // No drain started in zone a while it was open; each waited behind the breaker.
  const zoneA = r.decisions.filter((d) => d.node.startsWith("a-"));
  assert.deepEqual(zoneA.filter((d) => d.outcome === "drain"), []);
  assert.deepEqual(steps(r, "a-1"), [
    "00:10:10 cordon",
    "00:12:10 skipped(breaker)",
    "00:50:10 uncordon",
  ]);
  // Zone b's one sick node is drained as ever.
  assert.deepEqual(steps(r, "b-1"), [
    "00:20:10 cordon",
    "00:22:10 drain",
    "00:27:10 drain-end",
    "01:00:10 uncordon",
  ]);
  assert.equal(r.blockedBy.find((g) => g.gate === "breaker")?.alerts, 4);
  assert.match(
    r.gates.breaker ?? "",
    /^topology\.kubernetes\.io\/zone: alerting 3 within 5m, quiet 15m/,
  );
});

Deno.test("replay() without a breaker drains the whole storm and reports no opening", () => {
  const r = run(PLAIN);
  assert.deepEqual(r.breakers, []);
  assert.equal(r.decisions.filter((d) => d.outcome === "drain").length, 5);
  assert.equal(r.gates.breaker, undefined);
  assert.deepEqual(r.peakOutByDomain, [], "a policy naming no domain has no per-domain peaks");
});

Deno.test("replay() halts a drain running in a zone whose breaker opens, and does not start it again while open", () => {
  const r = run(BREAKER_ONLY, [
    episode("10.0.1.1", 0, 60),
    episode("10.0.1.2", 3, 60),
    episode("10.0.1.3", 3, 60),
  ]);
  // a-1 drains from 00:02:10 (5m); the breaker opens at 00:03:10 and stops it.
  assert.deepEqual(steps(r, "a-1").slice(0, 3), [
    "00:00:10 cordon",
    "00:02:10 drain",
    "00:03:10 drain-halt",
  ]);
  assert.ok(!steps(r, "a-1").includes("drain-end"));
  assert.equal(r.breakers.length, 1);
  assert.ok(r.breakers[0].held.includes("a-1"));
  const closedAt = Date.parse(r.breakers[0].closedAt!);
  const drains = r.decisions.filter((d) => d.outcome === "drain" && d.node.startsWith("a-"));
  assert.ok(
    drains.every((d) => Date.parse(d.at) < at(3).getTime() || Date.parse(d.at) >= closedAt),
  );
});

Deno.test("replay() compares two policies on one zone storm: the domain budget and the breaker keep zone a's blast radius to 1", () => {
  // As the CLI runs a comparison: both measured by every key either policy names.
  const keys = comparedKeys([PLAIN, GUARDED]);
  assert.deepEqual(keys, [ZONE]);
  const plain = run(PLAIN, STORM, keys);
  const guarded = run(GUARDED, STORM, keys);
  const peak = (r: typeof plain, zone: string) =>
    r.peakOutByDomain.find((p) => p.key === ZONE && p.value === zone);
  assert.ok(peak(plain, "zone-a")!.peak > 1, `plain: ${peak(plain, "zone-a")?.peak}`);
  assert.equal(peak(plain, "zone-a")!.peak, 4);
  assert.equal(peak(plain, "zone-a")!.at, "2026-11-02T00:11:10.000Z");
  assert.ok(peak(guarded, "zone-a")!.peak <= 1);
  assert.equal(peak(guarded, "zone-a")!.peak, 1);
  assert.equal(peak(guarded, "zone-a")!.nodes, 4);
  assert.equal(peak(guarded, "zone-b")!.peak, 1);
  assert.equal(peak(guarded, "zone-c")!.peak, 0);
  assert.equal(peak(guarded, "zone-c")!.at, null);
  assert.equal(plain.breakers.length, 0);
  assert.equal(guarded.breakers.length, 1);
  assert.equal(guarded.breakers[0].value, "zone-a");
});

Deno.test("replay() counts replacements per domain: maxReplacing 1 per zone lets zone b's start while zone a's second waits", () => {
  const policy = parsePolicy(`
acknowledge: [replaceByDefault]
rules:
  - name: heal
    match: ['heal="true"']
    actions: [replace]
    replace: { provider: karpenter, timeout: 30m }
gates:
  minHealthy: 1
  maxConcurrent: 3
  maxReplacing: 3
  domains: [{ key: ${ZONE}, maxReplacing: 1 }]
`);
  const r = run(policy, [
    episode("10.0.1.1", 0, 90),
    episode("10.0.1.2", 0, 90),
    episode("10.0.2.1", 0, 90),
  ]);
  const first = (node: string, what: string) =>
    r.decisions.find((d) => d.node === node && (d.outcome === what || d.gate === what))?.at;
  assert.ok(first("a-1", "replace"));
  assert.ok(first("b-1", "replace"));
  assert.ok(first("a-2", "domain"), "a-2 waits behind zone a's maxReplacing");
  // a-2 is replaced only once a-1's replacement ended.
  assert.ok(Date.parse(first("a-2", "replace")!) >= Date.parse(first("a-1", "replaced")!));
});
