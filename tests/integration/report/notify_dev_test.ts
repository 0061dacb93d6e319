// The notifications of a cordon and its release, end to end: `deno task dev` (dev mode's entry
// point, a real process) with a policy of three sinks, and local receivers that check each format
// as the real service does: the Slack message, a PagerDuty trigger and a resolve with one
// dedup_key, a signed webhook that verifies. Slack's first answer is a 429 with Retry-After: the
// message comes again after it, once.
import assert from "node:assert/strict";
import firing from "../../fixtures/alertmanager-0.25-firing.json" with { type: "json" };
import resolved from "../../fixtures/alertmanager-0.25-resolved.json" with { type: "json" };
import { waitFor } from "../../support/helpers.ts";
import { readyReplica, startDev, stop } from "../../support/processes.ts";
import { startSlackFake } from "../../fakes/slack.ts";
import { startPagerDutyFake } from "../../fakes/pagerduty.ts";
import { startWebhookReceiver } from "../../fakes/webhook_receiver.ts";

const ROUTING_KEY = "R0ut1ngK3yR0ut1ngK3yR0ut1ngK3y00";
const HMAC_KEY = "a-webhook-signing-key";

Deno.test("dev mode: a cordon and its release reach Slack, PagerDuty (one dedup_key) and a signed webhook; a 429 is retried after its Retry-After", async () => {
  await using slack = startSlackFake();
  await using pagerduty = startPagerDutyFake();
  await using hook = startWebhookReceiver(HMAC_KEY);
  slack.script.push({ status: 429, retryAfter: "1" });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-notify-" });
  await Deno.writeTextFile(`${dir}/slack-url`, `${slack.webhook}\n`);
  await Deno.writeTextFile(`${dir}/routing-key`, ROUTING_KEY);
  await Deno.writeTextFile(`${dir}/hmac`, HMAC_KEY);
  await Deno.writeTextFile(
    `${dir}/policy.yaml`,
    `notify:
  - { name: ops-slack, type: slack, urlFile: ${dir}/slack-url, on: [cordoned, released] }
  - { name: pager, type: pagerduty, routingKeyFile: ${dir}/routing-key, url: "${pagerduty.endpoint}" }
  - name: audit
    type: webhook
    url: "${hook.url}/node-heal"
    secretFile: ${dir}/hmac
    headers: { X-Team: sre }
`,
  );
  const dev = startDev([
    `--embedded-kubeconfig-out=${dir}/kubeconfig`,
    `--config=${dir}/policy.yaml`,
  ]);
  try {
    const url = await readyReplica(dev);
    const post = async (body: unknown) => {
      const res = await fetch(`${url}/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 200);
      return await res.json();
    };
    assert.equal((await post(firing)).alerts[0].outcome, "cordon");
    // PagerDuty's trigger and the webhook come at once; Slack after its Retry-After.
    await waitFor("the trigger", () => pagerduty.received.some((r) => r.answer === 202));
    assert.equal((await post(resolved)).alerts[0].outcome, "uncordon");
    await waitFor(
      "the resolve",
      () => pagerduty.received.filter((r) => r.answer === 202).length === 2,
    );
    await waitFor(
      "both webhooks",
      () => hook.received.filter((r) => r.answer === 204).length === 2,
    );
    await waitFor(
      "both Slack messages",
      () => slack.received.filter((r) => r.answer === 200).length === 2,
      10_000,
    );

    // PagerDuty: a trigger then a resolve, one dedup_key, the routing key.
    const pd = pagerduty.received.map((r) => JSON.parse(r.body));
    assert.deepEqual(pd.map((e) => e.event_action), ["trigger", "resolve"]);
    assert.equal(pd[0].dedup_key, pd[1].dedup_key);
    assert.match(pd[0].dedup_key, /heal-worker@/);
    assert.ok(pd.every((e) => e.routing_key === ROUTING_KEY));
    assert.equal(pd[0].payload.source, "heal-worker");
    assert.equal(pd[0].payload.severity, "warning", "the alert's severity");

    // The webhook: signed (the receiver verified it: 204), versioned, with the extra header.
    const docs = hook.received.map((r) => JSON.parse(r.body));
    assert.deepEqual(docs.map((d) => d.kind), ["cordoned", "released"]);
    assert.equal(docs[0].episode, docs[1].episode);
    assert.ok(hook.received.every((r) => r.headers["x-team"] === "sre"));
    assert.ok(hook.received.every((r) => r.path === "/node-heal"));

    // Slack: refused once with 429, sent again after Retry-After, and each message once.
    assert.deepEqual(slack.received.map((r) => r.answer), [429, 200, 200]);
    assert.ok(slack.received[1].at - slack.received[0].at >= 1000, "not before Retry-After");
    const texts = slack.received.slice(1).map((r) => JSON.parse(r.body).text as string);
    assert.match(texts[0], /Cordoned heal-worker/);
    assert.match(texts[1], /Uncordoned heal-worker/);

    // No secret in the logs.
    const logged = JSON.stringify(dev.out.records);
    for (const secret of [ROUTING_KEY, HMAC_KEY, new URL(slack.webhook).pathname]) {
      assert.ok(!logged.includes(secret), "no secret logged");
    }
  } finally {
    const { code, stderr } = await stop(dev);
    await Deno.remove(dir, { recursive: true });
    assert.equal(code, 0, stderr);
  }
});
