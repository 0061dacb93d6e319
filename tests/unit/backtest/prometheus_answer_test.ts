// Prometheus's answers read as they arrive: the series wherever the chunks split the bytes, samples
// outside the window dropped and counted, every bound refused as it is passed and the rest of the
// body cancelled unread.
import assert from "node:assert/strict";
import {
  ANSWER_LIMITS,
  type AnswerErrors,
  type AnswerLimits,
  NotJsonAnswer,
  readAnswer,
} from "../../../lib/backtest/prometheus_answer.ts";

const ERRORS: AnswerErrors = {
  bad: (field, wants, got) => new Error(`bad ${field}: ${wants}, got ${got}`),
  wrongType: (type) => new Error(`type ${type}`),
  tooBig: (what) => new Error(`too big: ${what}`),
};

/** A body of `text` in chunks of `size` bytes; `pulled` counts the chunks it gave. */
function body(text: string, size = 65_536) {
  const bytes = new TextEncoder().encode(text);
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      const at = state.pulled++ * size;
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + size));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

function read(
  text: string,
  options: {
    size?: number;
    limits?: Partial<AnswerLimits>;
    window?: { from: number; to: number };
  } = {},
) {
  return readAnswer(body(text, options.size).stream, {
    expected: "matrix",
    errors: ERRORS,
    limits: { ...ANSWER_LIMITS, ...options.limits },
    ...(options.window ? { window: options.window } : {}),
  });
}

const matrix = (result: unknown) =>
  JSON.stringify({ status: "success", data: { resultType: "matrix", result } });
const A = { alertname: "NodeHighCPU", instance: "10.0.1.1:9100" };

Deno.test("readAnswer() reads the same series wherever the chunks split the bytes, labels and values as sent", async () => {
  const text = matrix([
    {
      metric: JSON.parse('{"alertname":"NodeHighCPU","__proto__":"y"}'),
      values: [[1, "1.5"], [2, "+Inf"]],
    },
    { metric: {}, values: [] },
    { values: [[3, "NaN"]], extra: { deep: [[{}]] } },
  ]);
  for (const size of [1, 5, 64, 65_536]) {
    const a = await read(text, { size });
    assert.equal(a.status, "success");
    assert.equal(a.series.length, 2, "the series without a sample is left out");
    assert.deepEqual(a.series[0].points, [[1000, 1.5], [2000, Infinity]]);
    assert.equal(Object.getPrototypeOf(a.series[0].labels), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(a.series[0].labels, "__proto__")?.value, "y");
    assert.ok(Number.isNaN(a.series[1].points[0][1]));
  }
});

Deno.test("readAnswer() drops the samples outside the window as they arrive, and counts them", async () => {
  const values = [[0, "1"], [59, "1"], [60, "1"], [120, "1"], [121, "1"], [7_000_000_000, "1"]];
  const a = await read(matrix([{ metric: A, values }]), { window: { from: 60_000, to: 120_000 } });
  assert.deepEqual(a.series[0].points.map(([t]) => t), [60_000, 120_000]);
  assert.equal(a.dropped, 4);
});

Deno.test("readAnswer() refuses an impossible time: beyond the year 9999, before 1970, not finite", async () => {
  for (const t of ["1e15", "-1", "1e999"]) {
    await assert.rejects(
      read(matrix([]).replace("[]", `[{"metric":{},"values":[[${t},"1"]]}]`)),
      /bad data.result\[0\].values\[0\](\[0\]: a time from 1970 to 9999 in seconds|: \[time, "value"\])/,
    );
  }
});

Deno.test("readAnswer() refuses each bound as it is passed and cancels the rest of the body", async () => {
  const series = (n: number, points = 0) =>
    Array.from({ length: n }, (_, i) => ({
      metric: { i: String(i) },
      values: Array.from({ length: points }, (_, j) => [j, "1"]),
    }));
  const cases: [string, Partial<AnswerLimits>, RegExp][] = [
    [matrix(series(101)), { series: 100 }, /too big: more than 100 series/],
    [matrix(series(10, 11)), { samples: 100 }, /too big: more than 100 samples/],
    [matrix(series(51)), { labels: 50 }, /too big: more than 50 labels/],
    [
      matrix([{ metric: { a: "x".repeat(600) }, values: [] }]),
      { labelBytes: 512 },
      /labels of more/,
    ],
    [matrix(series(5000)) + " ".repeat(1 << 20), { bytes: 100_000 }, /more than 0.1 MiB/],
    [`{"x":${"[".repeat(65)}${"]".repeat(65)}}`, {}, /nested more than 64 deep/],
    [`{"error":"${"x".repeat(70_000)}"}`, {}, /a string longer than 65,536 bytes/],
  ];
  for (const [text, limits, message] of cases) {
    const { stream, state } = body(text + " ".repeat(1 << 20), 4096);
    await assert.rejects(
      readAnswer(stream, {
        expected: "matrix",
        errors: ERRORS,
        limits: { ...ANSWER_LIMITS, ...limits },
      }),
      message,
    );
    assert.ok(state.cancelled, `${message}: the body was cancelled`);
  }
});

Deno.test("readAnswer() says what an answer that is no API answer is, quoting its start", async () => {
  const notJson = await read("<html>\n<body>502</body>").catch((e) => e);
  assert.ok(notJson instanceof NotJsonAnswer);
  assert.equal(notJson.head, "<html>\n<body>502</body>");
  assert.ok((await read('{"status":"success"} x').catch((e) => e)) instanceof NotJsonAnswer);
  assert.ok((await read('{"status":"succ').catch((e) => e)) instanceof NotJsonAnswer);
  assert.equal((await read("[1,2,3]")).notApi, true);
  await assert.rejects(read('{"data":{"resultType":"vector","result":[]}}'), /type vector/);
  await assert.rejects(
    read(matrix([{ metric: { a: 1 }, values: [] }])),
    /bad data.result\[0\].metric.a: a string, got 1/,
  );
  await assert.rejects(
    read(matrix([{ metric: {}, values: [[1, "12abc"]] }])),
    /bad data.result\[0\].values\[0\]\[1\]: a number such as "1.5", "NaN" or "\+Inf", got "12abc"/,
  );
});
