// The backtest page's timeline: nodes out over the window as an inline SVG step chart, node-heal's
// holds beside them and minHealthy's budget as a line. A step function: each value holds until
// the next point, the last one until the window's end. No script: tooltips are SVG <title>s.
import type { BacktestRun } from "./report_types.ts";
import { escapeHtml, formatUtc } from "./render_html_text.ts";
import { formatWait } from "../base/duration.ts";

const WIDTH = 560;
const HEIGHT = 230;
const LEFT = 34;
const RIGHT = 14;
const TOP = 18;
const BOTTOM = 30;
const PLOT_W = WIDTH - LEFT - RIGHT;
const PLOT_H = HEIGHT - TOP - BOTTOM;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Time-axis spacings, smallest first; the first that gives at most MAX_X_TICKS is used. */
const X_STEPS = [
  MINUTE,
  5 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
  28 * DAY,
];
const MAX_X_TICKS = 8;

/** One step of the chart: from `t` (epoch ms) on, `out` nodes out and `held` held by node-heal. */
export interface Step {
  t: number;
  out: number;
  held: number;
}

/** Options of {@linkcode renderChart}. */
export interface ChartOptions {
  /** Unique in the page: the prefix of the SVG's title and description ids. */
  id: string;
  /** The y axis's top before rounding, the same for every run so that charts compare. */
  yMax: number;
}

/** The points of `outOverTime` that can be drawn, in time order, inside the window. */
export function steps(run: BacktestRun, window: { from: string; to: string }): Step[] {
  const from = Date.parse(window.from);
  const to = Date.parse(window.to);
  return run.outOverTime
    .map((p) => ({ t: Date.parse(p.at), out: p.out, held: p.heldByNodeHeal }))
    .filter((p) =>
      Number.isFinite(p.t) && Number.isFinite(p.out) && Number.isFinite(p.held) && p.t <= to
    )
    .map((p) => ({ ...p, t: Math.max(p.t, from) }))
    .sort((a, b) => a.t - b.t);
}

/** The largest count a chart of these runs must show (at least 1). */
export function countMax(runs: BacktestRun[]): number {
  let max = 1;
  for (const run of runs) {
    max = Math.max(max, run.peakOut.count, run.peakOut.budget);
    for (const p of run.outOverTime) max = Math.max(max, p.out, p.heldByNodeHeal);
  }
  return Number.isFinite(max) ? max : 1;
}

/** An SVG step path through `points`, each value held until the next and the last until `end`. */
export function stepPath(
  points: { x: number; y: number }[],
  end: number,
): string {
  if (points.length === 0) return "";
  const parts = [`M${r(points[0].x)} ${r(points[0].y)}`];
  for (const p of points.slice(1)) parts.push(`H${r(p.x)}V${r(p.y)}`);
  parts.push(`H${r(end)}`);
  return parts.join("");
}

/** The chart's scales: times to x, counts to y (capped at the axis's top). */
interface Scale {
  from: number;
  to: number;
  yTop: number;
  yStep: number;
  x: (t: number) => number;
  y: (v: number) => number;
}

/** The run's timeline as an inline `<svg>`, with a legend. */
export function renderChart(
  run: BacktestRun,
  window: { from: string; to: string },
  options: ChartOptions,
): string {
  const from = Date.parse(window.from);
  const to = Date.parse(window.to);
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
    return `<p class="empty">No timeline: the window ${escapeHtml(window.from)} → ${
      escapeHtml(window.to)
    } is empty.</p>`;
  }
  const yStep = niceStep(options.yMax);
  const yTop = Math.max(yStep, Math.ceil(options.yMax / yStep) * yStep);
  const scale: Scale = {
    from,
    to,
    yTop,
    yStep,
    x: (t) => LEFT + ((t - from) / (to - from)) * PLOT_W,
    y: (v) => TOP + PLOT_H - (Math.min(v, yTop) / yTop) * PLOT_H,
  };
  const points = steps(run, window);
  return [
    ...chartHead(run, window, options.id, points),
    ...yAxis(scale),
    ...xAxis(scale),
    ...series(points, scale),
    ...budgetLine(run, scale),
    hoverTargets(points, scale),
    `</svg>`,
    legend(),
  ].join("\n");
}

/** The `<svg>` element, its title and its description for screen readers. */
function chartHead(
  run: BacktestRun,
  window: { from: string; to: string },
  id: string,
  points: Step[],
): string[] {
  const titleId = `${id}-title`;
  const descId = `${id}-desc`;
  const peak = points.reduce((m, p) => Math.max(m, p.out), 0);
  return [
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" ` +
    `aria-labelledby="${escapeHtml(titleId)} ${escapeHtml(descId)}">`,
    `<title id="${escapeHtml(titleId)}">Nodes out over time, policy ${
      escapeHtml(run.policy)
    }</title>`,
    `<desc id="${escapeHtml(descId)}">${
      escapeHtml(
        `From ${formatUtc(window.from)} to ${formatUtc(window.to)} UTC: at most ${peak} ` +
          `nodes out (budget ${run.peakOut.budget}), ${points.length} changes.`,
      )
    }</desc>`,
  ];
}

/** Horizontal grid and the y axis's counts. */
function yAxis({ y, yTop, yStep }: Scale): string[] {
  const parts = [`<g class="axis y-axis">`];
  for (let v = 0; v <= yTop; v += yStep) {
    parts.push(
      `<line class="grid" x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${r(y(v))}" y2="${r(y(v))}"/>`,
      `<text x="${LEFT - 6}" y="${r(y(v) + 4)}" text-anchor="end">${v}</text>`,
    );
  }
  parts.push(`<text x="${LEFT}" y="${TOP - 6}">nodes out</text>`, `</g>`);
  return parts;
}

