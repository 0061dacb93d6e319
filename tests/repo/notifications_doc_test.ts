// docs/notifications.md against the code: its Slack sample is what lib/report/notify/slack.ts
// sends for the sample event below (rendered, not retyped), and it says what dev mode's default
// policy notifies through.
import assert from "node:assert/strict";
import { slackMessage } from "../../lib/report/notify/slack.ts";
import { notifyEvent } from "../../lib/report/notify/types.ts";
import { DEV_POLICY_YAML } from "../../lib/dev/dev_mode.ts";
import { parsePolicy } from "../../lib/decide/policy.ts";

const DOC = new URL("../../docs/notifications.md", import.meta.url);

/** The event of the doc's Slack sample: a cordon, with the alert's summary and both links. */
export const SAMPLE_EVENT = notifyEvent({
  id: "5f0c2a9e-3b1d-4c8e-9a7f-1d2e3f4a5b6c",
  kind: "cordoned",
  node: "node-1",
  step: "cordoned",
  message: "Cordoned node-1 for alert NodeDiskPressure (fingerprint 3f2a9c0d1e4b5a67)",
  alert: {
    name: "NodeDiskPressure",
    fingerprint: "3f2a9c0d1e4b5a67",
    labels: { alertname: "NodeDiskPressure", severity: "critical", instance: "10.0.1.1:9100" },
    summary: "Disk of node-1 is 97% full",
    generatorURL: "http://prometheus:9090/graph?g0.expr=node_filesystem_avail_bytes&g0.tab=1",
    runbookURL: "https://runbooks.example.com/disk",
  },
  episode: "node-1@2024-05-01T10:00:00Z",
  replica: "node-heal-7d9f-abcde",
  at: "2024-05-01T10:00:00.000Z",
  dryRun: false,
});

/** The fenced ```json block that follows `heading` in the doc. */
function jsonAfter(text: string, heading: string): unknown {
  const from = text.indexOf(heading);
  assert.ok(from >= 0, `docs/notifications.md has "${heading}"`);
  const block = /```json\n([\s\S]*?)\n```/.exec(text.slice(from));
  assert.ok(block, `a json block follows "${heading}"`);
  return JSON.parse(block[1]);
}

Deno.test("docs/notifications.md's Slack sample is what the Slack sink sends for its event", async () => {
  const doc = await Deno.readTextFile(DOC);
  assert.deepEqual(
    jsonAfter(doc, "### Slack"),
    JSON.parse(JSON.stringify(slackMessage(SAMPLE_EVENT))),
    "re-render it: deno eval 'import { slackMessage } from ...' (see this test's SAMPLE_EVENT)",
  );
});

Deno.test("docs/notifications.md says dev mode's default policy notifies through its log sink", async () => {
  const doc = await Deno.readTextFile(DOC);
  const sinks = parsePolicy(DEV_POLICY_YAML).notify;
  assert.deepEqual(sinks.map((s) => s.type), ["log"]);
  assert.ok(doc.includes("deno task dev"), "docs/notifications.md names deno task dev");
  assert.ok(doc.includes(`\`${sinks[0].name}\``), `docs/notifications.md names ${sinks[0].name}`);
});
