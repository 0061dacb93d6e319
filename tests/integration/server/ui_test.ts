// The status page over plain HTTP (no browser): its headers lock the page down, its script and
// stylesheet are served from their own paths, and --status-auth puts them behind the credentials.
import assert from "node:assert/strict";
import { withService } from "../../support/helpers.ts";

const credentials = { bearerTokens: ["ui-token"], basicUsers: new Map([["oncall", "pw"]]) };

Deno.test("the status page is HTML with a strict CSP, nosniff and no inline script", async () => {
  await using f = await withService();
  for (const path of ["/", "/ui"]) {
    const res = await fetch(`${f.service.url}${path}`);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    assert.match(html, /<script src="\/ui.js" defer><\/script>/);
    // Every script is external: no <script> with a body, no event-handler attribute.
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/);
    assert.doesNotMatch(html, /\son[a-z]+=/);
  }
  const js = await fetch(`${f.service.url}/ui.js`);
  assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(js.headers.get("x-content-type-options"), "nosniff");
  // The script writes data with textContent only.
  assert.doesNotMatch(await js.text(), /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  const css = await fetch(`${f.service.url}/ui.css`);
  assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
  await css.body?.cancel();
});

Deno.test("the status page takes no POST: it has no mutating action", async () => {
  await using f = await withService();
  const res = await fetch(`${f.service.url}/`, { method: "POST", body: "x" });
  assert.equal(res.status, 405);
  await res.body?.cancel();
});

Deno.test("without --status-auth, /status and the page answer without credentials", async () => {
  await using f = await withService({ credentials });
  for (const path of ["/", "/status"]) {
    const res = await fetch(`${f.service.url}${path}`);
    assert.equal(res.status, 200, path);
    await res.body?.cancel();
  }
});

Deno.test("with --status-auth, /status and the page answer 401 without the webhook's credentials", async () => {
  await using f = await withService({ credentials, statusAuth: true });
  for (const path of ["/", "/ui", "/status"]) {
    const res = await fetch(`${f.service.url}${path}`);
    assert.equal(res.status, 401, path);
    assert.match(res.headers.get("www-authenticate") ?? "", /Basic realm="node-heal"/);
    await res.body?.cancel();
    const bearer = await fetch(`${f.service.url}${path}`, {
      headers: { authorization: "Bearer ui-token" },
    });
    assert.equal(bearer.status, 200, `${path} with the token`);
    await bearer.body?.cancel();
    const basic = await fetch(`${f.service.url}${path}`, {
      headers: { authorization: `Basic ${btoa("oncall:pw")}` },
    });
    assert.equal(basic.status, 200, `${path} with basic auth`);
    await basic.body?.cancel();
  }
  // The script and stylesheet hold no data: they load before the browser has asked for a login.
  const js = await fetch(`${f.service.url}/ui.js`);
  assert.equal(js.status, 200);
  await js.body?.cancel();
});

Deno.test("--status-auth without credentials stops the start, naming the flag", async () => {
  await assert.rejects(
    () => withService({ statusAuth: true }),
    /--status-auth without credentials/,
  );
});
