import assert from "node:assert/strict";
import { alertOf } from "../../support/alerts.ts";
import {
  chooseAction,
  DEFAULT_POLICY,
  matches,
  parseMatcher,
  parsePolicy,
  splitMatchers,
  withClusterName,
} from "../../../lib/decide/policy.ts";

Deno.test("parseMatcher() reads Alertmanager's four operators, quoted or not", () => {
  const labels = { heal: "true", alertname: "NodeHighCPU", severity: "warning" };
  const cases: [string, boolean][] = [
    ['heal="true"', true],
    ["heal=true", true],
    ['severity!="info"', true],
    ['alertname=~"Node.*"', true],
    ['alertname=~"High"', false],
    ['alertname!~"Node(Disk|Mem).*"', true],
    ['missing=""', true],
    ['missing!=""', false],
  ];
  for (const [text, expected] of cases) {
    assert.equal(matches(parseMatcher(text), labels), expected, text);
  }
  assert.throws(
    () => parseMatcher("heal~true"),
    /must be a matcher such as heal="true", got "heal~true"/,
  );
  assert.throws(() => parseMatcher('a=~"("'), /RE2: missing closing \): .*"\("$/);
});

Deno.test("chooseAction() takes the first matching rule and lets heal_action pick among its actions", () => {
  const policy = parsePolicy(`
rules:
  - name: never-info
    match: ['severity="info"']
    actions: [none]
  - name: nodes
    match: ['heal="true"', 'alertname=~"Node.*"']
    actions: [cordon, none]
`);
  const pick = (labels: Record<string, string>) => {
    const c = chooseAction(policy, alertOf(labels));
    return c.action ? { action: c.action, rule: c.rule } : c;
  };
  assert.deepEqual(pick({ heal: "true", alertname: "NodeDown" }), {
    action: "cordon",
    rule: "nodes",
  });
  assert.deepEqual(pick({ heal: "true", alertname: "NodeDown", severity: "info" }), {
    action: "none",
    rule: "never-info",
  });
  assert.deepEqual(pick({ heal: "true", alertname: "NodeDown", heal_action: "none" }), {
    action: "none",
    rule: "nodes",
  });
  const refused = chooseAction(
    policy,
    alertOf({ heal: "true", alertname: "NodeDown", heal_action: "drain" }),
  );
  assert.equal(refused.action, undefined);
  assert.match(
    (refused as { why: string }).why,
    /heal_action "drain" is not allowed by rule "nodes"/,
  );
  assert.deepEqual(chooseAction(policy, alertOf({ alertname: "Other" })), {
    why: "no policy rule matches it",
  });
});

Deno.test('the default policy cordons heal="true" alerts behind 51%, 5 an hour and a 10-minute cooldown, and replaces one at a time, two an hour', () => {
  assert.equal(chooseAction(DEFAULT_POLICY, alertOf({ heal: "true" })).action, "cordon");
  assert.equal(chooseAction(DEFAULT_POLICY, alertOf({ heal: "false" })).action, undefined);
  assert.deepEqual(DEFAULT_POLICY.gates, {
    nodeSelector: {},
    minHealthy: "51%",
    maxConcurrent: 1,
    rate: { max: 5, windowMs: 3_600_000 },
    cooldownMs: 600_000,
    paused: false,
    maxReplacing: 1,
    replaceRate: { max: 2, windowMs: 3_600_000 },
  });
  assert.deepEqual(parsePolicy(""), DEFAULT_POLICY);
});

Deno.test("parsePolicy() reads every gate and keeps defaults for the rest", () => {
  const p = parsePolicy(`
gates:
  nodeSelector: { pool: general }
  minHealthy: 3
  rate: { max: 2, window: 30m }
  cooldown: 90s
  paused: true
  replaceRate: { max: 4, window: 1h }
`);
  assert.deepEqual(p.gates, {
    nodeSelector: { pool: "general" },
    minHealthy: 3,
    maxConcurrent: 1,
    rate: { max: 2, windowMs: 1_800_000 },
    cooldownMs: 90_000,
    paused: true,
    maxReplacing: 1,
    replaceRate: { max: 4, windowMs: 3_600_000 },
  });
  assert.deepEqual(p.rules, DEFAULT_POLICY.rules);
});

