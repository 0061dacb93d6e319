import type { Alert } from "../intake/alertmanager.ts";
import type { Node } from "../node.ts";

/** The annotations in which node-heal keeps its ownership and progress on a Node. */
export const ANNOTATIONS = {
  /** Present (value `node-heal`) when node-heal cordoned the Node; it only undoes its own cordons. */
  cordonedBy: "node-heal.io/cordoned-by",
  /** When node-heal cordoned the Node (RFC 3339). */
  cordonedAt: "node-heal.io/cordoned-at",
  /** JSON object: fingerprint of each firing alert holding the Node -> { alertname, since, seen }. */
  alerts: "node-heal.io/alerts",
  /**
   * JSON object: the alerts holding the Node beyond the {@link MAX_HOLDS} named in `alerts`:
   * `{ seen, fingerprints, unlisted }` (see {@link Overflow}).
   */
  overflow: "node-heal.io/alerts-overflow",
  /**
   * The step of the remediation ladder the Node is on: `cordoned`, `draining`, `drained`,
   * `drain-failed`, `replacing`, `replace-failed`.
   */
  step: "node-heal.io/step",
  /** The furthest step the holding alerts asked for (`cordon`, `drain` or `replace`). */
  target: "node-heal.io/target",
  /** The policy rule that asked for it (its drain options). */
  rule: "node-heal.io/rule",
  /** When the drain is due (RFC 3339): the cordon time plus the rule's drainAfter. */
  drainAt: "node-heal.io/drain-at",
  /** When the drain started (RFC 3339). */
  drainStartedAt: "node-heal.io/drain-started-at",
  /** Which replica drains (its instance name): a claim, written with the resourceVersion read. */
  drainer: "node-heal.io/drainer",
  /** When the drainer last said it is alive (RFC 3339); a stale one lets another replica resume. */
  drainHeartbeat: "node-heal.io/drain-heartbeat",
  /** Pods the drain still has to move. */
  podsLeft: "node-heal.io/drain-pods-left",
  /** Pods the drain has evicted so far, counted across the processes that ran it. */
  drainEvicted: "node-heal.io/drain-evicted",
  /** When the replacement is due (RFC 3339): the drain's end plus the rule's replaceAfter. */
  replaceAt: "node-heal.io/replace-at",
  /** When the replacement started (RFC 3339); its record is in the replacement ledger. */
  replaceStartedAt: "node-heal.io/replace-started-at",
} as const;

/**
 * Annotations that outlive a remediation, so that the rate and cooldown gates count from
 * cluster truth across restarts and replicas.
 */
export const HISTORY = {
  /** When node-heal took this Node out, the last 20 times (JSON list of RFC 3339): the rate gate counts these. */
  remediatedAt: "node-heal.io/remediated-at",
  /** When node-heal last released this Node (RFC 3339): the cooldown gate reads it. */
  releasedAt: "node-heal.io/released-at",
  /**
   * JSON object: fingerprint -> `{ startsAt, at }` of the last alerts whose resolution released
   * this Node (`at`: when), so a firing delivered late, after its own resolution, does not take
   * the Node out again.
   */
  resolved: "node-heal.io/resolved",
} as const;

/** How many resolutions `resolved` keeps. */
export const MAX_RESOLVED = 32;

/**
 * How long after a resolution a firing of the same alert (fingerprint and startsAt) is taken as
 * delivered late: about Alertmanager's retries of one notification (its group_interval). Later,
 * the same alert firing again is real (Prometheus restored it after a restart) and acts.
 */
export const LATE_DELIVERY_MS = 5 * 60_000;

/** A resolution that released a Node. */
export interface Resolution {
  startsAt: string;
  /** When it was handled (RFC 3339). */
  at: string;
}

/** How many remediation times a Node keeps, for the rate gate. */
const MAX_REMEDIATIONS = 20;

/** The times (ms) node-heal took this Node out, newest last: `remediated-at` as a JSON list. */
export function remediations(node: Node): number[] {
  let times = remediationCache.get(node);
  if (!times) {
    times = parseRemediations(node);
    remediationCache.set(node, times);
  }
  return times;
}

