// The backtest page's stylesheet: the status page's look (its colours, light and dark, and its
// tables) plus the runs' columns and the chart. The page inlines it, and its Content-Security-Policy
// allows exactly this stylesheet by its hash: no other style, no style attribute, nothing loaded.
import { createHash } from "node:crypto";
import { UI_CSS } from "../report/ui_css.ts";

const BACKTEST_CSS = `
header { display: block; }
header h1 { margin-bottom: .5rem; }
.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(20rem, 1fr)); gap: .35rem 1.5rem; }
.meta div { display: block; }
.meta dd { font-weight: 500; overflow-wrap: anywhere; }
code { font: .88em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: break-word; }
h2 .sub, h3 .sub { display: block; color: var(--muted); font-size: .85rem; font-weight: 400; }
h3 { font-size: .95rem; margin: 1rem 0 .35rem; }
.runs { display: grid; grid-auto-flow: column; grid-auto-columns: minmax(24rem, 1fr);
  grid-template-rows: repeat(8, auto); gap: 0 1.5rem; }
.run { display: grid; grid-row: span 8; grid-template-rows: subgrid; min-width: 0;
  border-top: 3px solid var(--accent); padding-top: .25rem; }
.run > * { min-width: 0; }
.run h2 { margin-top: .5rem; }
table.kv th { width: 40%; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.peak { margin: .5rem 0 0; }
.peak .over { color: var(--bad); font-weight: 600; }
.peak .at { color: var(--warn); font-weight: 600; }
.peak .under { color: var(--ok); font-weight: 600; }
figure { margin: 0; }
svg.chart { display: block; width: 100%; height: auto; background: var(--card);
  border: 1px solid var(--line); border-radius: .4rem; font: 11px system-ui, sans-serif; }
svg.chart text { fill: var(--muted); }
svg.chart text.day { fill: var(--fg); font-weight: 600; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .grid.day { stroke: var(--muted); stroke-opacity: .5; }
svg.chart .frame { stroke: var(--muted); }
svg.chart .area { fill: var(--accent); fill-opacity: .14; stroke: none; }
svg.chart .series { fill: none; stroke-linejoin: miter; }
svg.chart .series.out { stroke: var(--accent); stroke-width: 2; }
svg.chart .series.held { stroke: var(--warn); stroke-width: 1.5; stroke-dasharray: 4 3; }
svg.chart .budget line { stroke: var(--bad); stroke-width: 1.5; stroke-dasharray: 8 4; }
svg.chart .budget text { fill: var(--bad); font-weight: 600; }
svg.chart .hit { fill: transparent; }
svg.chart .hit:hover { fill: var(--accent); fill-opacity: .08; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: .2rem 1rem; padding: 0;
  margin: .35rem 0 0; color: var(--muted); font-size: .85rem; }
.swatch { display: inline-block; width: 1.4rem; height: 0; margin-right: .35rem;
  vertical-align: middle; border-top: 2px solid var(--accent); }
.swatch.held { border-top-style: dashed; border-color: var(--warn); }
.swatch.budget { border-top-style: dashed; border-color: var(--bad); }
details summary { cursor: pointer; color: var(--accent); margin: .25rem 0; }
tr.first td { border-top: 1px solid var(--muted); }
td.node { font-weight: 600; }
table.stories time, table.stories code { white-space: nowrap; }
footer { margin-top: 2rem; color: var(--muted); font-size: .85rem; }
@media (max-width: 50rem) {
  .runs, .run { display: block; }
}
`;

/** The page's whole stylesheet. */
export const REPORT_CSS = UI_CSS + BACKTEST_CSS;

/** The CSP source that allows {@linkcode REPORT_CSS} inline, and no other style. */
export const REPORT_CSS_HASH = `'sha256-${
  createHash("sha256").update(REPORT_CSS, "utf8").digest("base64")
}'`;

/**
 * Nothing loaded from anywhere, not even the file's own folder; only the inline stylesheet of
 * its hash; no script at all. `frame-ancestors` is left out: a `<meta>` policy ignores it.
 */
export const REPORT_CSP = [
  "default-src 'none'",
  `style-src ${REPORT_CSS_HASH}`,
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");
