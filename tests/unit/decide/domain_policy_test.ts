// gates.domains and gates.breaker as the policy reads them: the shape the docs show is accepted,
// a bad entry is refused in one line naming its field, and the helpers every domain message
// uses (scaled budgets, domain names) round and quote as they say.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import {
  DEFAULT_RELEASE_MS,
  domainName,
  domainValue,
  MAX_DOMAIN_GATES,
  scaled,
} from "../../../lib/decide/domain_policy.ts";

const ZONE = "topology.kubernetes.io/zone";

Deno.test("parsePolicy() reads gates.domains and gates.breaker as the docs show them", () => {
  const p = parsePolicy(`
gates:
  domains:
    - key: topology.kubernetes.io/zone
      maxUnavailable: 1
      maxCordoned: "34%"
      maxConcurrent: 1
      maxReplacing: 2
    - key: karpenter.sh/nodepool
      minHealthy: "80%"
  breaker:
    key: topology.kubernetes.io/zone
    alerting: 3
    within: 5m
    quiet: 15m
`);
  assert.deepEqual(p.gates.domains, [
    { key: ZONE, maxUnavailable: 1, maxCordoned: "34%", maxConcurrent: 1, maxReplacing: 2 },
    { key: "karpenter.sh/nodepool", minHealthy: "80%" },
  ]);
  assert.deepEqual(p.gates.breaker, {
    key: ZONE,
    alerting: 3,
    withinMs: 300_000,
    quietMs: 900_000,
    releaseMs: DEFAULT_RELEASE_MS,
  });
  assert.equal(DEFAULT_RELEASE_MS, 60_000);
});

Deno.test("parsePolicy() reads a breaker without a key (the whole selection) and its release", () => {
  const p = parsePolicy("gates: { breaker: { alerting: 2, within: 1m, quiet: 2m, release: 30s } }");
  assert.deepEqual(p.gates.breaker, {
    alerting: 2,
    withinMs: 60_000,
    quietMs: 120_000,
    releaseMs: 30_000,
  });
  assert.equal("key" in p.gates.breaker!, false);
  assert.equal(parsePolicy("").gates.breaker, undefined);
  assert.equal(parsePolicy("").gates.domains, undefined);
});

