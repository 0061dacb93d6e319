// The HTTP answer table every sink shares (lib/report/notify/http.ts): what is retried, what is
// refused, Retry-After in both forms and capped, and secrets scrubbed from the words.
import assert from "node:assert/strict";
import {
  classify,
  MAX_ANSWER_BYTES,
  MAX_RETRY_AFTER_MS,
  post,
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

/** A `fetch` that answers `status` with `bytes` bytes made as they are read; what was read. */
function hugeAnswer(status: number, bytes: number) {
  const state = { pulled: 0, cancelled: false };
  const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
  const fake = () =>
    Promise.resolve(
      new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            if (state.pulled >= bytes) return c.close();
            state.pulled += chunk.byteLength;
            c.enqueue(chunk);
          },
          cancel() {
            state.cancelled = true;
          },
        }, { highWaterMark: 0 }),
        { status },
      ),
    );
  return { state, fake };
}

Deno.test("a receiver's answer is read to 64 KiB, the rest cancelled: a 2xx still counts sent, a refusal quotes 200 characters", async () => {
  const real = globalThis.fetch;
  try {
    for (const [status, want] of [[200, "sent"], [400, "rejected"], [503, "retry"]] as const) {
      const { state, fake } = hugeAnswer(status, 100 * 1024 * 1024);
      globalThis.fetch = fake;
      const attempt = await post({
        url: "http://127.0.0.1:9/hook",
        body: "{}",
        headers: {},
        signal: AbortSignal.timeout(5000),
        secrets: [],
      });
      assert.equal(attempt.result, want);
      assert.ok(state.pulled <= MAX_ANSWER_BYTES + 16 * 1024, `read ${state.pulled} bytes`);
      assert.ok(state.cancelled, "the rest was cancelled");
      if (attempt.result !== "sent") {
        assert.ok(attempt.why.length <= `HTTP ${status}: `.length + 200, attempt.why);
      }
    }
  } finally {
    globalThis.fetch = real;
  }
});
