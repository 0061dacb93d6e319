import type { Budgets } from "../decide/gates.ts";
import { Tally } from "../decide/tally.ts";
import { holdCount, readState, remediations } from "../decide/node_state.ts";
import { outcomes } from "../decide/outcomes.ts";
import type { Policy } from "../decide/policy.ts";
import { isCordoned } from "../base/node.ts";
import type { NodeIndex } from "../resolve/node_index.ts";
import type { DecisionRecord } from "./decision_log.ts";
import {
  goneHolding,
  goneTakeOutTimes,
  type Replacement,
  type ReplaceView,
} from "../decide/replacements.ts";
import type { Node } from "../base/node.ts";
import type { BreakerState, BreakerView } from "../decide/breaker.ts";
import { repeatOffenders } from "./repeat_offenders.ts";
import {
  goneNodes,
  type LadderContext,
  ledgerTakeOuts,
  stepSince,
  waitOf,
} from "./status_ladder.ts";

/** What `/status` shows beside the Nodes. */
export interface StatusOptions {
  policy: Policy;
  /** The last decisions, newest last. */
  decisions: DecisionRecord[];
  now: Date;
  /** Whether a pause is in force, and which. */
  paused: boolean;
  pauses: { flag: boolean; policy: boolean; cluster: boolean };
  dryRun: boolean;
  /** Leader election: who leads, as last read, and this replica. */
  leadership: { leader?: string; thisReplica: string; leading: boolean; elected: boolean };
  /** The replacement ledger, as this replica last read or wrote it. */
  replacements?: ReplaceView & { entries: readonly Replacement[] };
  /** How long a hold not seen again lasts (ms): the status page shows when each would lapse. */
  holdTtlMs?: number;
  /** The correlated-failure breakers open, or closed and still releasing what they held. */
  breakers?: BreakerState[];
  /** What the decisions ask of those breakers: the ladder's waits ask it too. */
  breakerView?: BreakerView;
}

/** Replacements `/status` lists: every one in flight, and the last ended ones up to this many. */
const STATUS_REPLACEMENTS = 20;

/** Nodes under remediation that `/status` lists in full; more are counted. */
const STATUS_NODES = 100;

/** What `GET /status` shows: nodes under remediation, each gate's budget, the last decisions. */
export function statusOf(index: NodeIndex, options: StatusOptions): unknown {
  const { policy, paused, dryRun, pauses, now } = options;
  const nodes = [...index.nodes()];
  const ladder: LadderContext = {
    policy,
    now,
    paused,
    nodes,
    replacements: options.replacements,
    tally: statusTally(index, policy, nodes, options.replacements?.entries ?? []),
    ...(policy.gates.breaker && options.breakerView
      ? { breakers: options.breakerView, breakerStates: options.breakers ?? [] }
      : {}),
  };
  const remediating = nodes.filter((n) => {
    const s = readState(n);
    return s.owned || holdCount(s) > 0;
  });
  // Bounded whatever the cluster holds: the first nodes in full, the rest counted.
  const underRemediation = remediating.slice(0, STATUS_NODES).map((n) => {
    const s = readState(n);
    return {
      node: n.metadata.name,
      cordoned: isCordoned(n),
      ownedByNodeHeal: s.owned,
      step: s.step,
      since: s.cordonedAt,
      stepSince: stepSince(n, s),
      ...waitField(n, ladder),
      // What comes next and when, for the status page: the drain, then the replacement.
      ...(s.drainAt ? { drainAt: s.drainAt } : {}),
      ...(s.replaceAt ? { replaceAt: s.replaceAt } : {}),
      // The annotation holds a JSON list as a string: shown as the list itself.
      remediatedAt: remediations(n).map((t) => new Date(t).toISOString()),
      alerts: s.holds,
      // How its last remediations ended (the sealed history, at most 10, each bounded).
      ...(outcomes(n).length ? { outcomes: outcomes(n) } : {}),
      ...(s.overflow
        ? {
          moreAlerts: {
            listed: s.overflow.fingerprints.length,
            unlisted: s.overflow.unlisted,
            seen: s.overflow.seen,
          },
        }
        : {}),
    };
  });
  return {
    ready: index.synced,
    dryRun,
    paused,
    pauses,
    policy: {
      rules: policy.rules.map((r) => ({
        name: r.name,
        match: r.match.map((m) => `${m.name}${m.op}"${m.value}"`),
        actions: r.actions,
      })),
      gates: policy.gates,
      ...(policy.cluster ? { cluster: policy.cluster } : {}),
    },
    budgets: statusBudgets(index, ladder),
    ...(policy.gates.breaker ? { breakers: options.breakers ?? [] } : {}),
    ...(options.holdTtlMs !== undefined ? { holdTtlMs: options.holdTtlMs } : {}),
    nodes: underRemediation,
    nodesNotListed: remediating.length - underRemediation.length,
    // The Nodes remediated most in the last day, of those watched (repeat_offenders.ts).
    repeatOffenders: repeatOffenders(nodes, now),
    ...(options.replacements
      ? {
        replaceBudgets: options.replacements.budgets(now, paused),
        replacements: options.replacements.entries.slice(-STATUS_REPLACEMENTS),
        nodesGone: gone(index, ladder),
      }
      : {}),
    leadership: options.leadership,
    decisions: options.decisions,
  };
}

