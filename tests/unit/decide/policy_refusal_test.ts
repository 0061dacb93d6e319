// A policy's refusal is one short line that names the field and what was expected, and never
// quotes a secret nor anything under a key the policy does not know.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { describeGot, isSecretKey, QUOTE_MAX } from "../../../lib/decide/policy_refusal.ts";

const SECRET = "XXXXSECRETXXXX";

function refusal(text: string): string {
  try {
    parsePolicy(text, "policy p.yaml");
  } catch (err) {
    const message = (err as Error).message;
    assert.equal((err as Error).name, "PolicyRefused");
    assert.ok(!message.includes("\n"), `one line: ${message}`);
    return message;
  }
  assert.fail(`refused: ${text}`);
}

Deno.test("a refusal never quotes a secret written inline, nor what is under an unknown key", () => {
  const cases: [string, RegExp][] = [
    [
      `notify: [{ name: ops, type: slack, url: "https://hooks.slack.com/services/T0/B0/${SECRET}" }]`,
      /^Cannot load policy p\.yaml: unknown key "url" in notify\[0\]; valid keys here: "type", .*"urlFile", "urlEnv"$/,
    ],
    [
      `notify: [{ name: ops, type: webhook, url: "ftp://${SECRET}" }]`,
      /field "notify\[0\]\.url" must be an http:\/\/ or https:\/\/ URL.*, got a value not shown \("url" can hold a secret\)$/,
    ],
    [
      `notify: [{ name: ops, type: webhook, url: "https://x", headers: { Authorization: "${SECRET}\\n" } }]`,
      /field "notify\[0\]\.headers\.Authorization" must be one line, got a value not shown \("headers" can hold a secret\)/,
    ],
    [
      `notify: [{ name: ops, type: pagerduty, routingKey: ${SECRET} }]`,
      /^Cannot load policy p\.yaml: unknown key "routingKey" in notify\[0\]; valid keys here: .*"routingKeyFile"/,
    ],
    [
      `rules: [{ name: x, match: ['heal="true"'], actions: [replace], replace: { provider: aws-asg, endpoint: "ftp://${SECRET}" } }]`,
      /field "rules\[0\]\.replace\.endpoint" .*got a value not shown/,
    ],
    [
      `bogus: { token: ${SECRET} }`,
      /^Cannot load policy p\.yaml: unknown key "bogus" at the top of the file; valid keys here: "rules", /,
    ],
    [`notify: [{ type: slack, name: 5, extra: ${SECRET} }]`, /notify\[0\]/],
  ];
  for (const [text, pattern] of cases) {
    const message = refusal(text);
    assert.match(message, pattern, text);
    assert.ok(!message.includes(SECRET), `no secret in: ${message}`);
  }
});

Deno.test("a refusal quotes at most 200 characters of a value, a map by its keys and a list by its length", () => {
  const long = refusal(`gates: { minHealthy: "${"9".repeat(5000)}" }`);
  assert.ok(long.length < 400, long);
  assert.match(long, /got "9{199}…"$/);
  assert.match(
    refusal(`gates: { rate: { max: 5, window: [1, 2, 3] } }`),
    /field "gates\.rate\.window" .*, got a list of 3 items$/,
  );
  assert.match(
    refusal(`gates: { rate: { max: 1, window: 1h, a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 } }`),
    /unknown keys "a", "b", "c", "d", "e" and 2 more in gates\.rate; valid keys here: "max", "window"$/,
  );
  assert.match(refusal(`gates: { cooldown: { x: 1 } }`), /got a map with keys "x"$/);
  assert.equal(describeGot(["gates"], "é".repeat(QUOTE_MAX * 10)).length, QUOTE_MAX + 2);
});

Deno.test("isSecretKey() knows the keys that can hold a secret, and those naming where it is (a secret is written there by mistake too)", () => {
  for (
    const key of [
      "url",
      "headers",
      "routingKey",
      "secret",
      "token",
      "apiToken",
      "password",
      "urlFile",
      "urlEnv",
      "routingKeyFile",
      "secretEnv",
    ]
  ) {
    assert.ok(isSecretKey(key), key);
  }
  for (const key of ["name", "match", "type", "blockedEvery"]) assert.ok(!isSecretKey(key), key);
});

Deno.test("a refusal quotes no secret written where its file or variable belongs, as a bare sink, or as a key", () => {
  const url = "https://hooks.slack.com/services/T0SECRET/B0SECRET/xoxSECRETtoken123";
  for (
    const text of [
      `notify: [{ name: s, type: slack, urlEnv: "${url}" }]`,
      `notify: [{ name: s, type: pagerduty, routingKeyEnv: "0123456789abcdef0123456789abcdef" }]`,
      `notify: ["${url}"]`,
      `notify: [{ name: s, type: slack, "${url}": x }]`,
    ]
  ) {
    const err = (() => {
      try {
        parsePolicy(text);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    assert.ok(err, text);
    assert.ok(!/SECRET|0123456789abcdef|hooks\.slack/.test(err), err);
  }
});
