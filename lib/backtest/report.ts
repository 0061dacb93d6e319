// A replay summed up: what each policy would have done, how far the cluster went out against its
// budget, which gates blocked and for how long, and the alerts that matched no Node.
import type { Node } from "../base/node.ts";
import type { Gates, Policy } from "../decide/policy.ts";
import { required, selected } from "../decide/selection.ts";
import { formatDuration } from "../base/duration.ts";
import { domainKeys } from "../decide/replacements.ts";
import { NodeIndex, resolveAlert } from "../resolve/node_index.ts";
import type { Episode } from "./history.ts";
import type { ReplayResult } from "./replay_types.ts";
import type { SelfRecoveryIndex } from "./self_recovery.ts";
import type {
  BacktestRun,
  GateStat,
  NodeStory,
  ReplayDecision,
  UnmatchedAlert,
} from "./report_types.ts";

/** Gates whose skips are not blocks: nothing was asked (a repeat, an unheld resolution, no rule). */
const NOT_BLOCKS = new Set(["duplicate", "notHeld", "stale", "policy"]);

/** Actions that only keep node-heal's records: left out of the Nodes' stories. */
const BOOKKEEPING = new Set(["refresh", "forget", "drain-progress"]);

/** Whether a decision is a gate blocking something asked. */
export function isBlock(d: ReplayDecision): boolean {
  return d.outcome === "skipped" && d.gate !== undefined && !NOT_BLOCKS.has(d.gate);
}

/** The domain keys the policy names that no selected Node carries (see BacktestRun). */
function unlabelled(nodes: Node[], gates: Gates): { unlabelledKeys?: string[] } {
  const counted = selected(nodes, gates);
  if (counted.length === 0) return {};
  const keys = domainKeys(gates).filter((k) =>
    !counted.some((n) => Object.hasOwn(n.metadata.labels ?? {}, k))
  );
  return keys.length ? { unlabelledKeys: keys } : {};
}

/**
 * One policy's replay summed up; with `recovery`, what it remediated of the alert names the
 * report lists (`listed`) among the firing periods that resolved by themselves.
 */
export function summarize(
  result: ReplayResult,
  options: {
    policy: Policy;
    name: string;
    nodes: Node[];
    to: Date;
    recovery?: { index: SelfRecoveryIndex; listed: string[] };
  },
): BacktestRun {
  const { policy } = options;
  const g = policy.gates;
  const count = selected(options.nodes, g).length;
  const need = Math.min(required(count, g.minHealthy), count);
  const ds = result.decisions;
  const total = (outcome: string) => ds.filter((d) => d.outcome === outcome).length;
  const peak = result.outOverTime.reduce(
    (best, p) => p.out > best.count ? { count: p.out, at: p.at } : best,
    { count: 0, at: null as string | null },
  );
  return {
    policy: options.name,
    gates: {
      minHealthy: String(g.minHealthy),
      maxConcurrent: g.maxConcurrent,
      rate: `${g.rate.max}/${formatDuration(g.rate.windowMs)}`,
      cooldown: formatDuration(g.cooldownMs),
      maxReplacing: g.maxReplacing,
      replaceRate: `${g.replaceRate.max}/${formatDuration(g.replaceRate.windowMs)}`,
      ...domainGates(g),
    },
    selected: count,
    minHealthyRequired: need,
    totals: {
      cordons: total("cordon"),
      drains: total("drain"),
      replacements: total("replace"),
      uncordons: total("uncordon"),
      escalations: ds.filter((d) => d.escalated).length,
      blocked: ds.filter(isBlock).length,
      noRule: new Set(
        ds.filter((d) => d.gate === "policy" && d.trigger === "alert").map((d) => d.fingerprint),
      ).size,
    },
    peakOut: { ...peak, budget: count - need },
    peakOutByDomain: result.peakOutByDomain,
    ...unlabelled(options.nodes, g),
    breakers: result.breakers,
    ...(result.breakersLeftOut > 0 ? { breakersLeftOut: result.breakersLeftOut } : {}),
    perDay: perDay(ds),
    blockedBy: blockedBy(ds, options.to),
    nodes: stories(ds),
    outOverTime: result.outOverTime,
    selfRecovered: options.recovery?.index.remediated(ds, options.recovery.listed) ?? [],
    decisions: ds,
  };
}

/**
 * The label keys a comparison reports peaks out by: every domain key of every policy, so that a
 * policy without domains shows the blast radius its peers' budgets are measured against.
 */
export function comparedKeys(policies: readonly Policy[]): string[] {
  return [...new Set(policies.flatMap((p) => domainKeys(p.gates)))];
}

