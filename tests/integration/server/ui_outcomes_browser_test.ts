// The status page's outcomes in a real browser, fed a fixed `/status`: a node under remediation
// lists how its last remediations ended, newest first, after how long and at which step, a
// hostile alert name shown as text in the tooltip. Skipped, saying so, when no Chromium is
// installed (failed under CI=true).
import assert from "node:assert/strict";
import { assertFitsPhone, browserTest, pageOnStatus, screenshot } from "../../support/browser.ts";
import { waitFor } from "../../support/helpers.ts";

const opts = browserTest("status page outcomes browser test");
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

function status(now: number): unknown {
  const at = (minutes: number) => new Date(now + minutes * 60_000).toISOString();
  const record = (outcome: string, step: string, alert: string, from: number, to: number) => ({
    outcome,
    step,
    alert,
    startedAt: at(from),
    endedAt: at(to),
    seconds: (to - from) * 60,
  });
  return {
    ready: true,
    dryRun: false,
    paused: false,
    pauses: { flag: false, policy: false, cluster: false },
    policy: { rules: [], gates: { minHealthy: 0 } },
    budgets: {
      paused: false,
      selected: 3,
      available: 2,
      minHealthy: { required: 0, canTakeOut: 2, heldByNodeHeal: 1 },
      rate: { used: 2, left: 3, max: 5, windowMs: 3_600_000 },
      maxConcurrent: { inFlight: 0, max: 1 },
      cooldown: { ms: 0, nodes: [] },
    },
    holdTtlMs: 3_600_000,
    nodes: [{
      node: "worker-1",
      cordoned: true,
      ownedByNodeHeal: true,
      step: "cordoned",
      since: at(-2),
      stepSince: at(-2),
      alerts: { fp1: { alertname: "NodeDown", since: at(-2), seen: at(0) } },
      outcomes: [
        record("recovered", "drain", HOSTILE, -300, -235),
        record("recovered", "cordon", "NodeDown", -60, -30),
        record("recurred", "cordon", "NodeDown", -30, -2),
      ],
    }],
    nodesNotListed: 0,
    leadership: { thisReplica: "node-heal-test", leading: true, elected: false },
    decisions: [],
  };
}

Deno.test(
  "the status page shows each node's last outcomes, newest first, names as text",
  opts,
  async () => {
    const view = await pageOnStatus(() => status(Date.now()));
    try {
      const { page, problems } = view;
      await waitFor("the first refresh", () => page.$("body[data-loaded=true]"));
      const shown = await page.$$eval(
        '#ladder tr[data-node="worker-1"] [data-outcome]',
        (els) => els.map((e) => [e.textContent, e.getAttribute("title")]),
      );
      assert.equal(shown.length, 3);
      assert.deepEqual(shown.map(([text]) => text), [
        "recurred 28 min after its recovery (cordon)",
        "recovered after 30 min (cordon)",
        "recovered after 1 h 5 min (drain)",
      ]);
      assert.ok(shown[2][1]?.startsWith(HOSTILE), "the hostile name is text, in the tooltip");
      assert.equal(await page.evaluate(`document.querySelectorAll("img").length`), 0);
      assert.equal(await page.evaluate(`window.__pwned`), undefined);
      await screenshot(page, "status-outcomes.png");
      await assertFitsPhone(page);
      assert.deepEqual(problems, []);
    } finally {
      await view.close();
    }
  },
);
