// The payloads (slack.ts, pagerduty.ts, webhook.ts), checked by the fakes' own validators (the
// receivers' rules, written apart from the sinks): what each says, and that long or hostile
// texts stay within Slack's and PagerDuty's limits.
import assert from "node:assert/strict";
import {
  escapeMrkdwn,
  linkAddress,
  plainText,
  slackMessage,
} from "../../../../lib/report/notify/slack.ts";
import {
  dedupKey,
  PAGERDUTY_KINDS,
  pagerDutyEvent,
  severityOf,
} from "../../../../lib/report/notify/pagerduty.ts";
import {
  webhookDocument,
  webhookHeaders,
  webhookSignature,
} from "../../../../lib/report/notify/webhook.ts";
import { NOTIFY_KINDS } from "../../../../lib/report/notify/types.ts";
import { slackRefusal } from "../../../fakes/slack.ts";
import { pagerDutyErrors } from "../../../fakes/pagerduty.ts";
import { webhookRefusal } from "../../../fakes/webhook_receiver.ts";
import { event } from "./sample.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const alert = (labels: Record<string, string>, summary?: string) => ({
  name: "NodeDiskPressure",
  fingerprint: "abc",
  labels: { alertname: "NodeDiskPressure", ...labels },
  ...(summary ? { summary } : {}),
});

Deno.test("slack: header, fields, context with the alert's links, and the text fallback", () => {
  const e = event("cordoned", "node-1", {
    step: "cordoned",
    alert: {
      ...alert({ severity: "critical", dashboard: "https://grafana.example/d/1" }, "Disk <full>"),
      runbookURL: "https://runbooks.example/disk?a=1&b=2",
      generatorURL: "http://prometheus.example:9090/graph?g0.expr=up",
    },
    dryRun: true,
  });
  const msg = slackMessage(e);
  assert.equal(slackRefusal(JSON.stringify(msg)), undefined);
  assert.equal(msg.text, plainText(e));
  assert.equal(msg.unfurl_links, false);
  assert.match(msg.text, /node-1 cordoned \(dry run\)/);
  const json = JSON.stringify(msg.blocks);
  for (const part of ["*Node*\\nnode-1", "*Step*\\ncordoned", "*Alert*\\nNodeDiskPressure"]) {
    assert.ok(json.includes(part), part);
  }
  assert.ok(json.includes("<https://runbooks.example/disk?a=1&amp;b=2|runbook>"), json);
  assert.ok(json.includes("<http://prometheus.example:9090/graph?g0.expr=up|source>"), json);
  assert.ok(!json.includes("grafana"), "a label holding a URL is no link (nor shown)");
  assert.ok(json.includes("Disk &lt;full&gt;"), "mrkdwn escaped");
  assert.ok(json.includes("*dry run*"));
});

Deno.test("slack: every kind, and absurdly long texts, stay within Block Kit's limits", () => {
  const long = "x".repeat(5000);
  const labels: Record<string, string> = { severity: long };
  for (let i = 0; i < 20; i++) labels[`link${i}`] = `https://example.com/${i}`;
  for (const kind of NOTIFY_KINDS) {
    const e = event(kind, `node-${"n".repeat(300)}`, {
      message: `<&> ${long}`,
      step: long,
      gate: long,
      replica: long,
      episode: long,
      alert: { ...alert(labels, long), name: long },
    });
    const body = JSON.stringify(slackMessage(e));
    assert.equal(slackRefusal(body), undefined, kind);
  }
  assert.equal(escapeMrkdwn("a<b>&c"), "a&lt;b&gt;&amp;c");
});

/** Every text of a Slack message: the top-level one and each block's. */
function slackTexts(msg: ReturnType<typeof slackMessage>): string[] {
  const out = [msg.text];
  for (const b of msg.blocks as Record<string, unknown>[]) {
    const t = b.text as { text: string } | undefined;
    if (t) out.push(t.text);
    for (const f of [...(b.fields as { text: string }[] ?? []), ...(b.elements as [] ?? [])]) {
      out.push((f as { text: string }).text);
    }
  }
  return out;
}