function waitField(node: Node, ctx: LadderContext): { wait?: ReturnType<typeof waitOf> } {
  const wait = waitOf(node, ctx);
  return wait ? { wait } : {};
}

/**
 * The cluster's tally as the decisions keep it: the replacements in flight whose Node is gone
 * count as held, in minHealthy and in their domains (from the labels the ledger recorded).
 */
function statusTally(
  index: NodeIndex,
  policy: Policy,
  nodes: readonly Node[],
  entries: readonly Replacement[],
): Tally {
  const nodeGone = (r: Replacement) => index.get(r.node) === undefined;
  const goneInFlight = () => {
    const newest = new Map<string, Replacement>();
    for (const r of goneHolding(entries, nodeGone)) newest.set(r.node, r);
    return [...newest.values()];
  };
  const tally = new Tally(policy.gates, { nodes });
  tally.replacingGone = () => goneInFlight().length;
  tally.goneLabels = () => goneInFlight().map((r) => r.labels);
  tally.goneTakeOuts = () => goneTakeOutTimes(entries, nodeGone);
  return tally;
}

/** `budgets.domains`: each domain's counts, bounded (those node-heal holds first), and those left out. */
function domainsField(tally: Tally) {
  const { list, notListed } = tally.domains();
  return { domains: list, ...(notListed ? { domainsNotListed: notListed } : {}) };
}

/** The replacements whose Node is gone, listed apart from the Nodes. */
function gone(index: NodeIndex, ctx: LadderContext) {
  return goneNodes(ctx.replacements?.entries ?? [], {
    present: (name) => index.get(name) !== undefined,
    now: ctx.now,
  });
}

/**
 * Every gate's budget as the decisions count it: a replacement whose Node is gone still holds
 * its place in minHealthy; maxConcurrent names the drains it counts; the rate names the Nodes
 * replaced and gone whose take-outs it counts from the replacement ledger.
 */
function statusBudgets(index: NodeIndex, ctx: LadderContext): Budgets & {
  maxConcurrent: { nodes?: string[] };
  rate: { fromLedger?: string[] };
  domains?: ReturnType<Tally["domains"]>["list"];
  domainsNotListed?: number;
} {
  const { policy, now, paused, nodes } = ctx;
  const entries = ctx.replacements?.entries ?? [];
  const tally = ctx.tally ?? statusTally(index, policy, nodes, entries);
  const b = tally.budgets({ now, paused });
  const draining = nodes.filter((n) => {
    const s = readState(n);
    return s.owned && isCordoned(n) && s.step === "draining";
  }).map((n) => n.metadata.name);
  const fromLedger = ledgerTakeOuts(gone(index, ctx), entries, {
    windowMs: policy.gates.rate.windowMs,
    now,
  });
  return {
    ...b,
    cooldown: { ms: b.cooldown.ms, nodes: b.cooldown.nodes },
    // Added only when there is something to name: `/status` is otherwise as it was.
    maxConcurrent: { ...b.maxConcurrent, ...(draining.length ? { nodes: draining } : {}) },
    rate: { ...b.rate, ...(fromLedger.length ? { fromLedger } : {}) },
    // Each domain of gates.domains and what it counts (the Nodes it has, as watched).
    ...(policy.gates.domains?.length ? domainsField(tally) : {}),
  };
}
