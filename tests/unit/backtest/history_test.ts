import assert from "node:assert/strict";
import {
  alertmanagerFingerprint,
  alertsQuery,
  alertsSelector,
  EpisodeReader,
  episodes,
  MAX_SERIES,
} from "../../../lib/backtest/history.ts";
import { PrometheusApi, type Series } from "../../../lib/backtest/prometheus.ts";
import { startFakePrometheus, success } from "../../fakes/prometheus.ts";

const T0 = Date.parse("2026-11-01T00:00:00Z");
const MIN = 60_000;

/** A `timestamp(ALERTS)` range answer: at each step, the time of the latest sample within 5m. */
function answer(labels: Record<string, string>, samples: number[], steps: number): Series {
  const points: [number, number][] = [];
  for (let i = 0; i < steps; i++) {
    const at = T0 + i * MIN;
    const latest = samples.filter((s) => s <= at).at(-1);
    if (latest !== undefined && at - latest <= 5 * MIN) points.push([at, latest / 1000]);
  }
  return { labels, points };
}

const LABELS = {
  __name__: "ALERTS",
  alertname: "NodeHighCPU",
  alertstate: "firing",
  heal: "true",
  instance: "10.0.1.1:9100",
};

Deno.test("alertmanagerFingerprint() is prometheus/common's label set signature", () => {
  // From prometheus/common model/signature_test.go.
  assert.equal(alertmanagerFingerprint({}), 14695981039346656037n.toString(16));
  assert.equal(
    alertmanagerFingerprint({ name: "garland, briggs", fear: "love is not enough" }),
    5799056148416392346n.toString(16).padStart(16, "0"),
  );
});

Deno.test("alertsSelector() reads the firing ALERTS a selector picks, braces or not", () => {
  assert.equal(alertsSelector('heal="true"'), 'ALERTS{alertstate="firing",heal="true"}');
  assert.equal(alertsSelector('{heal="true"}'), 'ALERTS{alertstate="firing",heal="true"}');
  assert.equal(alertsSelector(""), 'ALERTS{alertstate="firing"}');
  assert.equal(alertsQuery('heal="true"'), 'timestamp(ALERTS{alertstate="firing",heal="true"})');
});

Deno.test("episodes() ends a firing period at its last sample, not 5 minutes of lookback later", () => {
  const samples = Array.from({ length: 40 }, (_, i) => T0 + (120 + i) * MIN);
  const [e, ...rest] = episodes([answer(LABELS, samples, 300)], {
    evalIntervalMs: MIN,
    stepMs: MIN,
    to: new Date(T0 + 299 * MIN),
  });
  assert.equal(rest.length, 0);
  assert.equal(e.start.toISOString(), "2026-11-01T02:00:00.000Z");
  assert.equal(e.end?.toISOString(), "2026-11-01T02:40:00.000Z");
  assert.deepEqual(e.labels, {
    alertname: "NodeHighCPU",
    heal: "true",
    instance: "10.0.1.1:9100",
  });
  assert.equal(e.fingerprint, alertmanagerFingerprint(e.labels));
});

Deno.test("episodes() splits a series at a gap and leaves one still firing at the end open", () => {
  const firing = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => T0 + (from + i) * MIN);
  // 08:00-08:40, a 10-minute gap (longer than the 5-minute lookback), 08:50-09:30; and one from 4:50 on.
  const gap = answer(LABELS, [...firing(480, 520), ...firing(530, 570)], 600);
  const open = answer({ ...LABELS, instance: "10.0.1.2:9100" }, firing(590, 600), 600);
  const found = episodes([gap, open], {
    evalIntervalMs: MIN,
    stepMs: MIN,
    to: new Date(T0 + 599 * MIN),
  });
  assert.deepEqual(
    found.map((e) => [e.labels.instance, e.start.toISOString(), e.end?.toISOString()]),
    [
      ["10.0.1.1:9100", "2026-11-01T08:00:00.000Z", "2026-11-01T08:40:00.000Z"],
      ["10.0.1.1:9100", "2026-11-01T08:50:00.000Z", "2026-11-01T09:30:00.000Z"],
      ["10.0.1.2:9100", "2026-11-01T09:50:00.000Z", undefined],
    ],
  );
});

Deno.test("episodes() splits a series at a gap shorter than the lookback too", () => {
  const firing = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => T0 + (from + i) * MIN);
  const short = answer(LABELS, [...firing(0, 10), ...firing(14, 20)], 30);
  const found = episodes([short], {
    evalIntervalMs: MIN,
    stepMs: MIN,
    to: new Date(T0 + 29 * MIN),
  });
  assert.deepEqual(
    found.map((e) => [e.start.toISOString(), e.end?.toISOString()]),
    [
      ["2026-11-01T00:00:00.000Z", "2026-11-01T00:10:00.000Z"],
      ["2026-11-01T00:14:00.000Z", "2026-11-01T00:20:00.000Z"],
    ],
  );
});