Deno.test("slack: no mention, no link and no disguised link from alert data reaches Slack live", () => {
  const hostile =
    "<!channel> <!here> <@U0123ABCD> <#C0123|general> <http://evil.example|runbook> &";
  const e = event("cordoned", "node-1", {
    message: `Cordoned node-1 for ${hostile}`,
    step: hostile,
    gate: hostile,
    alert: {
      name: hostile,
      fingerprint: "f",
      labels: { alertname: hostile, severity: hostile, dashboard: "http://evil.example/" },
      summary: hostile,
      runbookURL: "http://evil.example/a|<!channel>",
      generatorURL: "javascript:alert(1)",
    },
  });
  const msg = slackMessage(e);
  assert.equal(slackRefusal(JSON.stringify(msg)), undefined);
  const texts = slackTexts(msg);
  assert.ok(texts[0].includes("&lt;!channel&gt; &lt;!here&gt; &lt;@U0123ABCD&gt;"), texts[0]);
  // The one `<` left in all of the message opens node-heal's own runbook link, its address encoded.
  const opened = texts.flatMap((t) => t.match(/<[^>]*>/g) ?? []);
  assert.deepEqual(opened, ["<http://evil.example/a%7C%3C!channel%3E|runbook>"]);
  for (const t of texts) {
    assert.doesNotMatch(t, /<[!@#]/, t);
    assert.doesNotMatch(t, /&(?!amp;|lt;|gt;)/, `a bare & in ${t}`);
  }
  assert.equal(linkAddress("https://user:pw@example.com/"), undefined);
  assert.equal(linkAddress(`https://example.com/${"x".repeat(2000)}`), undefined);
  assert.equal(linkAddress("ftp://example.com/"), undefined);
});

Deno.test("slack: a cut never splits an emoji", () => {
  const msg = slackMessage(event("cordoned", "🔥".repeat(200)));
  const header = msg.blocks[0] as { text: { text: string } };
  assert.ok(header.text.text.length <= 150);
  assert.doesNotMatch(header.text.text, /[\ud800-\udbff](?![\udc00-\udfff])/);
});

Deno.test("pagerduty: a trigger on the cordon, a resolve on the release, one dedup_key", () => {
  const cordon = event("cordoned", "node-1", { alert: alert({ severity: "critical" }) });
  const release = event("released", "node-1");
  const t = pagerDutyEvent(cordon, KEY)!;
  const r = pagerDutyEvent(release, KEY)!;
  assert.deepEqual(pagerDutyErrors(JSON.stringify(t)), []);
  assert.deepEqual(pagerDutyErrors(JSON.stringify(r)), []);
  assert.equal(t.event_action, "trigger");
  assert.equal(r.event_action, "resolve");
  assert.equal(t.dedup_key, "node-heal/node-1@2024-05-01T10:00:00Z");
  assert.equal(r.dedup_key, t.dedup_key);
  assert.equal(t.payload!.source, "node-1");
  assert.equal(t.payload!.component, "node-heal");
  assert.equal(t.payload!.severity, "critical");
  assert.equal((t.payload!.custom_details.alert as { name: string }).name, "NodeDiskPressure");
  assert.equal(r.payload, undefined);
});

Deno.test("pagerduty: only triggers and resolves; the other kinds have no event", () => {
  for (const kind of NOTIFY_KINDS) {
    assert.equal(pagerDutyEvent(event(kind), KEY) !== undefined, PAGERDUTY_KINDS.has(kind), kind);
  }
  assert.deepEqual([...PAGERDUTY_KINDS].sort(), [
    "breakerClosed",
    "breakerOpen",
    "cordoned",
    "drainFailed",
    "released",
    "replaceFailed",
    "replaced",
  ]);
});

Deno.test("pagerduty: severity from the alert's label, a failure at least error", () => {
  const sev = (kind: "cordoned" | "drainFailed", severity?: string) =>
    severityOf(event(kind, "n", severity ? { alert: alert({ severity }) } : {}));
  assert.equal(sev("cordoned"), "warning");
  assert.equal(sev("cordoned", "info"), "info");
  assert.equal(sev("cordoned", "Critical"), "critical");
  assert.equal(sev("cordoned", "page"), "warning");
  assert.equal(sev("drainFailed"), "error");
  assert.equal(sev("drainFailed", "info"), "error");
  assert.equal(sev("drainFailed", "critical"), "critical");
  // A breaker's opening pages at the highest severity, whatever label its alerts had.
  assert.equal(severityOf(event("breakerOpen", "zone us-east-1a")), "critical");
});

Deno.test("pagerduty: a long summary is cut to 1024, a long episode keyed within 255, apart", () => {
  const a = pagerDutyEvent(
    event("drainFailed", "n".repeat(253), { message: "m".repeat(5000) }),
    KEY,
  );
  assert.deepEqual(pagerDutyErrors(JSON.stringify(a)), []);
  const k1 = dedupKey(`${"n".repeat(253)}@2024-05-01T10:00:00Z`);
  const k2 = dedupKey(`${"n".repeat(253)}@2024-05-01T11:00:00Z`);
  assert.ok(k1.length <= 255 && k2.length <= 255);
  assert.notEqual(k1, k2);
  assert.equal(dedupKey(`${"n".repeat(253)}@2024-05-01T10:00:00Z`), k1, "stable");
});

Deno.test("webhook: the versioned document, signed so a receiver verifies it", async () => {
  const e = event("drained", "node-1", { step: "drained" });
  const body = webhookDocument(e);
  const doc = JSON.parse(body);
  assert.equal(doc.version, "node-heal.io/v1");
  assert.deepEqual({ ...doc, version: undefined }, { ...e, version: undefined });
  const now = Date.parse("2024-05-01T10:00:00Z");
  const headers = webhookHeaders(e, body, "k3y", { "x-team": "sre" }, now);
  assert.equal(headers["x-node-heal-timestamp"], String(now / 1000));
  assert.equal(headers["idempotency-key"], e.id);
  assert.equal(headers["x-team"], "sre");
  assert.equal(headers["x-node-heal-signature"], webhookSignature("k3y", now / 1000, body));
  const h = new Headers(headers);
  assert.equal(await webhookRefusal("k3y", h, body, now), undefined);
  assert.equal(await webhookRefusal("other", h, body, now), "bad signature");
  assert.equal(
    await webhookRefusal("k3y", h, body.replace("node-1", "node-2"), now),
    "bad signature",
  );
  assert.equal(await webhookRefusal("k3y", h, body, now + 6 * 60_000), "stale timestamp");
});

Deno.test("webhook: without a key, no signature header", () => {
  const e = event();
  const headers = webhookHeaders(e, webhookDocument(e), undefined, {}, 0);
  assert.equal(headers["x-node-heal-signature"], undefined);
  assert.equal(headers["idempotency-key"], e.id);
});

Deno.test("Slack: every mrkdwn text is verbatim (no bare URL or channel name made a link), and a clip never leaves half an entity", () => {
  const msg = slackMessage(
    event("cordoned", "node-1", {
      message: "see https://evil.example/login and #general " + "&".repeat(5000),
    }),
  );
  const texts: { type: string; text: string; verbatim?: boolean }[] = [];
  for (const b of msg.blocks as { text?: unknown; fields?: unknown[]; elements?: unknown[] }[]) {
    for (const t of [b.text, ...(b.fields ?? []), ...(b.elements ?? [])]) {
      if (t) texts.push(t as { type: string; text: string; verbatim?: boolean });
    }
  }
  const md = texts.filter((t) => t.type === "mrkdwn");
  assert.ok(md.length >= 3);
  for (const t of md) assert.equal(t.verbatim, true, t.text.slice(0, 80));
  for (const t of [...texts.map((t) => t.text), msg.text]) {
    assert.ok(!/&[a-z]{0,3}…$/.test(t), `no half entity: ${t.slice(-20)}`);
  }
});
