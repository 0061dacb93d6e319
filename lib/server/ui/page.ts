// The status page: a static HTML shell, its stylesheet and its script, each at its own path so
// that the Content-Security-Policy can forbid every inline script and style. The script fills
// the shell from `/status` with textContent alone: alert labels are attacker-controlled.
import { UI_CSS } from "../../report/ui_css.ts";
import { UI_JS } from "./ui_js.ts";

/**
 * Only this origin's script, style and fetches; no frames, forms, plugins or base tags. The page
 * holds no secret, but a label that slipped through as markup must still run nothing.
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  // The favicon is the empty data URL: no request, no 404 in the console.
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers of every status-page answer. */
function headers(contentType: string): Record<string, string> {
  return {
    "content-type": contentType,
    "content-security-policy": UI_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    // The shell and its assets change only with the binary; /status is what refreshes.
    "cache-control": "no-cache",
  };
}

/** The page's HTML: structure only, no data (the script fetches `/status`). */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>node-heal</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui.css">
<script src="/ui.js" defer></script>
</head>
<body>
<header>
  <h1>node-heal</h1>
  <dl id="summary"></dl>
  <p id="updated" class="updated" role="status" aria-live="polite">Loading /status…</p>
</header>
<main>
  <section aria-labelledby="ladder-h">
    <h2 id="ladder-h">Nodes under remediation</h2>
    <div class="scroll"><table id="ladder">
      <thead><tr><th>Node</th><th>Step</th><th>Since</th><th>Alerts holding it</th><th>Next</th></tr></thead>
      <tbody></tbody>
    </table></div>
    <p id="ladder-empty" class="empty" hidden>No node is under remediation.</p>
  </section>
  <section aria-labelledby="offenders-h">
    <h2 id="offenders-h">Repeat offenders</h2>
    <p id="offenders-window" class="updated"></p>
    <div class="scroll"><table id="offenders">
      <thead><tr><th>Node</th><th>Remediations</th><th>Last</th></tr></thead>
      <tbody></tbody>
    </table></div>
    <p id="offenders-more" class="empty" hidden></p>
    <p id="offenders-empty" class="empty" hidden>No node was remediated more than once.</p>
  </section>
  <section id="breakers-s" aria-labelledby="breakers-h" hidden>
    <h2 id="breakers-h">Breakers</h2>
    <div id="breakers" class="gates"></div>
    <p id="breakers-empty" class="empty" hidden>No breaker open.</p>
  </section>
  <section aria-labelledby="gates-h">
    <h2 id="gates-h">Gates</h2>
    <div id="gates" class="gates"></div>
    <div id="domains" class="domains" hidden></div>
  </section>
  <section aria-labelledby="decisions-h">
    <h2 id="decisions-h">Last decisions</h2>
    <div class="filters">
      <label>Node <input id="filter-node" type="search" placeholder="any node" autocomplete="off"></label>
      <label>Outcome <select id="filter-outcome"><option value="">any outcome</option></select></label>
    </div>
    <div class="scroll"><table id="decisions">
      <thead><tr><th>Time</th><th>Alert</th><th>Node</th><th>Outcome</th><th>Gate</th><th>Message</th></tr></thead>
      <tbody></tbody>
    </table></div>
    <p id="decisions-empty" class="empty" hidden>No decision yet.</p>
  </section>
</main>
<noscript><p>This page needs JavaScript to read <a href="/status">/status</a>, which is plain JSON.</p></noscript>
</body>
</html>
`;

/** The status page's answer for `path`, or undefined when the path is not the page's. */
export function uiResponse(path: string): Response | undefined {
  switch (path) {
    case "/":
    case "/ui":
      return new Response(PAGE_HTML, { headers: headers("text/html; charset=utf-8") });
    case "/ui.js":
      return new Response(UI_JS, { headers: headers("text/javascript; charset=utf-8") });
    case "/ui.css":
      return new Response(UI_CSS, { headers: headers("text/css; charset=utf-8") });
    default:
      return undefined;
  }
}
