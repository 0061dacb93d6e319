// The backtest page's parts on correlated failures, one of each per run so that they line up
// across the columns: the peak out per domain (the blast radius each policy allowed in each zone
// or pool) and each opening of its breaker. Every string is escaped: domain values are labels.
import { domainName } from "../decide/domain_policy.ts";
import type { BacktestRun } from "./report_types.ts";
import { escapeHtml, table, timeTag } from "./render_html_text.ts";

/** Whether the page shows the domains' parts: some run names a domain or a breaker. */
export function showsDomains(runs: readonly BacktestRun[]): boolean {
  return runs.some((r) => r.peakOutByDomain.length > 0 || r.breakers.length > 0 || r.gates.breaker);
}

/** The most Nodes out at once in each domain. */
export function domainPart(run: BacktestRun): string {
  const h = `<h3>Peak out per domain</h3>`;
  if (run.peakOutByDomain.length === 0) return `${h}<p class="empty">No domain counted.</p>`;
  return `${h}${
    table(
      ["Domain", "Nodes", "Peak out", "First at (UTC)"],
      run.peakOutByDomain.map((p) => [
        `<code>${escapeHtml(domainName(p.key, p.value))}</code>`,
        escapeHtml(p.nodes),
        escapeHtml(p.peak),
        p.at ? timeTag(p.at) : "never",
      ]),
      { numeric: [1, 2] },
    )
  }`;
}

/** Each opening of the run's breaker: its domain, when it opened and closed, and what it held. */
export function breakerPart(run: BacktestRun): string {
  const h = `<h3>Breakers</h3>`;
  if (!run.gates.breaker && run.breakers.length === 0) {
    return `${h}<p class="empty">No breaker in this policy.</p>`;
  }
  if (run.breakers.length === 0) return `${h}<p class="empty">The breaker never opened.</p>`;
  const more = run.breakersLeftOut
    ? `<p class="empty">${escapeHtml(run.breakersLeftOut)} more openings not listed.</p>`
    : "";
  return `${h}${
    table(
      ["Domain", "Opened (UTC)", "Closed (UTC)", "Alerting", "Held"],
      run.breakers.map((b) => [
        `<code>${escapeHtml(b.domain)}</code>`,
        timeTag(b.openedAt),
        b.closedAt ? timeTag(b.closedAt) : "still open",
        escapeHtml(b.count),
        b.held.length > 0 ? b.held.map(escapeHtml).join(", ") : "nothing",
      ]),
      { numeric: [3] },
    )
  }${more}`;
}
