// The backtest's Prometheus client against a fake Prometheus that misbehaves: every broken answer
// ends in one clear line naming what was wrong, never a JavaScript error nor a silent wrong answer.
import assert from "node:assert/strict";
import { CHUNK_SAMPLES, MAX_POINTS, PrometheusApi } from "../../../lib/backtest/prometheus.ts";
import { startFakePrometheus, steps, success } from "../../fakes/prometheus.ts";

const FROM = new Date("2026-11-01T00:00:00Z");
const TO = new Date("2026-11-01T01:00:00Z");
const RANGE = { from: FROM, to: TO, stepMs: 60_000 };
const LABELS = { alertname: "NodeHighCPU", heal: "true", instance: "10.0.1.1:9100" };

/** The error a range query fails with, when Prometheus answers `body` (JSON unless a string). */
async function failure(body: unknown, init: ResponseInit = {}): Promise<string> {
  await using prom = startFakePrometheus(() =>
    typeof body === "string" ? new Response(body, init) : Response.json(body, init)
  );
  const err = await new PrometheusApi(prom.url).queryRange("up", RANGE).then(
    () => assert.fail("the query succeeded"),
    (e: Error) => e,
  );
  assert.ok(!(err instanceof TypeError), `a JavaScript error: ${err.stack}`);
  assert.doesNotMatch(err.message, /\n/, "the message is one line");
  return err.message;
}

const matrix = (result: unknown) => ({ status: "success", data: { resultType: "matrix", result } });

Deno.test("PrometheusApi names what is wrong with an answer that is not the API's JSON", async () => {
  assert.match(
    await failure("<html>\n<body>Bad gateway</body>\n</html>", { status: 502 }),
    /answered query_range with HTTP 502 and no JSON: "<html> <body>Bad gateway<\/body> <\/html>"/,
  );
  assert.match(await failure(null), /answered query_range with null, not an API answer/);
  assert.match(await failure(42), /answered query_range with 42, not an API answer/);
  assert.match(
    await failure(
      { status: "error", errorType: "bad_data", error: "parse error\n\u001b[31mred" },
      { status: 400 },
    ),
    /refused query_range "up": bad_data: "parse error \\u001b\[31mred"/,
  );
  assert.match(
    await failure({ status: "success", data: { resultType: "vector", result: [] } }),
    /answered query_range with a "vector", expected a "matrix"/,
  );
});

