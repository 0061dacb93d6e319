// The status page in a real browser: Debian's headless Chromium driven by puppeteer-core. The
// page loads with no console error and no CSP violation, follows the cluster as alerts arrive,
// and renders hostile alert text as text. Skipped, saying so, when no Chromium is installed
// (failed under CI=true).
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  assertFitsPhone,
  browserTest,
  launch,
  screenshot,
  watchedPage,
} from "../../support/browser.ts";
import { notification, waitFor, withService } from "../../support/helpers.ts";

const opts = browserTest("status page browser tests");

const HOSTILE_SCRIPT = "<script>window.__pwned=1</script>";
const HOSTILE_IMG = '<img src=x onerror="window.__pwned=2">';

/** The text of the page's tables, one string per row. */
function rows(page: Page, table: "ladder" | "decisions"): Promise<string[]> {
  return page.$$eval(`#${table} tbody tr`, (trs) => trs.map((tr) => tr.textContent ?? ""));
}

Deno.test(
  "the status page follows alerts live, shows a gate's skip, renders hostile alert text as text, and turns stale when /status fails",
  opts,
  async () => {
    await using f = await withService();
    const browser = await launch();
    try {
      const { page, problems } = await watchedPage(browser);
      await page.goto(`${f.service.url}/`, { waitUntil: "load" });
      await page.setViewport({ width: 1280, height: 900 });
      await waitFor("the first refresh", () => page.$("body[data-loaded=true]"));
      assert.match(await page.$eval("#summary", (e) => e.textContent ?? ""), /node-heal-test/);

      const cordon = await f.post(notification("firing", [{
        labels: { alertname: "NodeHighCPU", heal: "true", instance: "172.18.0.3:9100" },
        fingerprint: "ui-cpu",
      }]));
      assert.equal(cordon.status, 200);
      await cordon.body?.cancel();
      await waitFor(
        "heal-worker in the ladder",
        async () => (await rows(page, "ladder")).find((r) => r.includes("heal-worker")),
        15_000,
      );

      const protectedNode = await f.post(notification("firing", [{
        labels: { alertname: "NodeDiskFull", heal: "true", instance: "172.18.0.2:9100" },
        fingerprint: "ui-cp",
      }]));
      await protectedNode.body?.cancel();
      const skip = await waitFor(
        "the protected gate's skip in the decisions",
        async () =>
          (await rows(page, "decisions")).find((r) =>
            r.includes("heal-control-plane") && r.includes("protected")
          ),
        15_000,
      );
      assert.match(skip, /skipped/);

      const hostile = await f.post(notification("firing", [{
        labels: {
          alertname: `${HOSTILE_SCRIPT}${HOSTILE_IMG}`,
          heal: "true",
          instance: "172.18.0.4:9100",
          team: HOSTILE_IMG,
        },
        summary: `${HOSTILE_SCRIPT} ${HOSTILE_IMG}`,
        fingerprint: "ui-hostile",
      }]));
      await hostile.body?.cancel();
      await waitFor(
        "the hostile alert's name, as text, in the decisions",
        async () => (await rows(page, "decisions")).find((r) => r.includes(HOSTILE_SCRIPT)),
        15_000,
      );
      const decisionsText = await page.$eval("#decisions", (e) => e.textContent ?? "");
      assert.ok(decisionsText.includes(HOSTILE_IMG), "the <img> markup is shown as text");
      assert.equal(await page.evaluate(`document.querySelectorAll("main script").length`), 0);
      assert.equal(await page.evaluate(`document.querySelectorAll("img").length`), 0);
      assert.equal(
        await page.evaluate(`window.__pwned`),
        undefined,
      );

      // The outcome filter narrows the decisions to the skips.
      await page.select("#filter-outcome", "skipped");
      const skips = await rows(page, "decisions");
      assert.ok(skips.length > 0 && skips.every((r) => r.includes("skipped")), skips.join("\n"));
      await page.select("#filter-outcome", "");

      await screenshot(page, "status-page.png");
      // A phone's width: the page itself does not scroll sideways (wide tables scroll alone).
      await assertFitsPhone(page);

      assert.deepEqual(problems, []);

      // /status stops answering: the "last updated" indicator turns stale and says why.
      await page.setRequestInterception(true);
      page.on("request", (req) => {
        if (new URL(req.url()).pathname === "/status") req.abort();
        else req.continue();
      });
      const stale = await waitFor(
        "the stale indicator",
        () => page.$eval("#updated.stale", (e) => e.textContent ?? "").catch(() => undefined),
        30_000,
      );
      assert.match(stale, /^Stale: last updated/);
    } finally {
      await browser.close();
    }
  },
);