/** `gates.domains` and `gates.breaker` as the policy writes them, when it sets them. */
export function domainGates(g: Gates): Pick<BacktestRun["gates"], "domains" | "breaker"> {
  const domains = (g.domains ?? []).map((d) => {
    const { key, ...budgets } = d;
    return `${key}: ${Object.entries(budgets).map(([k, v]) => `${k} ${v}`).join(", ")}`;
  });
  const b = g.breaker;
  return {
    ...(domains.length > 0 ? { domains } : {}),
    ...(b
      ? {
        breaker: `${b.key ?? "the selection"}: alerting ${b.alerting} within ${
          formatDuration(b.withinMs)
        }, quiet ${formatDuration(b.quietMs)}, release ${formatDuration(b.releaseMs)}`,
      }
      : {}),
  };
}

function perDay(ds: ReplayDecision[]): BacktestRun["perDay"] {
  const days = new Map<string, BacktestRun["perDay"][number]>();
  for (const d of ds) {
    const field = d.outcome === "cordon"
      ? "cordons"
      : d.outcome === "drain"
      ? "drains"
      : d.outcome === "replace"
      ? "replacements"
      : undefined;
    if (!field) continue;
    const day = d.at.slice(0, 10);
    const row = days.get(day) ?? { day, cordons: 0, drains: 0, replacements: 0 };
    row[field]++;
    days.set(day, row);
  }
  return [...days.values()].sort((a, b) => a.day < b.day ? -1 : 1);
}

/**
 * How long each gate kept something waiting: an alert's take-out (from the first block to its
 * cordon or its resolution), or a Node's drain or replacement (to its start or the Node's
 * release), or to the window's end.
 */
function blockedBy(ds: ReplayDecision[], to: Date): GateStat[] {
  const stats = new Map<string, GateStat & { keys: Set<string> }>();
  const open = new Map<string, { gate: string; since: number }>();
  const stat = (gate: string) => {
    let s = stats.get(gate);
    if (!s) stats.set(gate, s = { gate, decisions: 0, alerts: 0, blockedMs: 0, keys: new Set() });
    return s;
  };
  const close = (key: string, at: number) => {
    const o = open.get(key);
    if (!o) return;
    stat(o.gate).blockedMs += at - o.since;
    open.delete(key);
  };
  for (const d of ds) {
    const at = Date.parse(d.at);
    const key = d.trigger === "alert" ? `${d.node}\u0000${d.fingerprint}` : `${d.node}\u0000ladder`;
    if (isBlock(d)) {
      const s = stat(d.gate!);
      s.decisions++;
      s.keys.add(key);
      if (open.get(key)?.gate !== d.gate) {
        close(key, at);
        open.set(key, { gate: d.gate!, since: at });
      }
      continue;
    }
    if (d.outcome === "skipped" && d.gate !== "duplicate" && d.status !== "resolved") continue;
    close(key, at);
    if (d.outcome === "uncordon" || d.outcome === "replaced") {
      for (const k of [...open.keys()]) if (k.startsWith(`${d.node}\u0000`)) close(k, at);
    }
  }
  for (const key of [...open.keys()]) close(key, to.getTime());
  return [...stats.values()]
    .map(({ keys, ...s }) => ({ ...s, alerts: keys.size }))
    .sort((a, b) => b.decisions - a.decisions || (a.gate < b.gate ? -1 : 1));
}

function stories(ds: ReplayDecision[]): NodeStory[] {
  const byNode = new Map<string, NodeStory>();
  for (const d of ds) {
    if (!d.node || BOOKKEEPING.has(d.outcome)) continue;
    if (d.outcome === "skipped" && !isBlock(d)) continue;
    let story = byNode.get(d.node);
    if (!story) byNode.set(d.node, story = { node: d.node, events: [] });
    story.events.push({
      at: d.at,
      outcome: d.outcome,
      ...(d.gate ? { gate: d.gate } : {}),
      ...(d.alertname ? { alertname: d.alertname } : {}),
      message: d.message,
    });
  }
  return [...byNode.values()].sort((a, b) => a.node < b.node ? -1 : 1);
}

/** The alerts of `history` that match no single Node of `nodes`, with when they first fired. */
export function unmatched(history: readonly Episode[], nodes: Node[]): UnmatchedAlert[] {
  const index = new NodeIndex();
  index.replaceAll(nodes);
  const found = new Map<string, UnmatchedAlert>();
  for (const e of history) {
    const alert = {
      fingerprint: e.fingerprint,
      status: "firing" as const,
      labels: e.labels,
      annotations: {},
      startsAt: e.start.toISOString(),
      endsAt: "",
      generatorURL: "",
    };
    const r = resolveAlert(alert, index);
    if (r.node) continue;
    // Quoted as JSON: a value that names no host may hold any character.
    const key = r.label ? `${r.label}=${JSON.stringify(r.key)}` : "";
    const id = `${e.labels.alertname}\u0000${key}`;
    const known = found.get(id);
    if (known) {
      known.episodes++;
      continue;
    }
    found.set(id, {
      alertname: e.labels.alertname ?? "",
      key,
      reason: r.reason,
      firstAt: e.start.toISOString(),
      episodes: 1,
    });
  }
  return [...found.values()];
}
