// The four sinks over real HTTP to local fakes that check each format as the real service does
// (tests/fakes/{slack,pagerduty,webhook_receiver}.ts), each behind its SinkQueue: every payload
// accepted and delivered once, a 429's Retry-After honoured, a hanging receiver cut after 5 s
// without blocking `push`, and no secret in any log line, error or metric.
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { Metrics } from "../../../lib/report/metrics.ts";
import { makeSinks } from "../../../lib/report/notify/sinks.ts";
import { SinkQueue } from "../../../lib/report/notify/queue.ts";
import type { Sink } from "../../../lib/report/notify/types.ts";
import type { SinkConfig } from "../../../lib/decide/notify_policy.ts";
import { startSlackFake } from "../../fakes/slack.ts";
import { startPagerDutyFake } from "../../fakes/pagerduty.ts";
import { startWebhookReceiver } from "../../fakes/webhook_receiver.ts";
import { waitFor } from "../../support/wait.ts";
import { event } from "../../unit/report/notify/sample.ts";

const ROUTING_KEY = "R0ut1ngK3yR0ut1ngK3yR0ut1ngK3y00";
const HMAC_KEY = "hmac-k3y-never-to-be-seen";
const base = { match: [], queue: 100, blockedEveryMs: 600_000 };

/** Every log record of node-heal, at every level, for the secrets check. */
const logged: LogRecord[] = [];

