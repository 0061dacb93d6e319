import { budgets } from "../decide/gates.ts";
import { holdCount, readState, remediations } from "../decide/node_state.ts";
import type { Policy } from "../decide/policy.ts";
import { isCordoned } from "../base/node.ts";
import type { NodeIndex } from "../resolve/node_index.ts";
import type { DecisionRecord } from "./decision_log.ts";
import type { Replacement, ReplaceView } from "../decide/replacements.ts";

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
}

/** Replacements `/status` lists: every one in flight, and the last ended ones up to this many. */
const STATUS_REPLACEMENTS = 20;

/** Nodes under remediation that `/status` lists in full; more are counted. */
const STATUS_NODES = 100;

/** What `GET /status` shows: nodes under remediation, each gate's budget, the last decisions. */
export function statusOf(index: NodeIndex, options: StatusOptions): unknown {
  const { policy, paused, dryRun, pauses, now } = options;
  const nodes = [...index.nodes()];
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
      // What comes next and when, for the status page: the drain, then the replacement.
      ...(s.drainAt ? { drainAt: s.drainAt } : {}),
      ...(s.replaceAt ? { replaceAt: s.replaceAt } : {}),
      // The annotation holds a JSON list as a string: shown as the list itself.
      remediatedAt: remediations(n).map((t) => new Date(t).toISOString()),
      alerts: s.holds,
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
    budgets: budgets(nodes, { gates: policy.gates, now, paused }),
    ...(options.holdTtlMs !== undefined ? { holdTtlMs: options.holdTtlMs } : {}),
    nodes: underRemediation,
    nodesNotListed: remediating.length - underRemediation.length,
    ...(options.replacements
      ? {
        replaceBudgets: options.replacements.budgets(now, paused),
        replacements: options.replacements.entries.slice(-STATUS_REPLACEMENTS),
      }
      : {}),
    leadership: options.leadership,
    decisions: options.decisions,
  };
}