Deno.test("EpisodeReader reads an answer chunk by chunk as episodes() reads it whole, a firing period across chunks as one", () => {
  const firing = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => T0 + (from + i) * MIN);
  const series = [
    answer(LABELS, [...firing(5, 40), ...firing(52, 90)], 100),
    answer({ ...LABELS, instance: "10.0.1.2:9100" }, firing(20, 100), 100),
  ];
  const options = { evalIntervalMs: MIN, stepMs: MIN, to: new Date(T0 + 99 * MIN) };
  const reader = new EpisodeReader(options);
  for (let from = 0; from < 100; from += 7) {
    reader.add(series.map((s) => ({
      labels: s.labels,
      points: s.points.filter(([t]) => t >= T0 + from * MIN && t < T0 + (from + 7) * MIN),
    })));
  }
  const whole = episodes(series, options);
  assert.deepEqual(reader.episodes(), whole);
  assert.deepEqual(
    whole.map((e) => [e.labels.instance, e.start.toISOString(), e.end?.toISOString()]),
    [
      ["10.0.1.1:9100", "2026-11-01T00:05:00.000Z", "2026-11-01T00:40:00.000Z"],
      ["10.0.1.2:9100", "2026-11-01T00:20:00.000Z", undefined],
      ["10.0.1.1:9100", "2026-11-01T00:52:00.000Z", "2026-11-01T01:30:00.000Z"],
    ],
  );
});

Deno.test("episodes() refuses a timestamp() that is not a time, naming the series", () => {
  for (const bad of [NaN, Infinity]) {
    const s = { labels: LABELS, points: [[T0, T0 / 1000], [T0 + MIN, bad]] as [number, number][] };
    assert.throws(
      () => episodes([s], { evalIntervalMs: MIN, stepMs: MIN, to: new Date(T0 + 9 * MIN) }),
      new RegExp(
        `Cannot read the firing periods of ALERTS\\{alertname="NodeHighCPU",.*instance="10.0.1.1:9100"\\}: ` +
          `its timestamp\\(\\) at 2026-11-01T00:01:00.000Z is ${bad}, not a time`,
      ),
    );
  }
});

Deno.test("episodes() refuses a step longer than two evaluation intervals, which would miss a firing period's gap and end", () => {
  // Firing 00:00-00:07, resolved 3 minutes, firing 00:10-00:20: a 5-minute step sees one period.
  const firing = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => T0 + (from + i) * MIN);
  const series = answer(LABELS, [...firing(0, 7), ...firing(10, 20)], 40);
  const options = { evalIntervalMs: MIN, stepMs: MIN, to: new Date(T0 + 39 * MIN) };
  assert.deepEqual(
    episodes([series], options).map((e) => [e.start.toISOString(), e.end?.toISOString()]),
    [
      ["2026-11-01T00:00:00.000Z", "2026-11-01T00:07:00.000Z"],
      ["2026-11-01T00:10:00.000Z", "2026-11-01T00:20:00.000Z"],
    ],
  );
  const every5m = { ...series, points: series.points.filter(([t]) => (t - T0) % (5 * MIN) === 0) };
  assert.throws(
    () => episodes([every5m], { ...options, stepMs: 5 * MIN }),
    /Cannot read firing periods at a step of 5m: a step longer than two evaluation intervals \(2m\) misses gaps and ends/,
  );
});

Deno.test("EpisodeReader reads a firing period whole from a query frontend that aligns each chunk's steps to the step", async () => {
  // Thanos' and Cortex's query frontends may move a range's start down to a multiple of its step.
  await using prom = startFakePrometheus(({ form }) => {
    const step = Number(form.get("step"));
    const start = Math.floor(Number(form.get("start")) / step) * step;
    const values = [];
    for (let t = start; t <= Number(form.get("end")); t += step) values.push([t, String(t)]);
    return success("matrix", [{ metric: LABELS, values }]);
  });
  const from = new Date(T0 + 30_000);
  const to = new Date(T0 + 2 * 24 * 60 * MIN);
  const reader = new EpisodeReader({ evalIntervalMs: MIN, stepMs: MIN, to });
  for await (
    const chunk of new PrometheusApi(prom.url).rangeChunks("up", { from, to, stepMs: MIN })
  ) {
    reader.add(chunk);
  }
  assert.ok(prom.requests.length > 1);
  assert.deepEqual(reader.episodes().map((e) => [e.start.toISOString(), e.end]), [
    ["2026-11-01T00:00:00.000Z", undefined],
  ]);
});

Deno.test("episodes() refuses a timestamp() later than the step it was read at, which no Prometheus answers", () => {
  const s = { labels: LABELS, points: [[T0, 1e15]] as [number, number][] };
  assert.throws(
    () => episodes([s], { evalIntervalMs: MIN, stepMs: MIN, to: new Date(T0 + 9 * MIN) }),
    /its timestamp\(\) at 2026-11-01T00:00:00.000Z is 1000000000000000, later than the step it was read at/,
  );
});

Deno.test("EpisodeReader refuses more alert series than a backtest reads, naming what to narrow", () => {
  const reader = new EpisodeReader({ evalIntervalMs: MIN, stepMs: MIN, to: new Date(T0 + MIN) });
  const many = (from: number, n: number): Series[] =>
    Array.from(
      { length: n },
      (_, i) => ({ labels: { ...LABELS, i: String(from + i) }, points: [] }),
    );
  reader.add(many(0, MAX_SERIES));
  assert.throws(
    () => reader.add(many(MAX_SERIES, 1)),
    /Cannot read more than 20,000 alert series: give a narrower --selector or a later --from/,
  );
});