async function capture(): Promise<void> {
  await configure({
    reset: true,
    sinks: { capture: (r) => logged.push(r) },
    loggers: [
      { category: ["node-heal"], lowestLevel: "debug", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
}

/** The sinks of one test, their secrets given as the environment. */
async function sinksFor(
  slackUrl: string,
  pdEndpoint: string,
  webhookUrl: string,
): Promise<Sink[]> {
  const env: Record<string, string> = {
    SLACK_URL: slackUrl,
    PD_KEY: ROUTING_KEY,
    HOOK_KEY: HMAC_KEY,
  };
  const configs: SinkConfig[] = [
    { ...base, name: "slack", type: "slack", secret: { env: "SLACK_URL" } },
    { ...base, name: "pd", type: "pagerduty", secret: { env: "PD_KEY" }, url: pdEndpoint },
    {
      ...base,
      name: "hook",
      type: "webhook",
      url: webhookUrl,
      secret: { env: "HOOK_KEY" },
      headers: { "x-team": "sre" },
    },
    { ...base, name: "dev", type: "log" },
  ];
  return await makeSinks(configs, { env: (name) => env[name] });
}

async function count(metrics: Metrics, sink: string, result: string): Promise<number> {
  const values = (await metrics.sent.get()).values;
  return values.find((v) => v.labels.sink === sink && v.labels.result === result)?.value ?? 0;
}

Deno.test("each sink's payload is accepted by its receiver, once", async () => {
  await capture();
  await using slack = startSlackFake();
  await using pd = startPagerDutyFake();
  await using hook = startWebhookReceiver(HMAC_KEY);
  const metrics = new Metrics();
  const sinks = await sinksFor(slack.webhook, pd.endpoint, hook.url);
  const queues = sinks.map((s) => new SinkQueue(s, { capacity: 100, metrics }));
  const alert = {
    name: "NodeDiskPressure",
    fingerprint: "f1",
    labels: { alertname: "NodeDiskPressure", severity: "critical" },
    summary: "disk full",
  };
  const events = [
    event("cordoned", "node-1", { alert, step: "cordoned" }),
    event("drainStarted", "node-1", { step: "draining" }),
    event("drained", "node-1", { step: "drained" }),
    event("released", "node-1"),
  ];
  for (const e of events) for (const q of queues) q.push(e);
  await Promise.all(queues.map((q) => q.close(5000)));

  assert.deepEqual(slack.received.map((r) => r.answer), [200, 200, 200, 200]);
  assert.deepEqual(hook.received.map((r) => r.answer), [204, 204, 204, 204]);
  assert.deepEqual(hook.received.map((r) => r.headers["idempotency-key"]), events.map((e) => e.id));
  assert.ok(hook.received.every((r) => r.headers["x-team"] === "sre"));
  // PagerDuty hears the cordon and the release only: one incident, opened and resolved.
  assert.deepEqual(pd.received.map((r) => r.answer), [202, 202]);
  const pdBodies = pd.received.map((r) => JSON.parse(r.body));
  assert.deepEqual(pdBodies.map((b) => b.event_action), ["trigger", "resolve"]);
  assert.equal(pdBodies[0].dedup_key, pdBodies[1].dedup_key);
  assert.equal(await count(metrics, "slack", "sent"), 4);
  assert.equal(await count(metrics, "pd", "sent"), 2);
  assert.equal(await count(metrics, "hook", "sent"), 4);
  assert.equal(await count(metrics, "dev", "sent"), 4);
  for (const sink of ["slack", "pd", "hook", "dev"]) {
    for (const result of ["retried", "rejected", "dropped", "expired"]) {
      assert.equal(await count(metrics, sink, result), 0, `${sink} ${result}`);
    }
  }
  const printed = logged.filter((r) =>
    r.category.join(".") === "node-heal.notify" && r.properties.sink === "dev"
  );
  assert.equal(printed.length, 4);
  assert.match(String(printed[0].properties.text), /node-1 cordoned/);
});

Deno.test("a 429 with Retry-After: 1 is retried after a second, not before", async () => {
  await capture();
  await using slack = startSlackFake();
  slack.script.push({ status: 429, retryAfter: "1" });
  const [sink] = await sinksFor(
    slack.webhook,
    "http://127.0.0.1:9/v2/enqueue",
    "http://127.0.0.1:9/",
  );
  const metrics = new Metrics();
  const queue = new SinkQueue(sink, { capacity: 10, metrics });
  queue.push(event());
  await waitFor("the retry", () => slack.received.length >= 2, 5000);
  await queue.close(1000);
  const [first, second] = slack.received;
  const gap = second.at - first.at;
  assert.ok(gap >= 1000, `retried after ${gap.toFixed(0)} ms, before the Retry-After's second`);
  assert.ok(gap < 3000, `retried after ${gap.toFixed(0)} ms`);
  assert.deepEqual(slack.received.map((r) => r.answer), [429, 200]);
  assert.equal(await count(metrics, "slack", "retried"), 1);
  assert.equal(await count(metrics, "slack", "sent"), 1);
});

Deno.test("a 400 is not retried; a 500 is", async () => {
  await capture();
  await using pd = startPagerDutyFake();
  pd.script.push({ status: 500 }, { status: 400, body: '{"status":"invalid event"}' });
  const sinks = await sinksFor("http://127.0.0.1:9/s", pd.endpoint, "http://127.0.0.1:9/");
  const metrics = new Metrics();
  const queue = new SinkQueue(sinks[1], { capacity: 10, metrics, baseMs: 50 });
  const e = event("drainFailed");
  queue.push(e);
  queue.push(event("released"));
  await queue.close(5000);
  assert.deepEqual(pd.received.map((r) => r.answer), [500, 400, 202]);
  assert.equal(await count(metrics, "pd", "rejected"), 1);
  assert.equal(await count(metrics, "pd", "sent"), 1);
});

Deno.test("a hanging receiver blocks no push, and each attempt is given up after 5 s", async () => {
  await capture();
  await using hook = startWebhookReceiver(HMAC_KEY);
  hook.script.push("hang");
  const sinks = await sinksFor("http://127.0.0.1:9/s", "http://127.0.0.1:9/v2/enqueue", hook.url);
  const metrics = new Metrics();
  const queue = new SinkQueue(sinks[2], { capacity: 10, metrics });
  const started = performance.now();
  for (let i = 0; i < 5; i++) queue.push(event());
  const pushing = performance.now() - started;
  assert.ok(pushing < 50, `push took ${pushing} ms`);
  // The receiver never answers: the retry's arrival says when the attempt was given up (5 s,
  // then the first backoff, 0.5 to 1 s).
  await waitFor("the retry after the hang", () => hook.received.length >= 2, 9000);
  const gap = hook.received[1].at - hook.received[0].at;
  assert.ok(gap >= 5000 && gap < 7000, `retried ${gap.toFixed(0)} ms after the hang began`);
  assert.ok(
    logged.some((r) => r.properties.sink === "hook" && /timed out/.test(String(r.properties.why))),
  );
  await queue.close(5000);
  // The hung one delivered on its retry, then the four others: five deliveries, none twice.
  const ids = hook.received.filter((r) => r.answer === 204).map((r) =>
    r.headers["idempotency-key"]
  );
  assert.equal(ids.length, 5);
  assert.equal(new Set(ids).size, 5);
  assert.equal(await count(metrics, "hook", "retried"), 1);
});

Deno.test("no secret in any log line, error or metric; not even when the network fails", async () => {
  await capture();
  // A Slack URL on a port nothing listens on: fetch's own error quotes the URL.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const slackUrl = `http://127.0.0.1:${port}/services/T0/B0/sl4ckt0kensl4ckt0ken`;
  const sinks = await sinksFor(
    slackUrl,
    `http://127.0.0.1:${port}/v2/enqueue`,
    `http://127.0.0.1:${port}/h`,
  );
  const metrics = new Metrics();
  const whys: string[] = [];
  for (const sink of sinks.slice(0, 3)) {
    const attempt = await sink.deliver(event("cordoned"), AbortSignal.timeout(5000));
    assert.equal(attempt.result, "retry");
    if (attempt.result === "retry") whys.push(attempt.why);
    const queue = new SinkQueue(sink, { capacity: 10, metrics, baseMs: 20, maxAttempts: 2 });
    queue.push(event("cordoned"));
    await queue.close(5000);
  }
  assert.ok(whys.every((w) => w.length > 0));
  const secrets = ["sl4ckt0ken", "/services/T0/B0", ROUTING_KEY, HMAC_KEY];
  const texts = [
    ...whys,
    ...logged.map((r) => JSON.stringify({ message: r.message, properties: r.properties })),
    (await metrics.render()).body,
  ];
  assert.ok(
    logged.some((r) => String(r.properties.why ?? "").length > 0),
    "the failures were logged",
  );
  for (const text of texts) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `${secret} in: ${text}`);
  }
  await reset();
});
