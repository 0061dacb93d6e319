// Unit tests of the embedded API server's parts that need no HTTP: selectors, store, printers, seed.
import assert from "node:assert/strict";
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  selectorMatches,
} from "../../../lib/embedded/store/selectors.ts";
import { Store } from "../../../lib/embedded/store/store.ts";
import { humanDuration } from "../../../lib/embedded/table/printers.ts";
import {
  defaultTopology,
  nodeAddress,
  nodeIndexOf,
  workerName,
} from "../../../lib/embedded/seed/topology.ts";
import { budgetStatus } from "../../../lib/embedded/handlers/disruption.ts";
import { ApiError } from "../../../lib/embedded/store/errors.ts";

Deno.test("label selectors support equality, inequality, set and existence requirements", () => {
  const labels = { app: "web", tier: "front", env: "prod" };
  const cases: [string, boolean][] = [
    ["app=web", true],
    ["app==web", true],
    ["app!=web", false],
    ["app in (web,api)", true],
    ["app notin (web,api)", false],
    ["tier,!canary", true],
    ["!app", false],
    ["app=web,env in (prod, staging),missing!=x", true],
    ["app=web,env=dev", false],
    ["", true],
  ];
  for (const [text, expected] of cases) {
    assert.equal(matchesLabels(parseLabelSelector(text), labels), expected, text);
  }
  assert.throws(() => parseLabelSelector("app in web"), (e: ApiError) => e.code === 400);
});

Deno.test("field selectors support =, == and != with escaped commas", () => {
  const fields = { "spec.nodeName": "a,b", "status.phase": "Running" };
  assert.equal(matchesFields(parseFieldSelector("spec.nodeName=a\\,b"), fields), true);
  assert.equal(
    matchesFields(parseFieldSelector("status.phase!=Failed,status.phase==Running"), fields),
    true,
  );
  assert.equal(matchesFields(parseFieldSelector("status.phase!=Running"), fields), false);
  assert.throws(() => parseFieldSelector("nonsense"), (e: ApiError) => e.code === 400);
});

Deno.test("the store stamps rising resourceVersions and replays history until it is compacted", () => {
  const store = new Store({ historySize: 3 });
  const start = store.resourceVersion;
  const a = store.put("/nodes", "a", { metadata: { name: "a" } });
  const b = store.put("/nodes", "b", { metadata: { name: "b" } });
  assert.ok(Number(b.metadata?.resourceVersion) > Number(a.metadata?.resourceVersion));
  assert.deepEqual(store.changesSince("/nodes", start)?.map((c) => c.type), ["ADDED", "ADDED"]);
  store.put("/nodes", "a", { metadata: { name: "a", labels: { x: "1" } } });
  const gone = store.remove("/nodes", "b")!;
  assert.ok(Number(gone.metadata?.resourceVersion) > Number(b.metadata?.resourceVersion));
  // Four changes with room for three: resuming from before the first is too old.
  assert.equal(store.changesSince("/nodes", start), undefined);
  assert.deepEqual(
    store.changesSince("/nodes", Number(a.metadata?.resourceVersion))?.map((c) => c.type),
    ["ADDED", "MODIFIED", "DELETED"],
  );
  const now = store.resourceVersion;
  store.compact();
  assert.equal(store.changesSince("/nodes", now), undefined);
  assert.deepEqual(store.changesSince("/nodes", store.resourceVersion), []);
  assert.deepEqual(store.list("/nodes").map((o) => o.metadata?.name), ["a"]);
});

Deno.test("humanDuration formats ages like kubectl", () => {
  const s = 1000, m = 60 * s, h = 60 * m, d = 24 * h;
  const cases: [number, string][] = [
    [-5 * s, "<invalid>"],
    [0, "0s"],
    [119 * s, "119s"],
    [2 * m, "2m"],
    [5 * m + 7 * s, "5m7s"],
    [45 * m, "45m"],
    [3 * h + 20 * m, "3h20m"],
    [30 * h, "30h"],
    [3 * d + 4 * h, "3d4h"],
    [40 * d, "40d"],
    [3 * 365 * d + 10 * d, "3y10d"],
  ];
  for (const [ms, text] of cases) assert.equal(humanDuration(ms), text, `${ms} ms`);
});

Deno.test("the default topology follows kind's names and addresses for any size", () => {
  assert.equal(workerName(1), "heal-worker");
  assert.equal(workerName(2), "heal-worker2");
  assert.equal(nodeAddress(0), "172.18.0.2");
  assert.equal(nodeAddress(253), "172.18.0.255");
  assert.equal(nodeAddress(254), "172.18.1.0");
  for (const i of [0, 1, 253, 254, 255, 5000]) assert.equal(nodeIndexOf(nodeAddress(i)), i);
  const small = defaultTopology();
  const nodes = small.filter((o) => o.kind === "Node").map((o) => o.metadata?.name);
  assert.deepEqual(nodes, ["heal-control-plane", "heal-worker", "heal-worker2", "heal-worker3"]);
  const big = defaultTopology({ workers: 50 });
  assert.equal(big.filter((o) => o.kind === "Node").length, 51);
  const names = big.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`);
  assert.equal(new Set(names).size, names.length, "every object name is unique");
  assert.throws(() => defaultTopology({ workers: -1 }), /workers must be a whole number/);
});

Deno.test("a disruption budget counts healthy matching pods against minAvailable and maxUnavailable", () => {
  const pod = (name: string, ready: boolean) => ({
    metadata: { name, labels: { app: "web" } },
    status: { phase: "Running", conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  });
  const pods = [pod("a", true), pod("b", true), pod("c", false)];
  const budget = (spec: Record<string, unknown>) => ({
    metadata: { name: "b", generation: 1 },
    spec: { selector: { matchLabels: { app: "web" } }, ...spec },
  });
  const min = budgetStatus(budget({ minAvailable: 1 }), pods, {
    now: Date.parse("2026-01-01T00:00:00Z"),
  });
  assert.equal(min.currentHealthy, 2);
  assert.equal(min.disruptionsAllowed, 1);
  const pct = budgetStatus(budget({ minAvailable: "50%" }), pods, {
    now: Date.parse("2026-01-01T00:00:00Z"),
  });
  assert.equal(pct.desiredHealthy, 2);
  assert.equal(pct.disruptionsAllowed, 0);
  const maxU = budgetStatus(budget({ maxUnavailable: 1 }), pods, {
    now: Date.parse("2026-01-01T00:00:00Z"),
  });
  assert.equal(maxU.desiredHealthy, 2);
  assert.equal(maxU.disruptionsAllowed, 0);
  assert.equal(selectorMatches({}, { any: "thing" }), true);
  assert.equal(selectorMatches(undefined, { any: "thing" }), false);
  assert.equal(
    selectorMatches({ matchExpressions: [{ key: "app", operator: "In", values: ["web"] }] }, {
      app: "web",
    }),
    true,
  );
});
