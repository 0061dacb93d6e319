// What the status page says of each node node-heal acts on beyond its annotations: since when it
// is on its step, and, when its next step is due but a gate holds it, which gate, its numbers,
// who holds the budget and when it is looked at again. Asked of the same gates the decisions
// ask, so the page and the decisions agree. Also the nodes whose Node object is gone while they
// are replaced (from the ledger), with their successor once it comes.
import type { Node } from "../base/node.ts";
import { ANNOTATIONS, type NodeState, readState } from "../decide/node_state.ts";
import { checkDrain, checkReplace } from "../decide/gates.ts";
import type { BreakerState, BreakerView } from "../decide/breaker.ts";
import type { Tally } from "../decide/tally.ts";
import { domainName, domainValue } from "../decide/domain_policy.ts";
import { drainDue } from "../decide/drain_step.ts";
import { replaceDue } from "../decide/replace_step.ts";
import type { Policy } from "../decide/policy.ts";
import {
  holdsPlace,
  inFlight,
  type ReplaceBudgets,
  type Replacement,
  type ReplaceView,
} from "../decide/replacements.ts";

/** A node holding the budget a waiting node waits on, and since when. */
export interface Holder {
  node: string;
  since?: string;
}

/** Why a node whose next step is due waits, as the gate that holds it says. */
export interface Wait {
  gate: string;
  /** What it waits to do. */
  step: "drain" | "replace";
  /** The gate's numbers: in flight (or used) of max. */
  used?: number;
  max?: number;
  /** Who holds the budget, and since when. */
  holders: Holder[];
  /** The gate's own sentence, as the decision's skip says it. */
  message: string;
  /** When node-heal looks at it again. */
  recheck: string;
  /** When the gate frees a place by itself (the rate window moving on, a breaker closing). */
  freesAt?: string;
  /** The domain a `domain` or `breaker` gate holds it in: `zone us-east-1a`. */
  domain?: string;
}

/** A node whose Node object is gone while (or since) it is replaced, from the ledger. */
export interface GoneNode {
  node: string;
  step: "replacing" | "replaced" | "replace-failed";
  since: string;
  gone: true;
  provider: string;
  successor?: string;
  endedAt?: string;
  message?: string;
}

/** What {@link waitOf} and {@link stepSince} work with. */
export interface LadderContext {
  policy: Policy;
  now: Date;
  paused: boolean;
  nodes: readonly Node[];
  replacements?: ReplaceView & { entries: readonly Replacement[] };
  /** The cluster's tally, as the decisions count it: the budgets of each domain (gates.domains). */
  tally?: Tally;
  /** The correlated-failure breakers (gates.breaker), when the policy sets one. */
  breakers?: BreakerView;
  /** Those breakers as /status shows them: the domain, the nodes that opened it, when it closes. */
  breakerStates?: readonly BreakerState[];
}

/** Since when a node is on its step: its replacement's, its drain's, or its cordon's start. */
export function stepSince(node: Node, state: NodeState): string | undefined {
  const started = node.metadata.annotations?.[ANNOTATIONS.replaceStartedAt];
  if (state.step?.startsWith("replac") && started && !Number.isNaN(Date.parse(started))) {
    return started;
  }
  if (state.step?.startsWith("drain") && state.drainStartedAt) return state.drainStartedAt;
  return state.cordonedAt;
}

/** Why `node` waits, if its drain or replacement is due and a gate holds it; else undefined. */
export function waitOf(node: Node, ctx: LadderContext): Wait | undefined {
  const state = readState(node);
  if (!state.owned) return undefined;
  if (drainDue(state, ctx.now)) return drainWait(node, ctx);
  const r = ctx.replacements;
  if (r && replaceDue(state, ctx.now) && !r.replacing(node.metadata.name)) {
    return replaceWait(node, r.budgets(ctx.now, ctx.paused), ctx);
  }
  return undefined;
}

function drainWait(node: Node, ctx: LadderContext): Wait | undefined {
  const name = node.metadata.name;
  const draining = ctx.nodes.filter((n) =>
    n.metadata.name !== name && readState(n).owned && readState(n).step === "draining"
  );
  if (ctx.paused) {
    return { gate: "paused", step: "drain", holders: [], ...PAUSED(name) };
  }
  // An open breaker halts the drain before any gate is asked (halts.ts), as the decision does.
  const held = ctx.breakers?.holding(node, ctx.now);
  if (held) return breakerWait("drain", node, held, ctx);
  const domains = ctx.tally?.domainBudgets(node);
  const blocked = checkDrain({
    node: name,
    draining: draining.length,
    gates: ctx.policy.gates,
    domains,
    breaker: ctx.breakers?.pacing(node, ctx.now),
  });
  if (!blocked) return undefined;
  if (blocked.gate === "breaker") return breakerWait("drain", node, blocked.message, ctx);
  if (blocked.gate === "domain") {
    const d = domains?.find((d) => d.gate.key === blocked.qualifier && d.gate.maxConcurrent);
    const inDomain = draining.filter((n) =>
      d && domainValue(n.metadata.labels, d.gate.key) === d.value
    );
    return {
      gate: "domain",
      step: "drain",
      ...(d ? { used: d.counts.draining, max: d.gate.maxConcurrent } : {}),
      holders: inDomain.map((n) => ({ node: n.metadata.name, since: readState(n).drainStartedAt })),
      message: blocked.message,
      recheck: "when a drain there ends",
      ...(d ? { domain: domainName(d.gate.key, d.value) } : {}),
    };
  }
  return {
    gate: blocked.gate,
    step: "drain",
    used: draining.length,
    max: ctx.policy.gates.maxConcurrent,
    holders: draining.map((n) => ({ node: n.metadata.name, since: readState(n).drainStartedAt })),
    message: blocked.message,
    recheck: "when a drain ends",
  };
}

