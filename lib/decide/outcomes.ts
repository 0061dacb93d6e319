// How each remediation episode (a cordon to its end) came out, decided where the episode ends or
// changes: a release that returns the Node (`recovered`, resolved.ts and reconcile.ts), a machine
// replaced under its Node (`replaced`, replace_step.ts; a replacement by another Node is counted
// from the ledger by the reporter), a Node held too long (`still-failing`, reconcile.ts, once) and
// a cordon soon after a recovery from the same alert (`recurred`, firing.ts). Each is written in
// the sealed `node-heal.io/outcomes` list on the Node and carried on the decision, so that the
// reporter counts it once, when the write lands.
import type { Node } from "../base/node.ts";
import { HISTORY, type NodeState, readState } from "./node_state.ts";
import {
  MAX_OUTCOMES,
  MAX_SECONDS,
  type OutcomeKind,
  type OutcomeRecord,
  type OutcomeStep,
  parseOutcomes,
  RECUR_WINDOW_MS,
  STILL_FAILING_MS,
} from "./outcome_record.ts";

export {
  MAX_OUTCOMES,
  OUTCOME_STEPS,
  type OutcomeKind,
  type OutcomeRecord,
  OUTCOMES,
  type OutcomeStep,
  RECUR_WINDOW_MS,
  STILL_FAILING_MS,
} from "./outcome_record.ts";

/** The bounds of the outcomes (ms); the defaults when unset. */
export interface OutcomeBounds {
  stillFailingMs?: number;
  recurWindowMs?: number;
}

/** An outcome decided, and the `metadata.annotations` part of the patch that records it. */
export interface Recorded {
  record: OutcomeRecord;
  annotations: Record<string, string>;
}

const cache = new WeakMap<Node, OutcomeRecord[]>();

/** The outcomes recorded on a Node, oldest first; a damaged value reads as none. */
export function outcomes(node: Node): OutcomeRecord[] {
  let list = cache.get(node);
  if (!list) {
    const raw = node.metadata.annotations?.[HISTORY.outcomes];
    list = parseOutcomes(HISTORY.outcomes, raw, {}).value ?? [];
    cache.set(node, list);
  }
  return list;
}

/** The furthest step of the ladder a Node's episode reached, from its `step`. */
export function furthestStep(state: NodeState): OutcomeStep {
  const step = state.step ?? "";
  if (step.startsWith("replac")) return "replace";
  if (step.startsWith("drain")) return "drain";
  return "cordon";
}

/** The episode on a Node: its first alert (by name) and when it started, if the Node says. */
export function episode(
  state: NodeState,
  fallbackAlert?: string,
): { alert: string; startedAt: string } | undefined {
  let first: { alert: string; at: number } | undefined;
  for (const hold of Object.values(state.holds)) {
    const at = Date.parse(hold.since);
    if (!Number.isNaN(at) && (!first || at < first.at)) first = { alert: hold.alertname, at };
  }
  const cordoned = Date.parse(state.cordonedAt ?? "");
  const start = Math.min(first?.at ?? Infinity, Number.isNaN(cordoned) ? Infinity : cordoned);
  const alert = first?.alert ?? fallbackAlert;
  if (!Number.isFinite(start) || !alert) return undefined;
  return { alert, startedAt: new Date(start).toISOString() };
}

/**
 * Whole seconds from `from` to `to`, from 0 to the most a record may hold: a longer one would fail
 * the record's schema when read back, and be written (and counted) again at every sweep.
 */
function secondsBetween(from: string, to: Date): number {
  return Math.min(MAX_SECONDS, Math.max(0, Math.round((to.getTime() - Date.parse(from)) / 1000)));
}

/** `record` appended to the Node's outcomes, the oldest dropped past {@link MAX_OUTCOMES}. */
function appended(node: Node, record: OutcomeRecord): Recorded {
  const list = [...outcomes(node), record].slice(-MAX_OUTCOMES);
  return { record, annotations: { [HISTORY.outcomes]: JSON.stringify(list) } };
}

/**
 * The end of the episode on `node` (`recovered`, or `replaced` in place), at `now`: undefined
 * when the Node says nothing of when it started (node-heal did not cordon it).
 */
export function endEpisode(
  node: Node,
  outcome: Extract<OutcomeKind, "recovered" | "replaced">,
  options: { now: Date; alert?: string },
): Recorded | undefined {
  const state = readState(node);
  if (!state.owned) return undefined;
  const ep = episode(state, options.alert);
  if (!ep) return undefined;
  const { now } = options;
  return appended(node, {
    outcome,
    step: furthestStep(state),
    ...ep,
    endedAt: now.toISOString(),
    seconds: secondsBetween(ep.startedAt, now),
  });
}

/**
 * A Node node-heal has held longer than the bound, not yet recorded so for this episode: its
 * `still-failing` outcome (the episode goes on). Undefined otherwise.
 */
export function stillFailing(
  node: Node,
  options: { now: Date; bounds?: OutcomeBounds },
): Recorded | undefined {
  const state = readState(node);
  if (!state.owned) return undefined;
  const ep = episode(state);
  if (!ep) return undefined;
  const { now } = options;
  const bound = options.bounds?.stillFailingMs ?? STILL_FAILING_MS;
  if (now.getTime() - Date.parse(ep.startedAt) < bound) return undefined;
  const told = outcomes(node).some((r) =>
    r.outcome === "still-failing" && r.startedAt === ep.startedAt
  );
  if (told) return undefined;
  return appended(node, {
    outcome: "still-failing",
    step: furthestStep(state),
    ...ep,
    endedAt: now.toISOString(),
    seconds: secondsBetween(ep.startedAt, now),
  });
}

/**
 * A cordon of `node` for alert `alertname` at `now`, within the window after its last `recovered`
 * outcome for that same alert: `recurred` (`startedAt` that recovery, `seconds` how long it held).
 */
export function recurrence(
  node: Node,
  alertname: string,
  options: { now: Date; bounds?: OutcomeBounds },
): Recorded | undefined {
  const last = outcomes(node).findLast((r) => r.outcome === "recovered");
  if (!last || last.alert !== alertname) return undefined;
  const { now } = options;
  const since = now.getTime() - Date.parse(last.endedAt);
  const window = options.bounds?.recurWindowMs ?? RECUR_WINDOW_MS;
  if (since < 0 || since > window) return undefined;
  return appended(node, {
    outcome: "recurred",
    step: "cordon",
    alert: alertname,
    startedAt: last.endedAt,
    endedAt: now.toISOString(),
    seconds: secondsBetween(last.endedAt, now),
  });
}
