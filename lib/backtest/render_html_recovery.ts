// The backtest page's "Self-recovery" section, full width: per alert name, how many of its firing
// periods resolved within the bound without any action, how they ended, and how many of those
// each policy remediated all the same. Every string is escaped: alert names are labels.
import { formatDuration, formatWait } from "../base/duration.ts";
import type { BacktestReport } from "./report_types.ts";
import { percent } from "./self_recovery.ts";
import { escapeHtml, table } from "./render_html_text.ts";

/** The section, with one table row per alert name listed. */
export function selfRecoverySection(report: BacktestReport): string {
  const { withinMs, alerts, alertnamesLeftOut } = report.selfRecovery;
  const within = escapeHtml(formatDuration(withinMs));
  const h =
    `<h2 id="recovery-h">Self-recovery</h2><p>Firing periods that resolved within ${within}` +
    ` of their start, from the history alone (no policy): an action taken on one of them bought ` +
    `nothing. Those already firing at the window's start are not counted (their length is ` +
    `unknown); those still firing at its end did not recover.</p>`;
  if (alerts.length === 0) {
    return `<section aria-labelledby="recovery-h">${h}<p class="empty">No firing period.</p></section>`;
  }
  const head = [
    "Alert",
    "Firing periods",
    `Resolved within ${formatDuration(withinMs)}`,
    "≤ 5m",
    "≤ 10m",
    "≤ 1h",
    "Later",
    "Still firing",
    "Median",
    "Firing at the start",
    ...report.runs.map((r) =>
      `${r.policy}: remediated (of them, within ${formatDuration(withinMs)})`
    ),
  ];
  const rows = alerts.map((a) => [
    escapeHtml(a.alertname),
    escapeHtml(a.episodes),
    `${escapeHtml(a.withinBound)} (${escapeHtml(percent(a))}%)`,
    escapeHtml(a.resolved.within5m),
    escapeHtml(a.resolved.within10m),
    escapeHtml(a.resolved.within1h),
    escapeHtml(a.resolved.later),
    escapeHtml(a.resolved.stillFiring),
    escapeHtml(
      a.medianMs !== null ? formatWait(a.medianMs) : a.episodes > 0 ? "still firing" : "none",
    ),
    escapeHtml(a.firingAtStart),
    ...report.runs.map((r) => {
      const s = r.selfRecovered.find((x) => x.alertname === a.alertname);
      return `${escapeHtml(s?.remediated ?? 0)} (${escapeHtml(s?.ofWhichWithinBound ?? 0)})`;
    }),
  ]);
  const more = alertnamesLeftOut
    ? `<p class="empty">${escapeHtml(alertnamesLeftOut)} more alert names not listed.</p>`
    : "";
  const numeric = head.map((_, i) => i).filter((i) => i > 0 && i !== 8);
  return `<section aria-labelledby="recovery-h">${h}${
    table(head, rows, { numeric })
  }${more}</section>`;
}
