// The HTTP answer table every sink shares (lib/report/notify/http.ts): what is retried, what is
// refused, Retry-After in both forms and capped, and secrets scrubbed from the words.
import assert from "node:assert/strict";
import {
  classify,
  MAX_RETRY_AFTER_MS,
  retryAfterMs,
  scrub,
} from "../../../../lib/report/notify/http.ts";

const NOW = Date.parse("2024-05-01T10:00:00Z");

Deno.test("2xx is sent; 408, 429 and 5xx are retried; other statuses refused", () => {
  for (const s of [200, 202, 204]) assert.equal(classify(s, null, "", NOW).result, "sent");
  for (const s of [408, 429, 500, 502, 503, 504]) {
    assert.equal(classify(s, null, "", NOW).result, "retry");
  }
  for (const s of [301, 400, 401, 403, 404, 410, 413]) {
    assert.equal(classify(s, null, "", NOW).result, "rejected");
  }
  assert.deepEqual(classify(400, null, "invalid_blocks\n", NOW), {
    result: "rejected",
    why: "HTTP 400: invalid_blocks",
  });
});

Deno.test("Retry-After: seconds, an HTTP-date, capped, or ignored when unreadable", () => {
  assert.equal(retryAfterMs("1", NOW), 1000);
  assert.equal(retryAfterMs(" 30 ", NOW), 30_000);
  assert.equal(retryAfterMs(new Date(NOW + 12_000).toUTCString(), NOW), 12_000);
  assert.equal(retryAfterMs(new Date(NOW - 12_000).toUTCString(), NOW), 0);
  assert.equal(retryAfterMs("86400", NOW), MAX_RETRY_AFTER_MS);
  assert.equal(retryAfterMs("soon", NOW), undefined);
  assert.equal(retryAfterMs(null, NOW), undefined);
  assert.deepEqual(classify(429, "2", "", NOW), {
    result: "retry",
    why: "HTTP 429",
    afterMs: 2000,
  });
});

Deno.test("scrub hides the URL, its path and the secrets, keeps the origin's words", () => {
  const url = "https://hooks.slack.com/services/T0/B0/s3cr3tt0ken";
  const text =
    `error sending request for url (${url}): connection refused; path /services/T0/B0/s3cr3tt0ken; key ABCDEFGH`;
  const out = scrub(text, { url, secrets: ["ABCDEFGH"] });
  assert.ok(!out.includes("s3cr3tt0ken") && !out.includes("ABCDEFGH"), out);
  assert.match(out, /connection refused/);
});