Deno.test("PrometheusApi refuses a matrix of the wrong shape, naming the field", async () => {
  const cases: [unknown, RegExp][] = [
    [{}, /field "data.result" must be an array, got an object/],
    [[null], /field "data.result\[0\]" must be an object, got null/],
    [[{ metric: LABELS, values: "abc" }], /field "data.result\[0\].values" must be an array/],
    [
      [{ metric: LABELS, values: [1, 2] }],
      /"data.result\[0\].values\[0\]" must be \[time, "value"\]/,
    ],
    [[{ metric: LABELS, values: [["x", "1"]] }], /"data.result\[0\].values\[0\]" must be \[time/],
    [
      [{ metric: LABELS, values: [[1, 1]] }],
      /"data.result\[0\].values\[0\]" must be \[time, "value"\]/,
    ],
    [
      [{ metric: LABELS, values: [[1_793_491_200, "12abc"]] }],
      /field "data.result\[0\].values\[0\]\[1\]" must be a number such as "1.5", "NaN" or "\+Inf", got "12abc"/,
    ],
    [
      [{ metric: { alertname: 5 }, values: [] }],
      /field "data.result\[0\].metric.alertname" must be a string, got 5/,
    ],
  ];
  for (const [result, message] of cases) assert.match(await failure(matrix(result)), message);
});

Deno.test("PrometheusApi reads Prometheus's special values NaN, +Inf and -Inf", async () => {
  await using prom = startFakePrometheus(({ form }) =>
    success(
      "matrix",
      [{
        metric: LABELS,
        values: steps(form).slice(0, 3).map((t, i) => [t, ["NaN", "+Inf", "-Inf"][i]]),
      }],
    )
  );
  const [s] = await new PrometheusApi(prom.url).queryRange("up", RANGE);
  assert.deepEqual(s.points.map((p) => p[1]), [NaN, Infinity, -Infinity]);
});

Deno.test("PrometheusApi tells a 401 to give --bearer-token-file, and sends the token when given", async () => {
  await using prom = startFakePrometheus(({ headers }) =>
    headers.get("authorization") === "Bearer s3cret"
      ? success("matrix", [])
      : new Response("Unauthorized\n", { status: 401 })
  );
  const err = await new PrometheusApi(prom.url).queryRange("up", RANGE).catch((e) => e);
  assert.match(
    err.message,
    /refused query_range with HTTP 401: give a token with --bearer-token-file/,
  );
  assert.deepEqual(
    await new PrometheusApi(prom.url, { headers: { authorization: "Bearer s3cret" } })
      .queryRange("up", RANGE),
    [],
  );
  const wrong = new PrometheusApi(prom.url, { headers: { authorization: "Bearer nope" } });
  assert.match(
    (await wrong.queryRange("up", RANGE).catch((e) => e)).message,
    /refused query_range with HTTP 401: the bearer token was refused/,
  );
});

Deno.test("PrometheusApi gives up on a slow answer, its headers or its body, naming the timeout", async () => {
  await using prom = startFakePrometheus(({ path }, signal) => {
    const hang = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    if (path === "query") return hang.then(() => new Response("late"));
    const body = new ReadableStream({
      async start(c) {
        c.enqueue(new TextEncoder().encode('{"status":"succ'));
        await hang;
        c.close();
      },
    });
    return new Response(body);
  });
  const api = new PrometheusApi(prom.url, { timeoutMs: 200 });
  const headers = await api.query("up", TO).catch((e) => e);
  assert.match(
    headers.message,
    /Prometheus at http:\/\/127.0.0.1:\d+ did not answer query within 200ms/,
  );
  const body = await api.queryRange("up", RANGE).catch((e) => e);
  assert.match(body.message, /did not answer query_range within 200ms/);
});

Deno.test("PrometheusApi keeps the credentials of a --prometheus URL out of what it shows", async () => {
  await using prom = startFakePrometheus(({ headers }) =>
    headers.get("authorization") === `Basic ${btoa("admin:hunter2")}`
      ? Response.json({ status: "error", error: "boom" }, { status: 422 })
      : new Response("", { status: 401 })
  );
  const api = new PrometheusApi(prom.url.replace("//", "//admin:hunter2@"));
  assert.equal(api.url, prom.url.replace("//", "//admin:***@"));
  const err = await api.queryRange("up", RANGE).catch((e) => e);
  assert.match(err.message, /refused query_range "up": "boom"/);
  assert.doesNotMatch(err.message, /hunter2/);
});

Deno.test("PrometheusApi splits a range in requests under 11,000 points and joins a series across them, in order", async () => {
  const from = new Date("2026-10-02T00:00:00Z");
  const to = new Date("2026-11-01T00:00:00Z");
  await using prom = startFakePrometheus(({ form }) => {
    const ts = steps(form);
    // Out of order within an answer, the same series twice with its labels in another order.
    const values = ts.map((t) => [t, String(t)]).reverse();
    return success("matrix", [
      { metric: LABELS, values: values.slice(0, 10) },
      {
        metric: { instance: LABELS.instance, heal: "true", alertname: LABELS.alertname },
        values: values.slice(10),
      },
    ]);
  });
  const [s, ...rest] = await new PrometheusApi(prom.url).queryRange("up", {
    from,
    to,
    stepMs: 60_000,
  });
  assert.equal(rest.length, 0);
  const sizes = prom.requests.map((r) => steps(r.form).length);
  assert.ok(sizes.every((n) => n <= MAX_POINTS && n < 11_000), `${sizes}`);
  assert.equal(sizes.reduce((a, b) => a + b), 30 * 1440 + 1);
  assert.equal(s.points.length, 30 * 1440 + 1);
  assert.ok(s.points.every(([t], i) => i === 0 || t - s.points[i - 1][0] === 60_000));
  assert.equal(s.points[0][0], from.getTime());
  assert.equal(s.points.at(-1)![0], to.getTime());
});

Deno.test("PrometheusApi asks for fewer steps a request when many series fire at once", async () => {
  const from = new Date("2026-10-29T00:00:00Z");
  const to = new Date("2026-11-01T00:00:00Z");
  const many = 400;
  await using prom = startFakePrometheus(({ form }) => {
    const values = steps(form).map((t) => [t, String(t)]);
    return success(
      "matrix",
      Array.from(
        { length: many },
        (_, i) => ({ metric: { ...LABELS, instance: `n${i}` }, values }),
      ),
    );
  });
  let total = 0;
  for await (
    const chunk of new PrometheusApi(prom.url).rangeChunks("up", { from, to, stepMs: 60_000 })
  ) {
    assert.equal(chunk.length, many);
    total += chunk[0].points.length;
  }
  assert.equal(total, 3 * 1440 + 1);
  const samples = prom.requests.map((r) => steps(r.form).length * many);
  assert.ok(samples.slice(1).every((n) => n <= CHUNK_SAMPLES), `${samples}`);
});

Deno.test("PrometheusApi asks again for a quarter of the steps when an answer has more samples than one answer may keep", async () => {
  const from = new Date("2026-10-31T00:00:00Z");
  const to = new Date("2026-11-01T00:00:00Z");
  await using prom = startFakePrometheus(({ form }) => {
    const values = steps(form).map((t) => [t, String(t)]);
    return success("matrix", [{ metric: LABELS, values }, { metric: { i: "2" }, values }]);
  });
  const api = new PrometheusApi(prom.url, { limits: { samples: 300 } });
  let total = 0;
  for await (const chunk of api.rangeChunks("up", { from, to, stepMs: 60_000 })) {
    total += chunk[0].points.length;
  }
  assert.equal(total, 1441, "every step read once");
  const sizes = prom.requests.map((r) => steps(r.form).length);
  // 500 steps: 1,000 samples, refused; 125: 250, read; then chunks of half what 300 allow.
  assert.deepEqual(sizes.slice(0, 4), [500, 125, 75, 75]);
  await using tiny = startFakePrometheus(({ form }) =>
    success("matrix", [{ metric: LABELS, values: steps(form).map((t) => [t, "1"]) }])
  );
  await assert.rejects(
    new PrometheusApi(tiny.url, { limits: { samples: 10 } }).queryRange("up", RANGE),
    /answered query_range with more than 10 samples, more than node-heal reads; give a longer --step/,
  );
  assert.equal(tiny.requests.length, 2, "61 steps, then 30: the fewest");
});

Deno.test("PrometheusApi leaves out and counts samples outside the window asked, and refuses a time beyond the year 9999", async () => {
  await using prom = startFakePrometheus(({ form }) => {
    const ts = steps(form);
    const values = [[ts[0] - 60, "1"], [ts[0] - 61, "1"], ...ts.map((t) => [t, "1"]), [
      ts.at(-1)! + 1,
      "1",
    ]];
    return success("matrix", [{ metric: LABELS, values }]);
  });
  const api = new PrometheusApi(prom.url);
  const [s] = await api.queryRange("up", RANGE);
  assert.equal(s.points.length, 62, "the step before the start is kept, for a query frontend");
  assert.equal(api.dropped, 2);
  await using far = startFakePrometheus(() =>
    success("matrix", [{ metric: LABELS, values: [[1e15, "1"]] }])
  );
  await assert.rejects(
    new PrometheusApi(far.url).queryRange("up", RANGE),
    /field "data.result\[0\].values\[0\]\[0\]" must be a time from 1970 to 9999 in seconds, got 1000000000000000/,
  );
});