function parseRemediations(node: Node): number[] {
  const raw = node.metadata.annotations?.[HISTORY.remediatedAt];
  if (!raw) return [];
  try {
    const parsed = JSON.parse(raw);
    const list = Array.isArray(parsed) ? parsed : [parsed];
    return list.map((t) => Date.parse(String(t))).filter((t) => !Number.isNaN(t));
  } catch {
    // An older single timestamp.
    const t = Date.parse(raw);
    return Number.isNaN(t) ? [] : [t];
  }
}

/** The `remediated-at` value after one more remediation at `now`. */
export function withRemediation(node: Node, now: Date): string {
  const list = [...remediations(node).map((t) => new Date(t).toISOString()), now.toISOString()];
  return JSON.stringify(list.slice(-MAX_REMEDIATIONS));
}

/** The value of the `cordoned-by` annotation. */
export const OWNER = "node-heal";

/** Label that keeps node-heal away from a Node. */
export const EXCLUDE_LABEL = "node-heal.io/exclude";

/** Labels that mark a control-plane Node, never touched. */
export const CONTROL_PLANE_LABELS = [
  "node-role.kubernetes.io/control-plane",
  "node-role.kubernetes.io/master",
];

/** One alert holding a Node. */
export interface Hold {
  alertname: string;
  /** When node-heal first saw the alert fire (RFC 3339). */
  since: string;
  /**
   * When a firing notification of it last arrived. Alertmanager repeats firing alerts every
   * `repeat_interval`; a hold not seen for the hold TTL is taken as resolved (a missed resolution).
   */
  seen?: string;
}

/** At most this many alerts hold one Node by name (in `alerts`); more go to the overflow. */
export const MAX_HOLDS = 32;

/** At most this many more alerts are listed by fingerprint alone in the overflow. */
export const MAX_OVERFLOW = 256;

/**
 * The alerts holding a Node beyond those named in `alerts`. Each listed fingerprint holds the
 * Node until its resolution; `unlisted` says even more fired than could be listed, and then the
 * Node is held until none of them has been seen firing for the hold TTL. `seen` is when an
 * overflow alert last fired; the whole overflow expires a hold TTL after it.
 */
export interface Overflow {
  seen: string;
  fingerprints: string[];
  unlisted: boolean;
}

/** node-heal's state on one Node, as read from its annotations. */
export interface NodeState {
  /** Whether node-heal cordoned this Node (and so may uncordon it). */
  owned: boolean;
  cordonedAt?: string;
  step?: string;
  target?: string;
  rule?: string;
  drainAt?: string;
  drainStartedAt?: string;
  drainer?: string;
  drainHeartbeat?: string;
  replaceAt?: string;
  /** The firing alerts holding the Node, by fingerprint. */
  holds: Record<string, Hold>;
  /** The alerts holding it beyond those in `holds`, if any. */
  overflow?: Overflow;
  /** Alerts whose resolution released this Node: fingerprint -> startsAt. */
  resolved: Record<string, Resolution>;
}

/** Reads node-heal's state from a Node's annotations; a damaged `alerts` annotation reads as empty. */
export function readState(node: Node): NodeState {
  // Nodes are never changed in place (a change is a new object), so each is read once.
  let state = stateCache.get(node);
  if (!state) {
    state = parseState(node);
    stateCache.set(node, state);
  }
  return state;
}

const stateCache = new WeakMap<Node, NodeState>();
const remediationCache = new WeakMap<Node, number[]>();