/** Vertical grid and the time axis. */
function xAxis({ x, from, to }: Scale): string[] {
  const parts = [`<g class="axis x-axis">`];
  for (const tick of timeTicks(from, to)) {
    const tx = r(x(tick.t));
    // A label at the right edge would be cut by the view box: it ends at its tick instead.
    const anchor = x(tick.t) > LEFT + PLOT_W - 16 ? "end" : "middle";
    parts.push(
      `<line class="grid${tick.day ? " day" : ""}" x1="${tx}" x2="${tx}" y1="${TOP}" ` +
        `y2="${TOP + PLOT_H + 4}"/>`,
      `<text x="${tx}" y="${TOP + PLOT_H + 16}" text-anchor="${anchor}"${
        tick.day ? ' class="day"' : ""
      }>${escapeHtml(tick.label)}</text>`,
    );
  }
  parts.push(
    `<text x="${LEFT + PLOT_W}" y="${HEIGHT - 2}" text-anchor="end">UTC</text>`,
    `<line class="frame" x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${TOP + PLOT_H}" ` +
      `y2="${TOP + PLOT_H}"/>`,
    `</g>`,
  );
  return parts;
}

/** The nodes out (an area and its line) and the nodes held, or "No data". */
function series(points: Step[], { x, y, to }: Scale): string[] {
  if (points.length === 0) {
    return [
      `<text class="no-data" x="${LEFT + PLOT_W / 2}" y="${TOP + PLOT_H / 2}" ` +
      `text-anchor="middle">No data</text>`,
    ];
  }
  const end = x(to);
  const out = stepPath(points.map((p) => ({ x: x(p.t), y: y(p.out) })), end);
  const held = stepPath(points.map((p) => ({ x: x(p.t), y: y(p.held) })), end);
  const base = r(y(0));
  return [
    `<path class="area" d="${out}V${base}H${r(x(points[0].t))}Z"/>`,
    // Held is drawn over out: where they are equal, its dashes show on out's line.
    `<path class="series out" data-points="${points.length}" d="${out}"/>`,
    `<path class="series held" data-points="${points.length}" d="${held}"/>`,
  ];
}

/** The budget: how many nodes may be out at once, and why. */
function budgetLine(run: BacktestRun, { y }: Scale): string[] {
  const budget = run.peakOut.budget;
  const by = r(y(budget));
  return [
    `<g class="budget" data-budget="${escapeHtml(budget)}">`,
    `<title>${
      escapeHtml(
        `Budget: ${budget} out at most (${run.selected} counted, ` +
          `${run.minHealthyRequired} must stay available, minHealthy ${run.gates.minHealthy})`,
      )
    }</title>`,
    `<line x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${by}" y2="${by}"/>`,
    `<text x="${LEFT + PLOT_W - 2}" y="${r(y(budget) - 4)}" text-anchor="end">budget ${
      escapeHtml(budget)
    }</text>`,
    `</g>`,
  ];
}

/** A transparent band per step, its `<title>` the step's time span and counts. */
function hoverTargets(
  points: Step[],
  scale: { x: (t: number) => number; to: number },
): string {
  const bands: string[] = [];
  points.forEach((p, i) => {
    const until = points[i + 1]?.t ?? scale.to;
    const width = scale.x(until) - scale.x(p.t);
    if (width <= 0) return;
    const text = `${formatUtc(new Date(p.t).toISOString())} for ${formatWait(until - p.t)}: ` +
      `${p.out} out, ${p.held} held by node-heal`;
    bands.push(
      `<rect class="hit" x="${r(scale.x(p.t))}" y="${TOP}" width="${r(width)}" ` +
        `height="${PLOT_H}"><title>${escapeHtml(text)}</title></rect>`,
    );
  });
  return `<g class="hits">${bands.join("")}</g>`;
}

function legend(): string {
  return `<ul class="legend">` +
    `<li><span class="swatch out"></span>nodes out (unschedulable or NotReady)</li>` +
    `<li><span class="swatch held"></span>held by node-heal</li>` +
    `<li><span class="swatch budget"></span>budget (minHealthy)</li></ul>`;
}

/** 1, 2 or 5 times a power of ten, so that the axis has at most five steps. */
function niceStep(max: number): number {
  if (!Number.isFinite(max) || max <= 5) return 1;
  for (let p = 1;; p *= 10) {
    for (const m of [1, 2, 5]) if (max / (m * p) <= 5) return m * p;
  }
}

/** Ticks at round UTC times; a day's start is labelled with its date, other ticks `HH:MM`. */
export function timeTicks(from: number, to: number): { t: number; label: string; day: boolean }[] {
  const span = to - from;
  const step = X_STEPS.find((s) => span / s <= MAX_X_TICKS) ?? Math.ceil(span / MAX_X_TICKS / DAY) *
      DAY;
  const ticks = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
    const iso = new Date(t).toISOString();
    const day = t % DAY === 0;
    ticks.push({ t, day, label: day || step >= DAY ? iso.slice(5, 10) : iso.slice(11, 16) });
  }
  return ticks;
}

/** A coordinate with one decimal: enough for a 560-wide view box, and a short path. */
function r(n: number): string {
  return String(Math.round(n * 10) / 10);
}