Deno.test("parsePolicy() refuses a bad domain or breaker in one line naming the field", () => {
  const domain = (entry: string) => `gates: { domains: [${entry}] }`;
  const tooMany = Array.from(
    { length: MAX_DOMAIN_GATES + 1 },
    (_, i) => `{ key: k${i}, maxConcurrent: 1 }`,
  ).join(", ");
  const cases: [string, RegExp][] = [
    [
      domain(`{ key: ${ZONE}, maxUnavailable: 1 }, { key: ${ZONE}, maxConcurrent: 1 }`),
      /field "gates\.domains" must name each key once/,
    ],
    [
      "gates: { breaker: { alerting: 3, within: 5m, quiet: 0s } }",
      /field "gates\.breaker\.quiet" must be longer than 0/,
    ],
    [
      "gates: { breaker: null }",
      /field "gates\.breaker" must be a map such as \{ alerting: 3, within: 5m, quiet: 15m \}/,
    ],
    [
      domain("{ key: k, maxUnavailable: -1 }"),
      /field "gates\.domains\[0\]\.maxUnavailable" must be 0 or more, got -1/,
    ],
    [
      "gates: { breaker: { alerting: 3, within: 5m } }",
      /field "gates\.breaker\.quiet" must be a duration such as "90s", "10m" or "1h", got nothing/,
    ],
    [
      domain(`{ key: ${ZONE}, maxUnavailable: 1, maxSurge: 1 }`),
      /unknown key "maxSurge" in gates\.domains\[0\]; valid keys here: "key", "minHealthy"/,
    ],
    [
      domain(`{ key: ${ZONE} }`),
      /field "gates\.domains\[0\]" must set at least one of minHealthy, maxUnavailable, maxCordoned, maxConcurrent, maxReplacing/,
    ],
    [
      domain("{ key: 'topology zone', maxUnavailable: 1 }"),
      /field "gates\.domains\[0\]\.key" must be a Node label key .*got "topology zone"/,
    ],
    [
      domain("{ key: 'Example.COM/zone', maxUnavailable: 1 }"),
      /field "gates\.domains\[0\]\.key" must be a Node label key/,
    ],
    [domain(`{ key: ${"k".repeat(64)}, maxUnavailable: 1 }`), /field "gates\.domains\[0\]\.key"/],
    [
      "gates: { breaker: { alerting: 1, within: 5m, quiet: 15m } }",
      /field "gates\.breaker\.alerting" must be at least 2.*got 1$/,
    ],
    [
      "gates: { breaker: { alerting: 3, within: 0s, quiet: 15m } }",
      /field "gates\.breaker\.within" must be longer than 0, got "0s"$/,
    ],
    [
      "gates: { breaker: { key: 'a b', alerting: 3, within: 5m, quiet: 15m } }",
      /field "gates\.breaker\.key" must be a Node label key/,
    ],
    [
      "gates: { breaker: { alerting: 3, within: 5m, quiet: 15m, open: true } }",
      /unknown key "open" in gates\.breaker/,
    ],
    [
      `gates: { domains: [${tooMany}] }`,
      /field "gates\.domains" must list at most 8 domains, got a list of 9 items$/,
    ],
    [
      domain(`{ key: ${ZONE}, minHealthy: '101%' }`),
      /field "gates\.domains\[0\]\.minHealthy" must be a count or a percentage such as "34%", got "101%"$/,
    ],
    [
      domain(`{ key: ${ZONE}, maxUnavailable: '34.5%' }`),
      /field "gates\.domains\[0\]\.maxUnavailable" must be a count or a percentage/,
    ],
    [domain(`{ key: ${ZONE}, maxCordoned: '%' }`), /field "gates\.domains\[0\]\.maxCordoned"/],
    [domain(`{ key: ${ZONE}, maxUnavailable: -1 }`), /field "gates\.domains\[0\]\.maxUnavailable"/],
    [domain(`{ key: ${ZONE}, maxConcurrent: 0 }`), /field "gates\.domains\[0\]\.maxConcurrent"/],
    [domain(`{ key: ${ZONE}, maxReplacing: '50%' }`), /field "gates\.domains\[0\]\.maxReplacing"/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parsePolicy(text), (err: Error) => {
      assert.match(err.message, /^Cannot load policy: /);
      assert.match(err.message, message);
      assert.equal(err.message.includes("\n"), false, "one line");
      return true;
    }, text);
  }
});

Deno.test("scaled() takes counts as they are, rounds percentages down or (what must stay) up", () => {
  const cases: [number | string, number, "up" | "down", number][] = [
    [1, 4, "down", 1],
    [7, 4, "up", 7],
    ["34%", 4, "down", 1],
    ["34%", 4, "up", 2],
    ["34%", 3, "down", 1],
    ["34%", 2, "down", 0],
    ["50%", 4, "down", 2],
    ["50%", 4, "up", 2],
    ["80%", 9, "up", 8],
    ["80%", 9, "down", 7],
    ["100%", 5, "down", 5],
    ["0%", 5, "up", 0],
    ["34%", 0, "up", 0],
  ];
  for (const [value, total, round, want] of cases) {
    assert.equal(scaled(value, total, round), want, `${value} of ${total} rounded ${round}`);
  }
});

Deno.test("domainName() names a domain by the key's last part; domainValue() reads and bounds it", () => {
  assert.equal(domainName(ZONE, "us-east-1a"), "zone us-east-1a");
  assert.equal(domainName("karpenter.sh/nodepool", "general"), "nodepool general");
  assert.equal(domainName("rack", "r1"), "rack r1");
  assert.equal(domainName(ZONE, ""), "zone (unlabelled)");
  assert.equal(domainName(undefined, ""), "the selection");
  // A value with control characters is escaped, never written raw into a message or a log.
  assert.equal(domainName(ZONE, 'a\nb"c'), 'zone a\\nb\\"c');
  assert.equal(domainValue({ [ZONE]: "us-east-1a" }, ZONE), "us-east-1a");
  assert.equal(domainValue({}, ZONE), "");
  assert.equal(domainValue(undefined, ZONE), "");
  assert.equal(domainValue({ [ZONE]: "x".repeat(10_000) }, ZONE), "x".repeat(63));
});
