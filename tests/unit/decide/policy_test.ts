import assert from "node:assert/strict";
import { alertOf } from "../../alerts.ts";
import {
  chooseAction,
  DEFAULT_POLICY,
  matches,
  parseMatcher,
  parsePolicy,
  splitMatchers,
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
  assert.throws(() => parseMatcher('a=~"("'), /invalid regular expression "\("/);
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

Deno.test('the default policy cordons heal="true" alerts behind 51%, 5 an hour and a 10-minute cooldown', () => {
  assert.equal(chooseAction(DEFAULT_POLICY, alertOf({ heal: "true" })).action, "cordon");
  assert.equal(chooseAction(DEFAULT_POLICY, alertOf({ heal: "false" })).action, undefined);
  assert.deepEqual(DEFAULT_POLICY.gates, {
    nodeSelector: {},
    minHealthy: "51%",
    maxConcurrent: 1,
    rate: { max: 5, windowMs: 3_600_000 },
    cooldownMs: 600_000,
    paused: false,
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
`);
  assert.deepEqual(p.gates, {
    nodeSelector: { pool: "general" },
    minHealthy: 3,
    maxConcurrent: 1,
    rate: { max: 2, windowMs: 1_800_000 },
    cooldownMs: 90_000,
    paused: true,
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
    ["gates: { minHealty: 2 }", /field "gates" has unknown keys minHealty/],
    ["rules: []", /field "rules"/],
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
  assert.throws(() => parseMatcher('a=~"(?=x)"'), /RE2 has no lookaround/);
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
