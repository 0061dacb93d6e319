// The status page's repeat offenders in a real browser, fed a fixed `/status`: the nodes
// remediated most in the last 24h with their counts (those at the self-alert's threshold marked)
// and last times, the count of those not listed, a hostile node name shown as text, and the page
// on a phone. Skipped, saying so, when no Chromium is installed (failed under CI=true).
import assert from "node:assert/strict";
import { assertFitsPhone, browserTest, pageOnStatus, screenshot } from "../../support/browser.ts";
import { waitFor } from "../../support/helpers.ts";

const opts = browserTest("status page repeat offenders browser test");
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

function status(now: number, offenders: unknown): unknown {
  const at = (minutes: number) => new Date(now + minutes * 60_000).toISOString();
  return {
    ready: true,
    dryRun: false,
    paused: false,
    pauses: { flag: false, policy: false, cluster: false },
    policy: { rules: [], gates: { minHealthy: "51%", maxConcurrent: 1 } },
    budgets: {
      paused: false,
      selected: 3,
      available: 3,
      minHealthy: { required: 2, canTakeOut: 1, heldByNodeHeal: 0 },
      rate: { used: 0, left: 5, max: 5, windowMs: 3_600_000 },
      maxConcurrent: { inFlight: 0, max: 1 },
      cooldown: { ms: 600_000, nodes: [] },
    },
    nodes: [],
    nodesNotListed: 0,
    repeatOffenders: offenders ?? {
      windowMs: 86_400_000,
      alertAt: 3,
      nodes: [
        { node: "heal-worker3", remediations: 4, last: at(-5) },
        { node: `worker-${HOSTILE}`, remediations: 2, last: at(-90) },
      ],
      notListed: 3,
    },
    leadership: { thisReplica: "node-heal-test", leading: true, elected: false },
    decisions: [],
  };
}

Deno.test(
  "the status page lists the repeat offenders, most first, names as text",
  opts,
  async () => {
    let offenders: unknown = undefined;
    const view = await pageOnStatus(() => status(Date.now(), offenders));
    try {
      const { page, problems } = view;
      await waitFor(
        "the first refresh",
        async () => (await page.$("#offenders tbody tr")) ?? undefined,
      );
      const rows = await page.$$eval(
        "#offenders tbody tr",
        (trs) =>
          trs.map((tr) => ({
            node: tr.getAttribute("data-node"),
            cells: [...tr.children].map((td) => td.textContent ?? ""),
            alerting: !!tr.querySelector(".pill.yes"),
          })),
      );
      assert.equal(rows.length, 2);
      assert.equal(rows[0].node, "heal-worker3");
      assert.equal(rows[0].cells[1], "4");
      assert.match(rows[0].cells[2], /5 min ago/);
      assert.equal(rows[0].alerting, true);
      assert.equal(rows[1].cells[0], `worker-${HOSTILE}`);
      assert.equal(rows[1].alerting, false);
      const window = await page.$eval("#offenders-window", (e) => e.textContent);
      assert.equal(window, "in the last 24 h; NodeHealRepeatOffender fires at 3");
      assert.equal(await page.$eval("#offenders-more", (e) => e.textContent), "and 3 more");
      assert.equal(await page.$("#offenders-empty[hidden]") !== null, true);
      assert.equal(await page.evaluate(`document.querySelectorAll("main img").length`), 0);
      assert.equal(await page.evaluate(`window.__pwned`), undefined);

      await screenshot(page, "status-repeat-offenders.png");
      await assertFitsPhone(page);

      offenders = { windowMs: 86_400_000, alertAt: 3, nodes: [], notListed: 0 };
      await waitFor(
        "no repeat offender",
        async () => (await page.$("#offenders-empty:not([hidden])")) ?? undefined,
        15_000,
      );
      assert.equal(await page.$("#offenders-more[hidden]") !== null, true);
      assert.deepEqual(problems, []);
    } finally {
      await view.close();
    }
  },
);