function parseState(node: Node): NodeState {
  const a = node.metadata.annotations ?? {};
  const holds = jsonObject(a[ANNOTATIONS.alerts]) as Record<string, Hold>;
  const o = jsonObject(a[ANNOTATIONS.overflow]);
  const overflow = typeof o.seen === "string" && Array.isArray(o.fingerprints)
    ? {
      seen: o.seen,
      fingerprints: o.fingerprints.filter((f): f is string => typeof f === "string"),
      unlisted: o.unlisted === true,
    }
    : undefined;
  return {
    owned: a[ANNOTATIONS.cordonedBy] === OWNER,
    cordonedAt: a[ANNOTATIONS.cordonedAt],
    step: a[ANNOTATIONS.step],
    target: a[ANNOTATIONS.target],
    rule: a[ANNOTATIONS.rule],
    drainAt: a[ANNOTATIONS.drainAt],
    drainStartedAt: a[ANNOTATIONS.drainStartedAt],
    drainer: a[ANNOTATIONS.drainer],
    drainHeartbeat: a[ANNOTATIONS.drainHeartbeat],
    replaceAt: a[ANNOTATIONS.replaceAt],
    holds,
    overflow,
    resolved: Object.fromEntries(
      Object.entries(jsonObject(a[HISTORY.resolved])).filter(([, r]) =>
        typeof (r as Resolution)?.startsAt === "string" && typeof (r as Resolution)?.at === "string"
      ),
    ) as Record<string, Resolution>,
  };
}

/** A JSON object annotation; missing or damaged reads as empty. */
function jsonObject(raw: string | undefined): Record<string, unknown> {
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

/** How many alerts hold the Node: named, listed in the overflow, and 1 for unlisted ones. */
export function holdCount(state: NodeState): number {
  const o = state.overflow;
  return Object.keys(state.holds).length + (o?.fingerprints.length ?? 0) + (o?.unlisted ? 1 : 0);
}

/** Whether the alert with this fingerprint holds the Node, by name or in the overflow list. */
export function holdsAlert(state: NodeState, fingerprint: string): boolean {
  return Object.hasOwn(state.holds, fingerprint) ||
    (state.overflow?.fingerprints.includes(fingerprint) ?? false);
}

/** Who holds a Node, for messages: `A, B and 40 more alerts`. */
export function describeHolders(holds: Record<string, Hold>, overflow?: Overflow): string {
  const names = Object.values(holds).map((h) => h.alertname);
  const shown = names.slice(0, 5);
  const more = names.length - shown.length + (overflow?.fingerprints.length ?? 0);
  const parts = [...shown];
  if (more > 0) parts.push(`${more} more alert${more === 1 ? "" : "s"}`);
  if (overflow?.unlisted) parts.push("alerts beyond node-heal's record (held for the hold TTL)");
  return parts.join(", ");
}

/** The `resolved` value after the resolution, at `now`, of an alert that started at `startsAt`. */
export function withResolution(
  state: NodeState,
  resolution: { fingerprint: string; startsAt: string; now: Date },
): string {
  const { fingerprint, startsAt, now } = resolution;
  const entries: [string, Resolution][] = Object.entries(state.resolved).filter(([fp]) =>
    fp !== fingerprint
  );
  entries.push([fingerprint, { startsAt, at: now.toISOString() }]);
  return JSON.stringify(Object.fromEntries(entries.slice(-MAX_RESOLVED)));
}

/** Whether a firing of this alert is a late delivery of one whose resolution was handled. */
export function deliveredLate(state: NodeState, alert: Alert, now: Date): boolean {
  const r = state.resolved[alert.fingerprint];
  return !!alert.startsAt && r?.startsAt === alert.startsAt &&
    now.getTime() - Date.parse(r.at) <= LATE_DELIVERY_MS;
}

/**
 * The `metadata.annotations` part of a merge patch that writes `holds` and the overflow of a
 * Node in `state`: the overflow is removed when it is now empty, and left out of the patch when
 * there was none and is none.
 */
export function holdsAnnotations(
  state: NodeState,
  holds: Record<string, Hold>,
  overflow?: Overflow,
): Record<string, string | null> {
  const empty = !overflow || (overflow.fingerprints.length === 0 && !overflow.unlisted);
  if (empty && !state.overflow) return { [ANNOTATIONS.alerts]: JSON.stringify(holds) };
  return {
    [ANNOTATIONS.alerts]: JSON.stringify(holds),
    [ANNOTATIONS.overflow]: empty ? null : JSON.stringify(overflow),
  };
}

/** The `metadata.annotations` part of a merge patch that removes all of node-heal's state. */
export function clearedAnnotations(): Record<string, null> {
  return Object.fromEntries(Object.values(ANNOTATIONS).map((k) => [k, null]));
}
