import { Memo } from "../base/recent.ts";
import type { Alert } from "../intake/alertmanager.ts";
import type { Node } from "../base/node.ts";
import {
  MAX_REMEDIATIONS,
  MAX_RESOLVED,
  parseAnnotations,
  parseTimes,
  STATE_KEYS,
} from "./state_schema.ts";
import { SEAL } from "./seal.ts";
import { ANNOTATIONS, HISTORY } from "./state_keys.ts";

export { ANNOTATIONS, HISTORY } from "./state_keys.ts";
export { MAX_HOLDS, MAX_OVERFLOW, MAX_RESOLVED } from "./state_schema.ts";
export { cleanAnnotations, STATE_KEYS } from "./state_schema.ts";

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

/** The times (ms) node-heal took this Node out, oldest first: `remediated-at` as a JSON list. */
export function remediations(node: Node): number[] {
  let times = remediationCache.get(node);
  if (!times) {
    const raw = node.metadata.annotations?.[HISTORY.remediatedAt];
    times = raw === undefined
      ? []
      : parsedTimes.get(raw, () => parseTimes(HISTORY.remediatedAt, raw, {}).value ?? []);
    remediationCache.set(node, times);
  }
  return times;
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
    const annotations = node.metadata.annotations ?? {};
    state = parsedStates.get(stateKey(annotations), () => parseState(annotations));
    stateCache.set(node, state);
  }
  return state;
}

/**
 * node-heal's annotations (and its seal) among `annotations`, as one string: two Nodes, or two
 * versions of one, whose keys are equal hold the same state.
 */
export function stateKey(annotations: Record<string, string>): string {
  let key = stateKeys.get(annotations);
  if (key === undefined) {
    key = JSON.stringify([...STATE_KEYS, SEAL].map((k) => annotations[k] ?? null));
    stateKeys.set(annotations, key);
  }
  return key;
}

/** Each annotations object's {@link stateKey}: admission and the tally both ask for it. */
const stateKeys = new WeakMap<Record<string, string>, string>();

const stateCache = new WeakMap<Node, NodeState>();
const remediationCache = new WeakMap<Node, number[]>();
/**
 * States and remediation lists read lately, by their text: each version of a Node is a new object,
 * and the versions a cordon makes (its write's answer; the taint the node lifecycle controller
 * adds after it) hold the same state. What is shared is never changed in place.
 */
const parsedStates = new Memo<NodeState>(512, 4096);
const parsedTimes = new Memo<number[]>(512, 4096);

function parseState(annotations: Record<string, string>): NodeState {
  const { values } = parseAnnotations(annotations, {});
  const v = (key: string) => values[key] as string | undefined;
  return {
    owned: v(ANNOTATIONS.cordonedBy) === OWNER,
    cordonedAt: v(ANNOTATIONS.cordonedAt),
    step: v(ANNOTATIONS.step),
    target: v(ANNOTATIONS.target),
    rule: v(ANNOTATIONS.rule),
    drainAt: v(ANNOTATIONS.drainAt),
    drainStartedAt: v(ANNOTATIONS.drainStartedAt),
    drainer: v(ANNOTATIONS.drainer),
    drainHeartbeat: v(ANNOTATIONS.drainHeartbeat),
    replaceAt: v(ANNOTATIONS.replaceAt),
    holds: (values[ANNOTATIONS.alerts] as Record<string, Hold> | undefined) ?? {},
    overflow: values[ANNOTATIONS.overflow] as Overflow | undefined,
    resolved: (values[HISTORY.resolved] as Record<string, Resolution> | undefined) ?? {},
  };
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
