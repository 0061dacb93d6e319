// The status page in headless Chromium through the whole replace ladder against the embedded
// cluster's Karpenter, as the dev-mode walkthrough shows it: at each step the rendered ladder
// lists every node node-heal acts on, with its step and why it waits, the node whose Node object
// is gone while it is replaced included, and its successor once it comes. A screenshot of each
// state is written under docs/images/ with NODE_HEAL_UI_SCREENSHOT=1 (else to a temporary folder).
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { browserTest, launch, watchedPage } from "../../support/browser.ts";
import { waitFor, withService } from "../../support/helpers.ts";
import { postReplace } from "../../support/ladder.ts";

const opts = browserTest("status page replace-ladder browser tests");

const policy = parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    drainAfter: 6s
    replace: { provider: karpenter, timeout: 1m }
gates: { minHealthy: 0, maxReplacing: 1, maxConcurrent: 2 }
acknowledge: [minHealthyZero]
`);

/** One row of the rendered ladder. */
interface Row {
  node: string;
  step: string;
  wait: string;
  gone: boolean;
  text: string;
}

/** The ladder as rendered: every row that names a node. */
function ladder(page: Page): Promise<Row[]> {
  return page.$$eval("#ladder tbody tr[data-node]", (trs) =>
    trs.map((tr) => {
      const e = tr as unknown as { dataset: Record<string, string | undefined> } & typeof tr;
      return {
        node: e.dataset.node ?? "",
        step: e.dataset.step ?? "",
        wait: e.dataset.wait ?? "",
        gone: e.classList.contains("gone-row"),
        text: e.textContent ?? "",
      };
    }));
}

/**
 * The page loaded again and rendered from a new `/status`: the ladder moves faster than the
 * page's own 5 s refresh.
 */
async function fresh(page: Page): Promise<void> {
  await page.reload({ waitUntil: "load" });
  await page.waitForSelector("body[data-loaded=true]", { timeout: 5000 });
}

/** Waits until the ladder shows exactly `expected` (node, step, wait, gone), then returns it. */
function ladderShows(
  page: Page,
  what: string,
  expected: (Omit<Row, "text"> & { text?: RegExp })[],
): Promise<Row[]> {
  const key = (r: Omit<Row, "text" | "texts">) => `${r.node} ${r.step} ${r.wait} ${r.gone}`;
  const want = expected.map(key).sort().join("\n");
  let seen = "";
  return waitFor(`the ladder: ${what}`, async () => {
    await fresh(page);
    const rows = await ladder(page);
    seen = rows.map(key).sort().join("\n");
    const texts = expected.every((e) =>
      !e.text || rows.some((r) => r.node === e.node && e.text!.test(r.text))
    );
    return seen === want && texts && rows;
  }, 30_000).catch((err) => {
    throw new Error(`${err.message}; the ladder shows:\n${seen}`);
  });
}

async function shot(page: Page, dir: string, name: string): Promise<void> {
  const path = `${dir}/status-replace-${name}.png` as `${string}.png`;
  await page.screenshot({ path, fullPage: true });
  assert.ok(Deno.statSync(path).size > 0);
}

const gone = (node: string, step: string, wait = "") => ({ node, step, wait, gone: true });
const here = (node: string, step: string, wait = "") => ({ node, step, wait, gone: false });

Deno.test(
  "the status page follows the replace ladder: cordoned, draining, replacing with the Node gone, a second node waiting on maxReplacing, replaced by its successor",
  opts,
  async () => {
    await using f = await withService({
      policy,
      // Drains take about 3 s (pods' 30 s grace, scaled); the successor comes 12 s after.
      clusterOptions: { podGraceScale: 0.1, nodeClaimTerminationMs: 100, replaceDelayMs: 12_000 },
    });
    const dir = Deno.env.get("NODE_HEAL_UI_SCREENSHOT") === "1"
      ? new URL("../../../docs/images", import.meta.url).pathname
      : await Deno.makeTempDir({ prefix: "node-heal-ui-replace-" });
    const browser = await launch();
    try {
      const { page, problems } = await watchedPage(browser);
      await page.setViewport({ width: 1280, height: 900 });
      await page.goto(`${f.service.url}/`, { waitUntil: "load" });
      await waitFor("the first refresh", () => page.$("body[data-loaded=true]"));
      assert.deepEqual(problems, []);

      await postReplace(f, "172.18.0.3");
      const [cordoned] = await ladderShows(page, "heal-worker cordoned", [
        { ...here("heal-worker", "cordoned"), text: /drain (in \d+ s|now)/ },
      ]);
      assert.match(cordoned.text, /drain in \d+ s/);
      await shot(page, dir, "1-cordoned");

      const [draining] = await ladderShows(page, "heal-worker draining", [
        here("heal-worker", "draining"),
      ]);
      assert.match(draining.text, /draining now/);
      await gateSays(page, "maxConcurrent", /^1 of 2 drains in flight: heal-worker/);
      await shot(page, dir, "2-draining");

      const [replacing] = await ladderShows(page, "heal-worker replacing, its Node gone", [
        gone("heal-worker", "replacing"),
      ]);
      assert.match(replacing.text, /Node gone/);
      assert.match(replacing.text, /waiting for its successor \(karpenter\)/);
      await gateSays(page, "maxReplacing", /^1 of 1 replacements in flight: heal-worker/, true);
      await gateSays(page, "maxConcurrent", /^0 of 2 drains in flight \(replacements count/);
      await shot(page, dir, "3-replacing-node-gone");

      await postReplace(f, "172.18.0.4");
      const waiting = await ladderShows(page, "heal-worker2 waiting on maxReplacing", [
        gone("heal-worker", "replacing"),
        { ...here("heal-worker2", "drained", "maxReplacing"), text: /waiting to replace/ },
      ]);
      const second = waiting.find((r) => r.node === "heal-worker2")!;
      assert.match(
        second.text,
        /waiting to replace: maxReplacing 1\/1 in flight, heal-worker being replaced since \d\d:\d\d( [AP]M)?; looked at again when a replacement ends/,
      );
      assert.doesNotMatch(second.text, /replace now/);
      await waitFor(
        "the maxReplacing wait in the decisions",
        async () =>
          (await page.$$eval("#decisions tbody tr", (trs) => trs.map((t) => t.textContent ?? "")))
            .find((r) => r.includes("heal-worker2") && r.includes("maxReplacing")),
      );
      await shot(page, dir, "4-second-waits-on-maxreplacing");

      const replaced = await ladderShows(page, "heal-worker replaced, heal-worker2 replacing", [
        { ...gone("heal-worker", "replaced"), text: /replaced by/ },
        gone("heal-worker2", "replacing"),
      ]);
      const first = replaced.find((r) => r.node === "heal-worker")!;
      assert.match(first.text, /replaced by heal-worker-\S+|replaced by \S+/);
      await shot(page, dir, "5-replaced-with-successor");

      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  },
);

/** Waits until gate card `gate` says `text` (and, with `spent`, is marked used up). */
function gateSays(page: Page, gate: string, text: RegExp, spent = false): Promise<unknown> {
  return waitFor(`the ${gate} card saying ${text}${spent ? ", red" : ""}`, async () => {
    await fresh(page);
    const card = await page.$eval(
      `#gates .gate[data-gate="${gate}"]`,
      (e) => ({
        text: e.querySelector("p")?.textContent ?? "",
        spent: e.classList.contains("spent"),
      }),
    ).catch(() => undefined);
    return card && text.test(card.text) && card.spent === spent;
  }, 15_000);
}
