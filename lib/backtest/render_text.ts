// The backtest report as a terminal reads it: the history in a few lines, the policies side by
// side in one table, then what each would have done to each Node.
import { formatDuration, formatWait } from "../base/duration.ts";
import { formatUtc } from "./render_html_text.ts";
import { percent } from "./self_recovery.ts";
import { domainName } from "../decide/domain_policy.ts";
import type { BacktestReport, BacktestRun, SelfRecoveryAlert } from "./report_types.ts";

/** How many lines of Node stories the table prints per policy (the rest: --json or --html). */
export const STORY_LINES = 60;

/** How many domains the comparison lists peaks for, and how many openings each run lists. */
export const DOMAIN_ROWS = 20;
export const OPENING_LINES = 20;

/** The report as text. */
export function renderText(report: BacktestReport): string {
  const { window: w, alerts, alertmanager: am } = report;
  const header = [
    `node-heal backtest, ${formatUtc(w.from)} to ${formatUtc(w.to)} (step ${w.stepSeconds}s)`,
    `History: ${report.source.selector} from ${report.source.prometheus ?? "given alerts"}`,
    `Nodes: ${report.cluster.nodes}, from ${
      report.source.nodes === "prometheus" ? "kube_node_* series" : report.source.nodes
    }`,
    `Alertmanager: group_by [${am.groupBy.join(", ")}], group_wait ${
      formatDuration(am.groupWaitMs)
    }, group_interval ${formatDuration(am.groupIntervalMs)}, repeat_interval ${
      formatDuration(am.repeatIntervalMs)
    }`,
    `Alerts: ${plural(alerts.series, "alert")}, ${plural(alerts.episodes, "firing period")}, ${
      plural(alerts.notifications, "notification")
    }; ${alerts.unmatched.length} matched no node`,
    ...(alerts.refused
      ? [
        `Refused: ${plural(alerts.refused.notifications, "notification")} (${
          plural(alerts.refused.alerts, "alert")
        }) node-heal's webhook would refuse, first at ${
          formatUtc(alerts.refused.first?.at ?? "")
        }: ${alerts.refused.first?.message ?? ""}`,
      ]
      : []),
  ];
  const lines = [
    ...header.map(printable),
    "",
    table(comparison(report.runs)),
    ...selfRecoveryLines(report),
  ];
  for (const run of report.runs) {
    for (const key of run.unlabelledKeys ?? []) {
      lines.push(printable(
        `Note: no node carries ${key}; ${run.policy} counts them all as one domain of it (is the label on your Nodes, and in kube-state-metrics' allowlist?)`,
      ));
    }
    lines.push(...openings(run));
    lines.push("", printable(`What ${run.policy} would have done:`));
    const rows = run.nodes.flatMap((s) =>
      s.events.map((e) => [
        formatUtc(e.at),
        s.node,
        e.gate ? `blocked (${e.gate})` : e.outcome,
        e.alertname ?? "",
      ])
    );
    if (rows.length === 0) {
      lines.push("  nothing");
      continue;
    }
    rows.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    lines.push(...table(rows.slice(0, STORY_LINES)).split("\n").map((l) => `  ${l}`));
    if (rows.length > STORY_LINES) {
      lines.push(`  ... ${rows.length - STORY_LINES} more (see --json or --html)`);
    }
  }
  if (alerts.unmatched.length > 0) {
    lines.push("", "Alerts that matched no node:");
    const rows = alerts.unmatched.map((u) => [
      u.alertname,
      u.key || "(no node label)",
      u.reason,
      `first ${formatUtc(u.firstAt)}`,
      `${u.episodes}x`,
    ]);
    lines.push(...table(rows).split("\n").map((l) => `  ${l}`));
  }
  return lines.join("\n");
}

/**
 * Control characters a terminal would act on (escape sequences, carriage returns, line breaks)
 * and the invisible ones that reorder a line, written as escapes: alert labels are anyone's text.
 */
