import assert from "node:assert/strict";
import { DEFAULT_ROUTE, deliveries } from "../../../lib/backtest/alertmanager_sim.ts";
import { alertmanagerFingerprint, type Episode } from "../../../lib/backtest/history.ts";
import { intakeCheck } from "../../../lib/backtest/intake_check.ts";
import { LIMITS } from "../../../lib/intake/alertmanager.ts";

const T0 = Date.parse("2026-11-02T00:00:00Z");
const MIN = 60_000;

function episode(labels: Record<string, string>, from: number, to: number): Episode {
  return {
    labels,
    fingerprint: alertmanagerFingerprint(labels),
    start: new Date(T0 + from * MIN),
    end: new Date(T0 + to * MIN),
  };
}

Deno.test("intakeCheck() sets apart the notifications node-heal's webhook would refuse, with its message, and keeps the rest", async () => {
  const ok = { alertname: "NodeHighCPU", heal: "true", instance: "10.0.1.1:9100" };
  const huge = { ...ok, instance: "10.0.1.2:9100", description: "x".repeat(LIMITS.labelValue + 1) };
  const sent = deliveries(
    [episode(ok, 0, 30), episode(huge, 5, 30)],
    DEFAULT_ROUTE,
    new Date(T0 + 60 * MIN),
  );
  assert.equal(sent.length, 4);
  const { accepted, refused } = await intakeCheck(sent);
  assert.deepEqual(
    accepted.map((d) => d.notification.alerts[0].labels.instance),
    ["10.0.1.1:9100", "10.0.1.1:9100"],
  );
  assert.equal(refused.notifications, 2);
  assert.equal(refused.alerts, 2);
  assert.equal(refused.first?.at, "2026-11-02T00:05:10.000Z");
  assert.match(
    refused.first?.message ?? "",
    /^Cannot parse payload: field "alerts\[0\]\.labels\.description" must be at most 4096 characters/,
  );
});
