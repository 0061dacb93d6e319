import assert from "node:assert/strict";
import {
  labelFingerprint,
  parseNotification,
  PayloadError,
} from "../../../lib/intake/alertmanager.ts";

import firing from "../../fixtures/alertmanager-0.25-firing.json" with { type: "json" };

Deno.test("parseNotification() normalizes a real Alertmanager 0.25 notification", async () => {
  const n = await parseNotification(firing);
  assert.equal(n.status, "firing");
  assert.equal(n.receiver, "node-heal");
  assert.equal(n.truncatedAlerts, 0);
  assert.equal(n.alerts.length, 1);
  const [a] = n.alerts;
  assert.equal(a.fingerprint, "35b31d7434c0434b");
  assert.equal(a.status, "firing");
  assert.equal(a.labels.instance, "172.18.0.3:9100");
  assert.equal(a.annotations.summary, "CPU above 90% on 172.18.0.3:9100");
  assert.equal(a.endsAt, "0001-01-01T00:00:00Z");
});

Deno.test("parseNotification() names the field that is wrong", async () => {
  const cases: [unknown, RegExp][] = [
    [[], /field "\(payload\)" must be an object, got an array/],
    [{ ...firing, alerts: "x" }, /field "alerts" must be an array, got "x"/],
    [{ ...firing, version: "3" }, /field "version" must be "4", got "3"/],
    [
      { ...firing, alerts: [{ ...firing.alerts[0], status: "bogus" }] },
      /field "alerts\[0\]\.status" must be "firing" or "resolved", got "bogus"/,
    ],
    [
      { ...firing, alerts: [{ ...firing.alerts[0], labels: { instance: 9100 } }] },
      /field "alerts\[0\]\.labels\.instance" must be a string, got 9100/,
    ],
    [{ ...firing, truncatedAlerts: -1 }, /field "truncatedAlerts" must be at least 0, got -1/],
  ];
  for (const [payload, message] of cases) {
    await assert.rejects(() => parseNotification(payload), (err: Error) => {
      assert.ok(err instanceof PayloadError);
      assert.match(err.message, /^Cannot parse payload: /);
      assert.match(err.message, message);
      return true;
    });
  }
});

Deno.test("parseNotification() fingerprints alerts without one and keeps one of each fingerprint", async () => {
  const labels = { alertname: "NodeDown", instance: "10.0.0.1:9100", heal: "true" };
  const n = await parseNotification({
    version: "4",
    status: "firing",
    alerts: [
      { status: "firing", labels },
      {
        status: "firing",
        labels: { heal: "true", instance: "10.0.0.1:9100", alertname: "NodeDown" },
      },
      { status: "firing", labels: { ...labels, instance: "10.0.0.2:9100" } },
    ],
  });
  assert.equal(n.alerts.length, 2);
  assert.equal(n.alerts[0].fingerprint, await labelFingerprint(labels));
  assert.match(n.alerts[0].fingerprint, /^[0-9a-f]{16}$/);
  assert.notEqual(n.alerts[0].fingerprint, n.alerts[1].fingerprint);
});
