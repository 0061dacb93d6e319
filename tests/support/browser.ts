// What the browser tests share: Debian's headless Chromium found on disk (or at $CHROMIUM), the
// test's options when it is absent, and a page that records console errors, page errors, dialogs
// and CSP violations. Without Chromium a browser test is skipped, saying so; under CI=true it fails.
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { uiResponse } from "../../lib/server/ui/page.ts";

const CANDIDATES = [
  Deno.env.get("CHROMIUM") ?? "",
  "/usr/bin/chromium-headless-shell",
  "/usr/lib/chromium/chromium-headless-shell",
  "/usr/bin/chromium",
].filter((p) => p !== "");

/** The first Chromium of the candidates that exists, or undefined. */
export const CHROMIUM: string | undefined = CANDIDATES.find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

const INSTALL_HINT = "apt-get install chromium-headless-shell, or set CHROMIUM";

/**
 * `Deno.test` options for a browser test of `what`: ignored, with a warning, when no Chromium is
 * installed, except under CI=true, where the test runs and {@linkcode launch} fails it.
 */
export function browserTest(what: string): { ignore: boolean } {
  if (CHROMIUM || Deno.env.get("CI") === "true") return { ignore: false };
  console.warn(`SKIPPED ${what}: no Chromium at ${CANDIDATES.join(", ")} (${INSTALL_HINT})`);
  return { ignore: true };
}

/** Starts headless Chromium; throws with the install hint when there is none. */
export function launch(): Promise<Browser> {
  if (!CHROMIUM) {
    throw new Error(
      `Cannot start a browser: no Chromium at ${CANDIDATES.join(", ")} (${INSTALL_HINT})`,
    );
  }
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
  });
}

/**
 * A new page that records, in `problems`, console errors, uncaught errors, dialogs (dismissed)
 * and CSP violations.
 */
export async function watchedPage(browser: Browser): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e}`));
  page.on("dialog", (d) => {
    problems.push(`dialog: ${d.type()} ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  // Injected over the DevTools protocol, so the page's own CSP does not apply to it.
  await page.evaluateOnNewDocument(`document.addEventListener("securitypolicyviolation", (e) =>
    console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));`);
  return { page, problems };
}

/**
 * Screenshots the whole page to docs/images/`name` with NODE_HEAL_UI_SCREENSHOT=1 (the docs'
 * pictures), else to a temporary folder; returns its path.
 */
export async function screenshot(page: Page, name: `${string}.png`): Promise<string> {
  const shot = Deno.env.get("NODE_HEAL_UI_SCREENSHOT") === "1"
    ? new URL(`../../docs/images/${name}`, import.meta.url).pathname
    : `${await Deno.makeTempDir({ prefix: "node-heal-ui-" })}/${name}`;
  await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
  if (Deno.statSync(shot).size === 0) throw new Error(`the screenshot ${shot} is empty`);
  return shot;
}

/** Throws unless the page itself fits a phone's width (wide tables may scroll on their own). */
export async function assertFitsPhone(page: Page): Promise<void> {
  await page.setViewport({ width: 390, height: 844 });
  const overflow = await page.evaluate(
    `document.documentElement.scrollWidth - document.documentElement.clientWidth`,
  ) as number;
  if (overflow > 0) throw new Error(`the page is ${overflow}px wider than a phone`);
}

/**
 * The status page served with `/status` answered by `status()` (a fixed one the test builds),
 * open in a fresh browser at a desktop size; `close()` ends the browser and the server.
 */
export async function pageOnStatus(status: () => unknown): Promise<{
  page: Page;
  problems: string[];
  close(): Promise<void>;
}> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/status") return Response.json(status());
    return uiResponse(path) ?? new Response("not found", { status: 404 });
  });
  const browser = await launch();
  const close = async () => {
    await browser.close();
    await server.shutdown();
  };
  try {
    const { page, problems } = await watchedPage(browser);
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(`http://127.0.0.1:${server.addr.port}/`, { waitUntil: "load" });
    return { page, problems, close };
  } catch (err) {
    await close();
    throw err;
  }
}
