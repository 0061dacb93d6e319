// `deno task e2e`: the backtest's HTML page, written to a file and opened in headless Chromium
// from there, loads nothing but itself (every other request is counted and aborted), violates
// no CSP and logs no error, lays the two policies side by side with a drawn chart and budget line
// each, and shows hostile alert text as text. UPDATE_SCREENSHOTS=1 saves the page's screenshot as
// docs/images/backtest-report.png.
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import type { Page } from "puppeteer-core";
import { renderHtml } from "../../lib/backtest/render_html.ts";
import type { BacktestReport } from "../../lib/backtest/report_types.ts";
import { browserTest, launch, watchedPage } from "../support/browser.ts";
import { HOSTILE, hostileReport, sampleReport } from "../fixtures/backtest_report.ts";

const SCREENSHOT = new URL("../../docs/images/backtest-report.png", import.meta.url).pathname;

/** Writes the report's page to `dir` and opens it; every request but the file's is aborted. */
async function openReport(page: Page, dir: string, report: BacktestReport, name: string) {
  const path = `${dir}/${name}.html`;
  await Deno.writeTextFile(path, renderHtml(report));
  const url = pathToFileURL(path).href;
  const seen: string[] = [];
  const elsewhere: string[] = [];
  page.removeAllListeners("request");
  page.on("request", (req) => {
    seen.push(req.url());
    if (req.url() === url) {
      req.continue();
    } else {
      elsewhere.push(req.url());
      req.abort();
    }
  });
  await page.goto(url, { waitUntil: "load" });
  return { url, seen, elsewhere };
}

/** One chart as drawn: its size, its budget line's width and colour, its step line's length. */
interface DrawnChart {
  width: number;
  height: number;
  budget: number;
  budgetStroke: string;
  budgetValue: string | null;
  outLength: number;
}

/** Each chart as drawn. A string: the type check has no DOM library (the page's own is used). */
function charts(page: Page): Promise<DrawnChart[]> {
  return page.evaluate(`[...document.querySelectorAll("svg.chart")].map((svg) => {
    const box = svg.getBoundingClientRect();
    const budget = svg.querySelector("g.budget line");
    const out = svg.querySelector("path.series.out");
    return {
      width: box.width,
      height: box.height,
      budget: budget ? budget.getBoundingClientRect().width : 0,
      budgetStroke: budget ? getComputedStyle(budget).stroke : "",
      budgetValue: svg.querySelector("g.budget")?.getAttribute("data-budget") ?? null,
      outLength: out ? out.getTotalLength() : 0,
    };
  })`) as Promise<DrawnChart[]>;
}

Deno.test(
  "e2e: the backtest page opened from a file loads nothing else, shows both policies side by side with their charts and budget lines, and shows hostile text as text",
  browserTest("backtest HTML page browser test"),
  async () => {
    const browser = await launch();
    const dir = await Deno.makeTempDir({ prefix: "node-heal-backtest-html-" });
    try {
      const { page, problems } = await watchedPage(browser);
      await page.setRequestInterception(true);
      await page.setViewport({ width: 1200, height: 900 });

      const sample = await openReport(page, dir, sampleReport(), "sample");
      assert.deepEqual(sample.elsewhere, [], "requests other than the file itself");
      assert.ok(sample.seen.includes(sample.url), "the interception saw the file's own load");

      const drawn = await charts(page);
      assert.equal(drawn.length, 2, "one chart per policy");
      for (const [i, c] of drawn.entries()) {
        assert.ok(c.width > 300 && c.height > 100, `chart ${i} is ${c.width}x${c.height}`);
        assert.ok(c.budget > 0, `chart ${i} has a visible budget line`);
        assert.ok(c.outLength > 0, `chart ${i} draws its step line`);
        // The inline stylesheet applied (its hash in the CSP matched): the line is red, not unset.
        assert.match(c.budgetStroke, /^rgb\(/, `chart ${i}'s budget line is styled`);
      }
      assert.deepEqual(drawn.map((c) => c.budgetValue), ["4", "2"]);

      // Side by side: the two runs start at the same height, the second to the right.
      const runs = await page.evaluate(`[...document.querySelectorAll("section.run")]
        .map((e) => ({ top: e.getBoundingClientRect().top, left: e.getBoundingClientRect().left }))`) as {
        top: number;
        left: number;
      }[];
      assert.equal(runs.length, 2);
      assert.equal(runs[0].top, runs[1].top);
      assert.ok(runs[1].left > runs[0].left);
      const text = await page.evaluate(`document.body.innerText`) as string;
      for (const s of ["policies/a-lenient.yaml", "policies/b-strict.yaml", "2h 44m", "5h 36m"]) {
        assert.ok(text.includes(s), `the page shows ${s}`);
      }

      if (Deno.env.get("UPDATE_SCREENSHOTS") === "1") {
        // The stories folded to their summaries: the picture shows the whole page's layout.
        await page.evaluate(`document.querySelectorAll("details").forEach((d) => d.open = false)`);
        await page.screenshot({ path: SCREENSHOT as `${string}.png`, fullPage: true });
        console.log(`wrote ${SCREENSHOT}`);
      }

      // A phone's width: the page itself does not scroll sideways (wide tables scroll alone).
      await page.setViewport({ width: 390, height: 844 });
      const overflow = await page.evaluate(
        `document.documentElement.scrollWidth - document.documentElement.clientWidth`,
      ) as number;
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
      await page.setViewport({ width: 1200, height: 900 });

      const hostile = await openReport(page, dir, hostileReport(), "hostile");
      assert.deepEqual(hostile.elsewhere, [], "requests other than the file itself");
      assert.deepEqual(
        await page.evaluate(`document.querySelectorAll("script, img, iframe, object").length`),
        0,
      );
      const hostileText = await page.evaluate(`document.body.innerText`) as string;
      for (const s of [HOSTILE.script, HOSTILE.img, HOSTILE.quotes]) {
        assert.ok(hostileText.includes(s), `the page shows ${s} as text`);
      }
      assert.equal((await charts(page)).length, 2);

      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