Deno.test("parsePolicy() refuses a bad file naming the field and the value", () => {
  const cases: [string, RegExp][] = [
    [
      "rules: [{ name: x, match: ['heal~true'], actions: [cordon] }]",
      /field "rules\[0\]\.match\[0\]" must be a matcher/,
    ],
    [
      "rules: [{ name: x, match: ['a=b'], actions: [reboot] }]",
      /field "rules\[0\]\.actions\[0\]".*got "reboot"/,
    ],
    ["gates: { minHealthy: '120%' }", /field "gates\.minHealthy".*got "120%"/],
    [
      "gates: { rate: { max: 5, window: soon } }",
      /field "gates\.rate\.window" must be a duration.*got "soon"/,
    ],
    ["gates: { cooldown: 10 }", /field "gates\.cooldown".*got 10/],
    ["gates: { minHealty: 2 }", /unknown key "minHealty" in gates; did you mean "minHealthy"\?$/],
    ["rules: []", /field "rules"/],
    [
      "rules: [{ name: x, match: ['a=b'], actions: [cordon, drain, replace] }]",
      /field "rules\[0\]\.replace" must say how to replace/,
    ],
    [
      "rules: [{ name: x, match: ['a=b'], actions: [replace], replace: { provider: ec2 } }]",
      /field "rules\[0\]\.replace\.provider" must name a provider: one of karpenter, .*got "ec2"/,
    ],
    [
      "rules: [{ name: x, match: ['a=b'], actions: [replace], replace: { provider: aws-asg, region: Virginia } }]",
      /field "rules\[0\]\.replace\.region" must be an AWS region.*got "Virginia"/,
    ],
    [
      "rules: [{ name: x, match: ['a=b'], actions: [replace], replace: { provider: karpenter, project: p } }]",
      /unknown key "project" in rules\[0\]\.replace; valid keys here: /,
    ],
    [
      "rules: [{ name: x, match: ['a=b'], actions: [replace], replace: { provider: gcp-mig, endpoint: 'ftp://x' } }]",
      /field "rules\[0\]\.replace\.endpoint" must be an http:\/\/ or https:\/\/ URL/,
    ],
    [
      "gates: { replaceRate: { max: 2, window: 0s } }",
      /field "gates\.replaceRate\.window" must be longer than 0/,
    ],
    ["gates: { maxReplacing: 0 }", /field "gates\.maxReplacing"/],
    [
      "rules: [{ name: x, match: ['a=b'], actions: [cordon], replace: { provider: karpenter } }]",
      /field "rules\[0\]\.replace" says how to replace, but actions does not list replace/,
    ],
    [
      "rules: [{ name: x, match: ['a=b'], actions: [replace], replace: { provider: karpenter, timeout: 0s } }]",
      /field "rules\[0\]\.replace\.timeout" must be longer than 0/,
    ],
    [
      "rules: [{ name: x, match: ['heal=\"true\"'], actions: [drain], drain: { timeout: 0s } }]",
      /field "rules\[0\]\.drain\.timeout" must be longer than 0, got "0s"/,
    ],
    [
      "rules: [{ name: x, match: ['a=b'], actions: [replace], replace: { provider: karpenter, timeout: 25h } }]",
      /field "rules\[0\]\.replace\.timeout" must be at most 24h/,
    ],
    [
      `rules: [{ name: ${"r".repeat(254)}, match: ['a=b'], actions: [cordon] }]`,
      /field "rules\[0\]\.name"/,
    ],
    ["{ not yaml", /Cannot load policy: not YAML/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parsePolicy(text), (err: Error) => {
      assert.match(err.message, /^Cannot load policy: /);
      assert.match(err.message, message);
      return true;
    }, text);
  }
});

