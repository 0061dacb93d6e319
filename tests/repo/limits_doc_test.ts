// docs/limits.md against the code: every limit it lists has the default the code has, and every
// limit flag of the code is listed, so the table cannot drift.
import assert from "node:assert/strict";
import { FLAGS } from "../../lib/service/config.ts";
import { LIMITS } from "../../lib/intake/alertmanager.ts";
import { MAX_HOLDS, MAX_OVERFLOW, MAX_RESOLVED } from "../../lib/decide/node_state.ts";
import { EVENT_MESSAGE_LIMIT, REMEMBERED_EVENTS } from "../../lib/report/events.ts";
import { MAX_H2_STREAMS } from "../../lib/server/guard_connection.ts";

const doc = await Deno.readTextFile(new URL("../../docs/limits.md", import.meta.url));

/** The rows of the table under a `## title`, as cells. */
function table(title: string): string[][] {
  const section = doc.split(/^## /m).find((s) => s.startsWith(title));
  assert.ok(section, `docs/limits.md has a section "${title}"`);
  return section.split("\n").filter((l) => l.startsWith("|")).slice(2)
    .map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
}

const LIMIT_FLAGS = [
  "header-timeout",
  "idle-timeout",
  "max-connections",
  "max-connections-per-client",
  "max-in-flight",
  "max-body-bytes",
  "request-timeout",
];

Deno.test("docs/limits.md lists every connection and request limit with its flag and default", async () => {
  const rows = table("Connections and requests");
  const byFlag = new Map(rows.map((r) => [r[2].replaceAll("`", "").replace(/^--/, ""), r[1]]));
  for (const flag of LIMIT_FLAGS) {
    assert.ok(FLAGS[flag], `--${flag} is a flag`);
    assert.equal(byFlag.get(flag), FLAGS[flag].serve, `the default of --${flag}`);
  }
  const relay = rows.find((r) => r[0].startsWith("bytes a request sends"));
  assert.ok(relay, "the relay's limit on request bytes is listed");
  const [twice, room] = relay[1].split("+").map((n) => Number(n.trim()));
  assert.equal(twice, 2 * Number(FLAGS["max-body-bytes"].serve));
  const service = await Deno.readTextFile(
    new URL("../../lib/service/service_http.ts", import.meta.url),
  );
  assert.match(
    service,
    new RegExp(`maxRequestBytes: 2 \\* .*\\+ ${room.toLocaleString("en").replace(",", "_")}`),
  );
});

Deno.test("docs/limits.md lists every limit on a notification with the value intake enforces", () => {
  const rows = table("What a notification may carry");
  const documented = rows.map((r) => Number(r[1])).sort((a, b) => a - b);
  const enforced = Object.values(LIMITS).map(Number).sort((a, b) => a - b);
  // Rows that name two fields share one value: compare the distinct values.
  assert.deepEqual([...new Set(documented)], [...new Set(enforced)]);
  const named = rows.map((r) => r[0]).join(" ");
  for (const field of ["fingerprint", "receiver", "groupKey", "generatorURL", "externalURL"]) {
    assert.match(named, new RegExp(field));
  }
});

Deno.test("docs/limits.md states the bounds of what node-heal writes as the code has them", () => {
  const text = table("What node-heal writes").map((r) => r.join(" ")).join("\n");
  assert.match(text, new RegExp(`node-heal.io/alerts\`\\)\\s+${MAX_HOLDS},`));
  assert.match(text, new RegExp(`alerts-overflow\`\\)\\s+${MAX_OVERFLOW}\\b`));
  assert.match(text, new RegExp(`resolved\`\\)\\s+the newest ${MAX_RESOLVED}\\b`));
  assert.match(text, new RegExp(`message\\s+${EVENT_MESSAGE_LIMIT} characters`));
});

Deno.test("docs/limits.md states how many Events node-heal remembers as the code has it", () => {
  const remembered = REMEMBERED_EVENTS.toLocaleString("en-US");
  assert.match(doc, new RegExp(`last ${remembered} Events it wrote`));
});

Deno.test("docs/limits.md states the bounds of the API server's answers as the code has them", async () => {
  const { MAX_OBJECT_BYTES } = await import("../../lib/act/kube/raw.ts");
  const { MAX_PAGE_BYTES } = await import("../../lib/act/kube/pages.ts");
  const rows = table("What node-heal reads");
  const bound = (start: string) => Number(rows.find((r) => r[0].startsWith(start))?.[1]);
  assert.equal(bound("the API server's answer about one object"), MAX_OBJECT_BYTES);
  assert.equal(bound("the API server's page of a list"), MAX_PAGE_BYTES);
});

Deno.test("docs/limits.md states the bounds of policy regexes as the code has them", async () => {
  const { MAX_PATTERN_LENGTH } = await import("../../lib/decide/matchers.ts");
  const rows = table("Policy regexes");
  assert.equal(Number(rows.find((r) => r[0].startsWith("characters of"))?.[1]), MAX_PATTERN_LENGTH);
});

Deno.test("docs/limits.md states what node-heal reads of a receiver and of Compute Engine, and a queue's weight, as the code has them", async () => {
  const { MAX_ANSWER_BYTES } = await import("../../lib/report/notify/http.ts");
  const { QUEUE_DEFAULTS } = await import("../../lib/report/notify/queue.ts");
  const { MAX_COMPUTE_ANSWER_BYTES } = await import("../../lib/act/replace/gcp_mig.ts");
  const reads = table("What node-heal reads");
  const read = (what: RegExp) => Number(reads.find((r) => what.test(r[0]))?.[1]);
  assert.equal(read(/receiver's answer/), MAX_ANSWER_BYTES);
  assert.equal(read(/Compute Engine/), MAX_COMPUTE_ANSWER_BYTES);
  const notify = table("Notifications");
  assert.equal(Number(notify.find((r) => /weigh/.test(r[0]))?.[1]), QUEUE_DEFAULTS.maxBytes);
  assert.equal(Number(notify.find((r) => /answer read/.test(r[0]))?.[1]), MAX_ANSWER_BYTES);
  assert.equal(
    notify.find((r) => /one attempt/.test(r[0]))?.[1],
    `${QUEUE_DEFAULTS.attemptMs / 1000}s`,
  );
});

Deno.test("docs/limits.md states the bounds of AWS and Google token answers as the code has them", async () => {
  const { MAX_AWS_ANSWER_BYTES } = await import("../../lib/act/replace/aws_asg.ts");
  const { MAX_TOKEN_ANSWER_BYTES } = await import("../../lib/act/replace/gcp_auth.ts");
  const rows = table("What node-heal reads");
  const bound = (start: string) => Number(rows.find((r) => r[0].startsWith(start))?.[1]);
  assert.equal(bound("an AWS answer"), MAX_AWS_ANSWER_BYTES);
  assert.equal(bound("a Google token answer"), MAX_TOKEN_ANSWER_BYTES);
});

Deno.test("docs/limits.md states the bounds of the backtest's Prometheus answers as the code has them", async () => {
  const { ANSWER_LIMITS } = await import("../../lib/backtest/prometheus_answer.ts");
  const { MAX_STRING_BYTES } = await import("../../lib/backtest/json_tokens.ts");
  const { MAX_EPISODES, MAX_SERIES } = await import("../../lib/backtest/history.ts");
  const { USAGE } = await import("../../lib/backtest/cli_args.ts");
  const rows = table("What node-heal reads").filter((r) => /backtest/.test(r[0]));
  const row = (words: RegExp) => {
    const found = rows.find((r) => words.test(r[0]));
    assert.ok(found, `a row ${words}`);
    return found;
  };
  const answer = row(/^Prometheus's answer/);
  assert.equal(answer[1], String(ANSWER_LIMITS.bytes));
  assert.match(answer[2], /--max-answer-bytes/);
  assert.match(USAGE, new RegExp(`--max-answer-bytes N .*default ${ANSWER_LIMITS.bytes}`));
  assert.equal(row(/^series/)[1], String(ANSWER_LIMITS.series));
  assert.equal(MAX_SERIES, ANSWER_LIMITS.series);
  assert.equal(row(/^samples/)[1], String(ANSWER_LIMITS.samples));
  assert.equal(row(/^labels/)[1], `${ANSWER_LIMITS.labels}, and ${ANSWER_LIMITS.labelBytes} bytes`);
  assert.equal(row(/^a string/)[1], String(MAX_STRING_BYTES));
  assert.equal(row(/^firing periods/)[1], String(MAX_EPISODES));
});

Deno.test("docs/limits.md states the relay's HTTP/2 bounds as the code has them", () => {
  const rows = table("Connections and requests");
  const row = (start: string) => {
    const found = rows.find((r) => r[0].startsWith(start));
    assert.ok(found, `a row "${start}..."`);
    return found;
  };
  const request = row("bytes a request sends")[1];
  assert.equal(row("bytes an HTTP/2 stream sends")[1], request);
  assert.equal(row("bytes sent on HTTP/2 streams already ended")[1], request);
  assert.equal(Number(row("HTTP/2 streams open at once")[1]), MAX_H2_STREAMS);
  // Both are the relay's allowance of one request (guard_connection.ts's countSent).
  const code = Deno.readTextFileSync(
    new URL("../../lib/server/guard_connection.ts", import.meta.url),
  );
  assert.match(
    code,
    /maxStreamBytes: maxRequestBytes,\s+maxStreams: MAX_H2_STREAMS,\s+strayBytes: maxRequestBytes/,
  );
});

Deno.test("docs/limits.md states the bounds on the kubeconfig as the reader has them", async () => {
  const { KUBECONFIG_LIMITS, TOKEN_BYTES } = await import("../../lib/act/kube/kubeconfig.ts");
  const rows = new Map(table("The kubeconfig").map((r) => [r[0], Number(r[1])]));
  const expected: [RegExp, number][] = [
    [/^bytes of the kubeconfig/, KUBECONFIG_LIMITS.bytes],
    [/^nesting of collections/, KUBECONFIG_LIMITS.depth],
    [/^indentation/, KUBECONFIG_LIMITS.indent],
    [/^values, each alias/, KUBECONFIG_LIMITS.values],
    [/^aliases/, KUBECONFIG_LIMITS.aliases],
    [/^bytes of a token file/, TOKEN_BYTES],
    // CA and certificate files are read within the kubeconfig's own bound (transport.ts).
    [/^bytes of a CA/, KUBECONFIG_LIMITS.bytes],
  ];
  for (const [name, value] of expected) {
    const row = [...rows].find(([k]) => name.test(k));
    assert.ok(row, `a row ${name}`);
    assert.equal(row[1], value, String(name));
  }
  assert.equal(rows.size, expected.length, "every row is checked");
});

Deno.test("docs/limits.md states the bounds on the policy file as the code has them", async () => {
  const { POLICY_LIMITS } = await import("../../lib/decide/policy_yaml.ts");
  const { QUOTE_MAX, REFUSAL_MAX } = await import("../../lib/decide/policy_refusal.ts");
  const { MAX_SECRET_BYTES } = await import("../../lib/report/notify/sinks.ts");
  // The bounds' table: its rows have a number in "at most" (the figures' table below does not).
  const rows = new Map(
    table("Policy and configuration files").filter((r) => /^\d+$/.test(r[1]))
      .map((r) => [r[0], Number(r[1])]),
  );
  const expected: [RegExp, number][] = [
    [/^bytes of the file/, POLICY_LIMITS.bytes],
    [/^nesting of collections/, POLICY_LIMITS.depth],
    [/^indentation/, POLICY_LIMITS.indent],
    [/^values, each alias/, POLICY_LIMITS.values],
    [/^aliases/, POLICY_LIMITS.aliases],
    [/^characters of a value quoted/, QUOTE_MAX],
    [/^characters of a refusal/, REFUSAL_MAX],
    [/^bytes of a secret's file/, MAX_SECRET_BYTES],
  ];
  for (const [name, value] of expected) {
    const row = [...rows].find(([k]) => name.test(k));
    assert.ok(row, `a row ${name}`);
    assert.equal(row[1], value, String(name));
  }
  assert.equal(rows.size, expected.length, "every row is checked");
});

Deno.test("docs/policy.md states every duration's bound and every danger as the code has them", async () => {
  const { MAX_DURATIONS } = await import("../../lib/decide/duration_policy.ts");
  const { DANGERS, RATE_CEILING_PER_HOUR, REPLACE_RATE_CEILING_PER_HOUR } = await import(
    "../../lib/decide/danger_policy.ts"
  );
  const { formatDuration } = await import("../../lib/base/duration.ts");
  const policyDoc = await Deno.readTextFile(new URL("../../docs/policy.md", import.meta.url));
  const section = policyDoc.split(/^## /m).find((s) => s.startsWith("Refusals, bounds"))!;
  const rows = section.split("\n").filter((l) => l.startsWith("| `")).map((l) =>
    l.split("|").slice(1, -1).map((c) => c.trim())
  );
  const bound = (field: string) => rows.find((r) => r[0].includes(`\`${field}\``))?.[1];
  assert.equal(bound("rules[].drainAfter"), formatDuration(MAX_DURATIONS.after));
  assert.equal(bound("rules[].drain.timeout"), formatDuration(MAX_DURATIONS.timeout));
  assert.equal(bound("gates.rate.window"), formatDuration(MAX_DURATIONS.window));
  assert.equal(bound("gates.cooldown"), formatDuration(MAX_DURATIONS.window));
  assert.equal(bound("notify[].blockedEvery"), formatDuration(MAX_DURATIONS.blockedEvery));
  for (const danger of DANGERS) assert.ok(bound(danger), `the danger ${danger} is listed`);
  assert.match(
    bound("highRate")!,
    new RegExp(`more than ${RATE_CEILING_PER_HOUR} .* more than ${REPLACE_RATE_CEILING_PER_HOUR}`),
  );
});
