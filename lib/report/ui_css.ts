// The stylesheet of the status page and of the backtest's HTML report, a module so that
// `deno compile` carries it in the binary. In report/ so that both import it downward.

/** Light and dark themes from the system's preference; one column on a phone. */
export const UI_CSS = `:root {
  color-scheme: light dark;
  --bg: #fafafa; --fg: #1b1b1f; --muted: #5f6368; --line: #d9d9de; --card: #fff;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --bar: #d0d7de; --accent: #0969da;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #30363d; --card: #161b22;
    --ok: #3fb950; --warn: #d29922; --bad: #f85149; --bar: #30363d; --accent: #4493f8;
  }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 1rem; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .5rem 1.5rem; margin-bottom: 1rem; }
h1 { font-size: 1.4rem; margin: 0; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
dl { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; margin: 0; }
dl div { display: flex; gap: .35rem; }
dt { color: var(--muted); }
dd { margin: 0; font-weight: 600; }
.updated { margin: 0 0 0 auto; color: var(--muted); font-size: .9rem; }
.updated.stale { color: var(--bad); font-weight: 600; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; vertical-align: top; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; font-size: .85rem; }
td { overflow-wrap: break-word; }
time { white-space: nowrap; }
.abs { color: var(--muted); font-size: .85em; }
.empty { color: var(--muted); }
.pill { display: inline-block; padding: 0 .45rem; border-radius: .7rem; border: 1px solid var(--line); font-size: .85rem; }
.yes { color: var(--bad); border-color: var(--bad); }
.no { color: var(--ok); border-color: var(--ok); }
.outcome-skip, .outcome-skipped { color: var(--warn); }
.outcome-cordon, .outcome-drain, .outcome-replace { color: var(--accent); }
.outcome-uncordon, .outcome-release { color: var(--ok); }
.outcome-error, .outcome-failed { color: var(--bad); }
.gates { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .75rem; }
.gate { background: var(--card); border: 1px solid var(--line); border-radius: .4rem; padding: .6rem .75rem; }
.gate h3 { font-size: .95rem; margin: 0 0 .35rem; }
.gate p { margin: .35rem 0 0; color: var(--muted); font-size: .85rem; }
.bar { height: .6rem; background: var(--bar); border-radius: .3rem; overflow: hidden; }
.bar span { display: block; height: 100%; background: var(--ok); }
.bar.low span { background: var(--warn); }
.bar.none span { background: var(--bad); }
.gate.spent { border-color: var(--bad); }
.gate.spent h3, .gate.spent p { color: var(--bad); }
.gate.spent .bar { background: var(--bad); }
.breaker.open { border-color: var(--bad); }
.breaker.open h3 { color: var(--bad); }
.breaker.releasing { border-color: var(--warn); }
.pill.warn { color: var(--warn); border-color: var(--warn); }
.breaker .names { color: var(--fg); }
.names .name { max-width: 100%; }
.domains { display: flex; flex-wrap: wrap; gap: .75rem; margin-top: .75rem; }
.domain { flex: 1 1 26rem; }
.domain th { white-space: nowrap; }
.domain .name { max-width: 10rem; }
.domain caption { text-align: left; padding: .35rem .6rem; background: var(--card); font-weight: 600;
  border-bottom: 1px solid var(--line); }
.domain caption .limits { color: var(--muted); font-weight: normal; font-size: .85rem; }
.name { display: inline-block; max-width: 16rem; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; vertical-align: bottom; }
.gone { color: var(--warn); font-size: .85em; white-space: nowrap; }
.wait { color: var(--warn); }
.step-replacing, .step-draining { color: var(--accent); border-color: var(--accent); }
.step-replaced { color: var(--ok); border-color: var(--ok); }
.step-replace-failed, .step-drain-failed { color: var(--bad); border-color: var(--bad); }
.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; margin-bottom: .5rem; }
input, select { font: inherit; padding: .2rem .4rem; }
ul.alerts { margin: 0; padding-left: 1rem; }
.outcomes { display: inline-flex; flex-wrap: wrap; gap: .25rem; }
.outcome-recovered, .outcome-replaced { color: var(--ok); border-color: var(--ok); }
.outcome-still-failing, .outcome-recurred { color: var(--bad); border-color: var(--bad); }
@media (max-width: 40rem) {
  body { padding: .6rem; font-size: 14px; }
  .updated { margin-left: 0; }
  th, td { padding: .3rem .4rem; }
}
`;