// deno-lint-ignore no-control-regex -- control characters are what it looks for
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** `text` as one line a terminal prints as it is. */
export function printable(text: string): string {
  return text.replace(
    UNPRINTABLE,
    (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The policies side by side: one row per figure, one column per policy. */
function comparison(runs: BacktestRun[]): string[][] {
  const row = (label: string, f: (r: BacktestRun) => string) => [label, ...runs.map(f)];
  const gates = [...new Set(runs.flatMap((r) => r.blockedBy.map((b) => b.gate)))];
  return [
    row("policy", (r) => r.policy),
    row(
      "minHealthy",
      (r) => `${r.gates.minHealthy} (${r.minHealthyRequired} of ${r.selected} stay)`,
    ),
    row("rate, cooldown", (r) => `${r.gates.rate}, ${r.gates.cooldown}`),
    row("cordons", (r) => String(r.totals.cordons)),
    row("drains", (r) => String(r.totals.drains)),
    row("replacements", (r) => String(r.totals.replacements)),
    row("uncordons", (r) => String(r.totals.uncordons)),
    ...(runs.some((r) => r.totals.escalations > 0)
      ? [row("escalated by recurrence", (r) => String(r.totals.escalations))]
      : []),
    row("alerts no rule acts on", (r) => String(r.totals.noRule)),
    row(
      "peak out / budget",
      (r) =>
        `${r.peakOut.count} / ${r.peakOut.budget}${
          r.peakOut.at ? ` at ${formatUtc(r.peakOut.at)}` : ""
        }`,
    ),
    ...domainRows(runs),
    row("busiest day", (r) => {
      const top = [...r.perDay].sort((a, b) => b.cordons - a.cordons)[0];
      return top ? `${top.day}: ${top.cordons} cordons` : "none";
    }),
    ...gates.map((gate) =>
      row(`blocked by ${gate}`, (r) => {
        const b = r.blockedBy.find((x) => x.gate === gate);
        return b
          ? `${b.decisions}x, ${plural(b.alerts, "alert")}, ${formatWait(b.blockedMs)} waited`
          : "0";
      })
    ),
  ];
}

/** The domain budgets and breaker of each run, its openings, and the peak out per domain. */
function domainRows(runs: BacktestRun[]): string[][] {
  const row = (label: string, f: (r: BacktestRun) => string) => [label, ...runs.map(f)];
  const rows: string[][] = [];
  if (runs.some((r) => r.gates.domains)) {
    rows.push(row("domains", (r) => r.gates.domains?.join("; ") ?? "none"));
  }
  if (runs.some((r) => r.gates.breaker || r.breakers.length > 0)) {
    rows.push(row("breaker", (r) => r.gates.breaker ?? "none"));
    rows.push(row("breaker openings", (r) => {
      const held = new Set(r.breakers.flatMap((b) => b.held)).size;
      const n = r.breakers.length + (r.breakersLeftOut ?? 0);
      return `${n}${held > 0 ? `, ${plural(held, "node")} held` : ""}`;
    }));
  }
  const domains = new Map<string, { key: string; value: string; top: number }>();
  for (const p of runs.flatMap((r) => r.peakOutByDomain)) {
    const id = `${p.key}\u0000${p.value}`;
    const d = domains.get(id);
    if (!d) domains.set(id, { key: p.key, value: p.value, top: p.peak });
    else d.top = Math.max(d.top, p.peak);
  }
  const listed = [...domains.values()].sort((a, b) => b.top - a.top).slice(0, DOMAIN_ROWS);
  for (const { key, value } of listed) {
    rows.push(row(`peak out, ${domainName(key, value)}`, (r) => {
      const p = r.peakOutByDomain.find((x) => x.key === key && x.value === value);
      if (!p) return "-";
      return `${p.peak} of ${p.nodes}${p.at ? ` at ${formatUtc(p.at)}` : ""}`;
    }));
  }
  return rows;
}

/**
 * Per alert name, how many of its firing periods resolved within the bound by themselves, how
 * they ended, and how many of those each policy remediated all the same.
 */
export function selfRecoveryLines(report: BacktestReport): string[] {
  const { withinMs, alerts, alertnamesLeftOut } = report.selfRecovery;
  const within = formatDuration(withinMs);
  const lines = [
    "",
    `Self-recovery (firing periods that resolved within ${within} of their start, without any action):`,
  ];
  if (alerts.length === 0) lines.push("  no firing period");
  for (const a of alerts) lines.push(...recoveryLines(a, report.runs, within));
  if (alertnamesLeftOut) lines.push(`  ... ${alertnamesLeftOut} more alert names (see --json)`);
  return lines.map(printable);
}

/** One alert name's two lines: the sentence, then how its firing periods ended. */
function recoveryLines(a: SelfRecoveryAlert, runs: BacktestRun[], within: string): string[] {
  const pct = percent(a);
  const those = a.withinBound === 1 ? "it" : `those ${a.withinBound}`;
  const acted = runs.map((r) => {
    const done = r.selfRecovered.find((x) => x.alertname === a.alertname)?.ofWhichWithinBound;
    return `${r.policy} remediated ${done ?? 0} of ${those}`;
  });
  const median = a.medianMs !== null
    ? formatWait(a.medianMs)
    : a.episodes > 0
    ? "still firing"
    : "none";
  const r = a.resolved;
  return [
    `  ${a.alertname}: ${plural(a.episodes, "firing period")}, ${a.withinBound} (${pct}%) ` +
    `resolved within ${within} by ${a.withinBound === 1 ? "itself" : "themselves"}${
      a.withinBound > 0 && acted.length > 0 ? `; ${acted.join(", ")}` : ""
    }`,
    `    median ${median}; resolved within 5m ${r.within5m}, 10m ${r.within10m}, ` +
    `1h ${r.within1h}, later ${r.later}; still firing at the end ${r.stillFiring}${
      a.firingAtStart > 0 ? `; ${a.firingAtStart} already firing at the start, not counted` : ""
    }`,
  ];
}

/** A run's breaker openings, one line each: the domain, opened, closed, count, held. */
function openings(run: BacktestRun): string[] {
  if (run.breakers.length === 0) return [];
  const rows = run.breakers.slice(0, OPENING_LINES).map((b) => [
    b.domain,
    `opened ${formatUtc(b.openedAt)}`,
    b.closedAt ? `closed ${formatUtc(b.closedAt)}` : "still open",
    `${b.count} alerting`,
    b.held.length > 0 ? `held ${b.held.join(", ")}` : "held nothing",
  ]);
  const more = run.breakers.length - rows.length + (run.breakersLeftOut ?? 0);
  return [
    "",
    printable(`Breakers of ${run.policy}:`),
    ...table(rows).split("\n").map((l) => `  ${l}`),
    ...(more > 0 ? [`  ... ${more} more (see --json or --html)`] : []),
  ];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Rows as aligned columns. */
function table(cells: string[][]): string {
  const rows = cells.map((r) => r.map(printable));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return rows.map((r) => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join("  "))
    .join("\n");
}