Deno.test("matchers unescape as Alertmanager does and take braces and comma lists", () => {
  const dotted = parseMatcher('instance=~"172\\.18\\.0\\.3:9100"');
  assert.equal(matches(dotted, { instance: "172.18.0.3:9100" }), true);
  assert.equal(matches(dotted, { instance: "172x18y0z3:9100" }), false, "\\. stays an escaped dot");
  assert.equal(matches(parseMatcher('node=~"worker\\d+"'), { node: "worker12" }), true);
  assert.equal(parseMatcher('summary="a \\"b\\" c"').value, 'a "b" c');
  assert.deepEqual(splitMatchers('{heal="true", severity=~"warn,crit"}'), [
    'heal="true"',
    'severity=~"warn,crit"',
  ]);
  const policy = parsePolicy(
    `rules: [{ name: r, match: ['{heal="true", severity!="info"}'], actions: [cordon] }]`,
  );
  assert.equal(policy.rules[0].match.length, 2);
  assert.throws(
    () => parseMatcher('a=~"(?=x)"'),
    /Alertmanager would refuse \(RE2: invalid or unsupported Perl syntax/,
  );
});

Deno.test("parsePolicy() refuses repeated rule names and a zero rate window", () => {
  assert.throws(
    () =>
      parsePolicy(
        "rules: [{ name: a, match: ['x=y'], actions: [cordon] }, { name: a, match: ['y=z'], actions: [none] }]",
      ),
    /field "rules\[1\]\.name" repeats the rule name "a"/,
  );
  assert.throws(
    () => parsePolicy("gates: { rate: { max: 5, window: 0s } }"),
    /field "gates\.rate\.window" must be longer than 0/,
  );
});

Deno.test("parsePolicy() reads a replace rule: its provider's keys, its timeout and replaceAfter", () => {
  const p = parsePolicy(`
acknowledge: [noHealOptIn, replaceByDefault]
rules:
  - name: replace-broken
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replaceAfter: 5m
    replace: { provider: aws-asg, region: eu-west-1, endpoint: "http://127.0.0.1:4566", timeout: 15m }
  - name: karpenter
    match: ['pool="k"']
    actions: [replace]
    replace: { provider: karpenter }
gates: { maxReplacing: 2 }
`);
  assert.equal(p.rules[0].replaceAfterMs, 300_000);
  assert.deepEqual(p.rules[0].replace, {
    provider: "aws-asg",
    region: "eu-west-1",
    endpoint: "http://127.0.0.1:4566",
    timeoutMs: 900_000,
  });
  assert.deepEqual(p.rules[1].replace, { provider: "karpenter", timeoutMs: 1_200_000 });
  assert.equal(p.rules[1].replaceAfterMs, 0);
  assert.equal(p.gates.maxReplacing, 2);
  assert.deepEqual(p.gates.replaceRate, { max: 2, windowMs: 3_600_000 });
  assert.equal(
    chooseAction(p, alertOf({ heal: "true", heal_action: "replace" })).action,
    "replace",
  );
});

Deno.test("parsePolicy() reads cluster: as the labels that make an alert this cluster's", () => {
  assert.equal(parsePolicy("").cluster, undefined);
  assert.equal(DEFAULT_POLICY.cluster, undefined);
  assert.deepEqual(parsePolicy("cluster: { cluster: prod }").cluster, { cluster: "prod" });
  assert.deepEqual(parsePolicy("cluster: { cluster: prod, region: eu-west-1 }").cluster, {
    cluster: "prod",
    region: "eu-west-1",
  });
  assert.deepEqual(parsePolicy('cluster: { env: "5" }').cluster, { env: "5" });
});

Deno.test("parsePolicy() refuses a cluster: that could not work, naming the field and the value", () => {
  const cases: [string, string][] = [
    [
      "cluster: {}",
      'field "cluster" must name at least one label, such as "cluster: prod", got an empty map',
    ],
    [
      "cluster: prod",
      'field "cluster" must map label names to values, such as { cluster: prod }, got "prod"',
    ],
    [
      "cluster: { 1st: prod }",
      'field "cluster.1st" must be a label name such as "cluster", got "1st"',
    ],
    [
      "cluster: { cluster-name: prod }",
      'field "cluster.cluster-name" must be a label name such as "cluster", got "cluster-name"',
    ],
    [
      'cluster: { cluster: "" }',
      'field "cluster.cluster" must be a label value of 1 to 253 printable characters, got ""',
    ],
    [
      'cluster: { cluster: "a\\u0007" }',
      'field "cluster.cluster" must be a label value of 1 to 253 printable characters, got "a\\u0007"',
    ],
    [
      "cluster: { cluster: 5 }",
      'field "cluster.cluster" must be a string; quote a number, such as "5", got 5',
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parsePolicy(text, "policy p.yaml"), {
      message: `Cannot load policy p.yaml: ${message}`,
    }, text);
  }
});

Deno.test("withClusterName() gives a policy without cluster: the --cluster-name, and never overrides one", () => {
  assert.deepEqual(withClusterName(DEFAULT_POLICY, "prod").cluster, { cluster: "prod" });
  assert.equal(withClusterName(DEFAULT_POLICY, undefined), DEFAULT_POLICY);
  assert.equal(withClusterName(DEFAULT_POLICY, ""), DEFAULT_POLICY);
  const own = parsePolicy("cluster: { k8s_cluster: prod-eu }");
  assert.deepEqual(withClusterName(own, "staging").cluster, { k8s_cluster: "prod-eu" });
  assert.equal(DEFAULT_POLICY.cluster, undefined, "the default is left as it is");
});