/**
 * A wait on the breaker: held while it is open (the nodes that opened it named), or paced once
 * it closed (its release lets one held escalation start at a time).
 */
function breakerWait(step: Wait["step"], node: Node, message: string, ctx: LadderContext): Wait {
  const state = ctx.breakerStates?.find((b) =>
    b.value === (b.key === undefined ? "" : domainValue(node.metadata.labels, b.key))
  );
  const open = state?.open ?? ctx.breakers?.holding(node, ctx.now) !== undefined;
  return {
    gate: "breaker",
    step,
    ...(state ? { domain: state.domain } : {}),
    holders: open ? (state?.nodes ?? []).map((n) => ({ node: n })) : [],
    message,
    recheck: open ? "when the breaker closes" : "when its turn in the release comes",
    ...(open && state?.closesAt ? { freesAt: state.closesAt } : {}),
  };
}

function PAUSED(name: string): { message: string; recheck: string } {
  return { message: `node-heal is paused; ${name} waits`, recheck: "when the pause ends" };
}

function replaceWait(node: Node, b: ReplaceBudgets, ctx: LadderContext): Wait | undefined {
  const name = node.metadata.name;
  const domains = ctx.replacements?.inDomains?.(node);
  const blocked = checkReplace(name, b, ctx.policy.gates, {
    domains,
    breaker: ctx.breakers?.holding(node, ctx.now) ?? ctx.breakers?.pacing(node, ctx.now),
  });
  if (!blocked) return undefined;
  const entries = ctx.replacements?.entries ?? [];
  const base = { gate: blocked.gate, step: "replace" as const, message: blocked.message };
  switch (blocked.gate) {
    case "maxReplacing":
      return {
        ...base,
        used: b.maxReplacing.inFlight,
        max: b.maxReplacing.max,
        holders: b.maxReplacing.nodes.map((n) => ({
          node: n,
          since: entries.findLast((e) => e.node === n && inFlight(e))?.startedAt,
        })),
        recheck: "when a replacement ends",
      };
    case "replaceRate": {
      const windowMs = b.replaceRate.windowMs;
      const counted = entries.filter((e) => Date.parse(e.startedAt) > ctx.now.getTime() - windowMs);
      const oldest = Math.min(...counted.map((e) => Date.parse(e.startedAt)));
      return {
        ...base,
        used: b.replaceRate.used,
        max: b.replaceRate.max,
        holders: counted.map((e) => ({ node: e.node, since: e.startedAt })),
        recheck: "when a replacement ends or the Node changes",
        ...(Number.isFinite(oldest) ? { freesAt: new Date(oldest + windowMs).toISOString() } : {}),
      };
    }
    case "ledger":
      return { ...base, holders: [], recheck: "when the ledger is repaired or deleted" };
    case "breaker":
      return breakerWait("replace", node, blocked.message, ctx);
    case "domain": {
      const d = domains?.find((d) =>
        d.gate.key === blocked.qualifier && d.inFlight.length >= (d.gate.maxReplacing ?? Infinity)
      );
      return {
        ...base,
        ...(d
          ? {
            used: d.inFlight.length,
            max: d.gate.maxReplacing,
            domain: domainName(d.gate.key, d.value),
          }
          : {}),
        holders: (d?.inFlight ?? []).map((n) => ({
          node: n,
          since: entries.findLast((e) => e.node === n && inFlight(e))?.startedAt,
        })),
        recheck: "when a replacement there ends",
      };
    }
    default:
      return { ...base, holders: [], ...PAUSED(name), message: blocked.message };
  }
}

/** How long an ended replacement of a gone Node stays listed: long enough to see its successor. */
export const ENDED_SHOWN_MS = 60 * 60_000;

/**
 * The ledger's replacements whose Node object is gone: every one holding a place, and those
 * ended in the last {@link ENDED_SHOWN_MS}, the newest record of each Node.
 */
export function goneNodes(
  entries: readonly Replacement[],
  options: { present: (name: string) => boolean; now: Date },
): GoneNode[] {
  const gone = (r: Replacement) => !options.present(r.node);
  const newest = new Map<string, Replacement>();
  for (const r of entries) if (gone(r)) newest.set(r.node, r);
  return [...newest.values()].filter((r) =>
    holdsPlace(r, gone) ||
    options.now.getTime() - Date.parse(r.endedAt ?? r.startedAt) < ENDED_SHOWN_MS
  ).map((r) => ({
    node: r.node,
    step: inFlight(r) ? "replacing" : r.phase === "replaced" ? "replaced" : "replace-failed",
    since: inFlight(r) ? r.startedAt : r.endedAt ?? r.startedAt,
    gone: true,
    provider: r.provider,
    ...(r.successor ? { successor: r.successor } : {}),
    ...(r.endedAt ? { endedAt: r.endedAt } : {}),
    ...(r.message && !inFlight(r) ? { message: r.message } : {}),
  }));
}

/**
 * The Nodes replaced (gone) whose take-outs within the rate window the rate gate counts from
 * the replacement ledger's `cordonedAt`: their own record went with the Node.
 */
export function ledgerTakeOuts(
  gone: readonly GoneNode[],
  entries: readonly Replacement[],
  options: { windowMs: number; now: Date },
): string[] {
  const since = options.now.getTime() - options.windowMs;
  const names = new Set(gone.map((g) => g.node));
  return [
    ...new Set(
      entries.filter((r) => names.has(r.node) && Date.parse(r.cordonedAt ?? "") > since)
        .map((r) => r.node),
    ),
  ];
}
