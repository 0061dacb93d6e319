import type { Alert } from "../intake/alertmanager.ts";
import { isCordoned, type Node } from "../node.ts";
import {
  ANNOTATIONS,
  clearedAnnotations,
  describeHolders,
  HISTORY,
  type Hold,
  holdCount,
  holdsAlert,
  holdsAnnotations,
  MAX_HOLDS,
  MAX_OVERFLOW,
  type NodeState,
  type Overflow,
  OWNER,
  readState,
  withRemediation,
  withResolution,
} from "./node_state.ts";
import { clip } from "../clip.ts";
import { checkTakeOut, protection } from "./gates.ts";
import { chooseAction, DEFAULT_POLICY, type Policy, type Rule } from "./policy.ts";
import { DEFAULT_DRAIN, type DrainOptions } from "./drain_plan.ts";

/**
 * The writes a decision can make. `hold`, `release` and `refresh` only change which alerts hold
 * a Node; `disown` drops node-heal's claim on a Node someone uncordoned; `forget` clears state.
 */
export type Action =
  | "cordon"
  | "drain"
  | "uncordon"
  | "hold"
  | "release"
  | "refresh"
  | "disown"
  | "forget";

/**
 * Why a decision made no change to the Node:
 * - `policy`: no policy rule gives the alert an action (or its rule says `none`);
 * - `paused`, `minHealthy`, `rate`, `cooldown`: the safety gates (see gates.ts);
 * - `protected`: a control-plane Node, never touched;
 * - `excluded`: labelled `node-heal.io/exclude=true`;
 * - `notOurs`: cordoned by someone else, so neither cordoned again nor uncordoned;
 * - `manualUncordon`: someone uncordoned a Node node-heal had cordoned for this alert;
 * - `duplicate`: this alert already holds this Node (a repeated delivery);
 * - `notHeld`: a resolved alert that holds nothing on this Node;
 * - `holdLimit`: the Node is held by more alerts than node-heal lists, and that was recorded lately;
 * - `stale`: a firing delivered after the resolution of the same alert (fingerprint and startsAt).
 */
export type Gate =
  | "policy"
  | "protected"
  | "excluded"
  | "paused"
  | "minHealthy"
  | "maxConcurrent"
  | "rate"
  | "cooldown"
  | "notOurs"
  | "manualUncordon"
  | "duplicate"
  | "notHeld"
  | "holdLimit"
  | "stale";

/** The Event a decision asks the reporter to record on the Node. */
export interface EventIntent {
  reason:
    | "NodeHealCordoned"
    | "NodeHealUncordoned"
    | "NodeHealSkipped"
    | "NodeHealDrainStarted"
    | "NodeHealDrained"
    | "NodeHealDrainFailed";
  type: "Normal" | "Warning";
  message: string;
}

/** A JSON merge patch of a Node, carrying the resourceVersion it was computed from. */
export interface NodePatch {
  metadata: { resourceVersion?: string; annotations?: Record<string, string | null> };
  spec?: { unschedulable: boolean | null };
}

/** What to do about one alert on one Node. */
export type Decision =
  | {
    kind: "act";
    action: Action;
    node: string;
    message: string;
    patch: NodePatch;
    event?: EventIntent;
    /** For `drain`: how to drain once the claim is written. */
    drain?: DrainOptions;
  }
  | { kind: "skip"; gate: Gate; node: string; message: string; event?: EventIntent };

/** The alert's name as node-heal writes it (a label value may be 4 KB; a name on a Node is not). */
function alertName(alert: Alert): string {
  return clip(alert.labels.alertname ?? "unnamed", 253);
}

function describeAlert(alert: Alert): string {
  const summary = alert.annotations.summary;
  return `alert ${alertName(alert)} (fingerprint ${alert.fingerprint})${
    summary ? `: ${clip(summary, 300)}` : ""
  }`;
}

/** The overflow, unless no alert of it was seen firing for the hold TTL. */
function liveOverflow(state: NodeState, now: Date, ttlMs: number): Overflow | undefined {
  const o = state.overflow;
  return o && now.getTime() - Date.parse(o.seen) <= ttlMs ? o : undefined;
}

/** Options of {@link decide} and {@link reconcile}. */
export interface DecideOptions {
  /** A hold not refreshed by a firing notification for this long is taken as resolved (ms). */
  holdTtlMs: number;
  /** Rules and gates; the default policy when absent. */
  policy?: Policy;
  /** Every Node as node-heal last saw it: the cluster truth the gates count from. */
  nodes?: Iterable<Node>;
  /** Whether a pause is in force (flag, policy file or the cluster's pause annotation). */
  paused?: boolean;
  /** This replica's name: the drainer it writes in its claims. */
  instance?: string;
  /** Nodes this process is draining now. */
  drainingHere?: ReadonlySet<string>;
}

/** A drain whose drainer has not said it is alive for this long may be resumed by another replica. */
export const DRAIN_HEARTBEAT_TTL_MS = 30_000;

/** Steps at which a Node has been (or is being) drained. */
const DRAIN_STEPS = new Set(["draining", "drained", "drain-failed"]);

/** The annotations that ask for a drain, on a cordon or a hold. */
function drainRequest(rule: Rule, now: Date): Record<string, string> {
  return {
    [ANNOTATIONS.target]: "drain",
    [ANNOTATIONS.rule]: rule.name,
    [ANNOTATIONS.drainAt]: new Date(now.getTime() + rule.drainAfterMs).toISOString(),
  };
}

/** The rule a Node's drain follows: the one named on it, else the policy's first that drains. */
function drainRule(policy: Policy, name: string | undefined): Rule | undefined {
  return policy.rules.find((r) => r.name === name) ??
    policy.rules.find((r) => r.actions.includes("drain"));
}

/**
 * Starts (or resumes) the drain of a Node node-heal cordoned, if the maxConcurrent gate allows:
 * a claim written with the resourceVersion read, so two replicas never drain one Node.
 */
function startDrain(node: Node, now: Date, options: DecideOptions, resume: boolean): Decision {
  const name = node.metadata.name;
  const state = readState(node);
  const policy = options.policy ?? DEFAULT_POLICY;
  const draining =
    [...(options.nodes ?? [])].filter((n) =>
      n.metadata.name !== name && readState(n).step === "draining"
    ).length;
  if (!resume && draining >= policy.gates.maxConcurrent) {
    const message =
      `Waiting to drain ${name}: ${draining} nodes are draining, maxConcurrent is ${policy.gates.maxConcurrent} (gate maxConcurrent)`;
    return skip("maxConcurrent", name, message, true);
  }
  const rule = drainRule(policy, state.rule);
  const at = now.toISOString();
  const message = resume
    ? `Resuming the drain of ${name} (started ${state.drainStartedAt ?? "earlier"})`
    : `Draining ${name}: evicting its pods as kubectl drain --ignore-daemonsets --delete-emptydir-data would`;
  return {
    ...act("drain", node, message, {
      annotations: {
        [ANNOTATIONS.step]: "draining",
        [ANNOTATIONS.drainer]: options.instance ?? "node-heal",
        [ANNOTATIONS.drainHeartbeat]: at,
        [ANNOTATIONS.drainStartedAt]: resume && state.drainStartedAt ? state.drainStartedAt : at,
        // A new drain counts its evictions from zero; a resumed one goes on counting.
        ...(resume ? {} : { [ANNOTATIONS.drainEvicted]: null }),
      },
    }, { reason: "NodeHealDrainStarted", type: "Normal", message }),
    drain: rule?.drain ?? DEFAULT_DRAIN,
  } as Decision;
}

/** The default hold TTL: four times the node-heal route's 1-hour `repeat_interval`. */
export const DEFAULT_HOLD_TTL_MS = 4 * 60 * 60 * 1000;

function seenAt(hold: Hold): number {
  return Date.parse(hold.seen ?? hold.since);
}

function skip(gate: Gate, node: string, message: string, withEvent: boolean): Decision {
  return {
    kind: "skip",
    gate,
    node,
    message,
    event: withEvent ? { reason: "NodeHealSkipped", type: "Normal", message } : undefined,
  };
}

function act(
  action: Action,
  node: Node,
  message: string,
  patch: Omit<NodePatch, "metadata"> & { annotations: Record<string, string | null> },
  event?: EventIntent,
): Decision {
  return {
    kind: "act",
    action,
    node: node.metadata.name,
    message,
    patch: {
      metadata: { resourceVersion: node.metadata.resourceVersion, annotations: patch.annotations },
      ...(patch.spec ? { spec: patch.spec } : {}),
    },
    event,
  };
}

/**
 * Decides what one alert means for one Node. Pure: the same inputs give the same decision,
 * and every skip names the gate that blocked it.
 */
export function decide(
  alert: Alert,
  node: Node,
  now: Date,
  options: DecideOptions = { holdTtlMs: DEFAULT_HOLD_TTL_MS },
): Decision {
  const name = node.metadata.name;
  const state = readState(node);
  const cordoned = isCordoned(node);
  const holdsIt = Object.hasOwn(state.holds, alert.fingerprint);
  const overflow = liveOverflow(state, now, options.holdTtlMs);
  const inOverflow = overflow?.fingerprints.includes(alert.fingerprint) ?? false;

  if (alert.status === "resolved") {
    if (!holdsAlert(state, alert.fingerprint)) {
      if (cordoned && !state.owned) {
        return skip(
          "notOurs",
          name,
          `Left ${name} cordoned after ${
            describeAlert(alert)
          } resolved: it was not cordoned by node-heal`,
          true,
        );
      }
      return skip(
        "notHeld",
        name,
        `Nothing to undo on ${name}: ${describeAlert(alert)} holds nothing there`,
        false,
      );
    }
    const rest: Record<string, Hold> = { ...state.holds };
    delete rest[alert.fingerprint];
    const live = liveOverflow(state, now, options.holdTtlMs);
    const restOverflow = live && {
      ...live,
      fingerprints: live.fingerprints.filter((f) => f !== alert.fingerprint),
    };
    // A firing of this same alert delivered late must not take the Node out again.
    const resolution: Record<string, string> = alert.startsAt
      ? { [HISTORY.resolved]: withResolution(state, alert.fingerprint, alert.startsAt) }
      : {};
    if (holdCount({ ...state, holds: rest, overflow: restOverflow }) > 0) {
      const message = `Kept ${name} cordoned after ${
        describeAlert(alert)
      } resolved: still held by ${describeHolders(rest, restOverflow)}`;
      return act("release", node, message, {
        annotations: { ...holdsAnnotations(state, rest, restOverflow), ...resolution },
      }, { reason: "NodeHealSkipped", type: "Normal", message });
    }
    if (!state.owned || !cordoned) {
      return act(
        "forget",
        node,
        `Forgot ${describeAlert(alert)} on ${name}: the node is no longer cordoned by node-heal`,
        { annotations: { ...clearedAnnotations(), ...resolution } },
      );
    }
    const policy = options.policy ?? DEFAULT_POLICY;
    const rule = drainRule(policy, state.rule);
    if (
      DRAIN_STEPS.has(state.step ?? "") && state.step !== "draining" && rule &&
      !rule.uncordonAfterDrain
    ) {
      const kept = `Kept ${name} cordoned after ${
        describeAlert(alert)
      } resolved: it was drained and rule "${rule.name}" says uncordonAfterDrain: false`;
      return act("release", node, kept, {
        annotations: { ...holdsAnnotations(state, rest), ...resolution },
      }, {
        reason: "NodeHealSkipped",
        type: "Normal",
        message: kept,
      });
    }
    const message = `Uncordoned ${name}: ${describeAlert(alert)} resolved${
      state.step === "draining" ? " (its drain was stopped)" : ""
    }`;
    return act("uncordon", node, message, {
      annotations: {
        ...clearedAnnotations(),
        [HISTORY.releasedAt]: now.toISOString(),
        ...resolution,
      },
      spec: { unschedulable: null },
    }, { reason: "NodeHealUncordoned", type: "Normal", message });
  }

  if (alert.startsAt && state.resolved[alert.fingerprint] === alert.startsAt) {
    return skip(
      "stale",
      name,
      `Ignored a firing of ${
        describeAlert(alert)
      } on ${name}: its resolution (started ${alert.startsAt}) was handled already; this firing arrived late`,
      false,
    );
  }

  const policy = options.policy ?? DEFAULT_POLICY;
  const choice = chooseAction(policy, alert);
  if (!choice.action || choice.action === "none") {
    const why = "why" in choice ? choice.why : `policy rule "${choice.rule}" says none`;
    return skip("policy", name, `Skipped ${name} for ${describeAlert(alert)}: ${why}`, false);
  }
  const shield = protection(node, policy.gates);
  if (shield) {
    return skip(
      shield.gate,
      name,
      `Skipped ${name} for ${describeAlert(alert)}: ${shield.message} (gate ${shield.gate})`,
      true,
    );
  }
  const wantsDrain = choice.action === "drain";
  if ((holdsIt || inOverflow) && cordoned && state.owned) {
    if (wantsDrain && state.target !== "drain") {
      return act(
        "hold",
        node,
        `${describeAlert(alert)} asks to drain ${name}`,
        { annotations: drainRequest(choice.options, now) },
      );
    }
    if (drainDue(state, now)) return startDrain(node, now, options, false);
  }
  if (holdsIt && cordoned) {
    const hold = state.holds[alert.fingerprint];
    // Keep the hold fresh, at most a few writes per TTL, so that it does not expire.
    if (now.getTime() - seenAt(hold) > options.holdTtlMs / 4) {
      const holds = { ...state.holds, [alert.fingerprint]: { ...hold, seen: now.toISOString() } };
      return act(
        "refresh",
        node,
        `${describeAlert(alert)} still fires on ${name}; hold refreshed`,
        { annotations: holdsAnnotations(state, holds, overflow) },
      );
    }
    return skip(
      "duplicate",
      name,
      `${name} is already cordoned for ${describeAlert(alert)}`,
      false,
    );
  }
  if (inOverflow && cordoned) {
    // Keep the overflow fresh, as a hold, at most a few writes per TTL.
    if (now.getTime() - Date.parse(overflow!.seen) > options.holdTtlMs / 4) {
      return act(
        "refresh",
        node,
        `${describeAlert(alert)} still fires on ${name}; overflow hold refreshed`,
        {
          annotations: holdsAnnotations(state, state.holds, {
            ...overflow!,
            seen: now.toISOString(),
          }),
        },
      );
    }
    return skip(
      "duplicate",
      name,
      `${name} is already cordoned for ${describeAlert(alert)}`,
      false,
    );
  }
  if (holdsIt || inOverflow) {
    return skip(
      "manualUncordon",
      name,
      `Skipped ${name} for ${
        describeAlert(alert)
      }: someone uncordoned it after node-heal cordoned it; respected until the alert resolves`,
      true,
    );
  }
  const at = now.toISOString();
  const holds: Record<string, Hold> = {
    ...state.holds,
    [alert.fingerprint]: { alertname: alertName(alert), since: at, seen: at },
  };
  const drainAsked = wantsDrain && state.target !== "drain"
    ? drainRequest(choice.options, now)
    : {};
  if (cordoned) {
    if (state.owned && Object.keys(state.holds).length >= MAX_HOLDS) {
      return overflowHold(node, alert, { now, overflow, holdTtlMs: options.holdTtlMs, drainAsked });
    }
    if (!state.owned) {
      return skip(
        "notOurs",
        name,
        `Skipped ${name} for ${
          describeAlert(alert)
        }: already cordoned, not by node-heal; left as it is`,
        true,
      );
    }
    return act(
      "hold",
      node,
      `${name} is already cordoned by node-heal; ${describeAlert(alert)} now holds it too`,
      { annotations: { ...holdsAnnotations(state, holds, overflow), ...drainAsked } },
    );
  }
  const blocked = checkTakeOut(
    node,
    options.nodes ?? [node],
    policy.gates,
    now,
    options.paused ?? false,
  );
  if (blocked) {
    return skip(
      blocked.gate,
      name,
      `Skipped ${name} for ${describeAlert(alert)}: ${blocked.message} (gate ${blocked.gate})`,
      true,
    );
  }
  const message = `Cordoned ${name} for ${describeAlert(alert)}`;
  return act("cordon", node, message, {
    annotations: {
      [ANNOTATIONS.cordonedBy]: OWNER,
      [ANNOTATIONS.cordonedAt]: now.toISOString(),
      [HISTORY.remediatedAt]: withRemediation(node, now),
      [ANNOTATIONS.step]: "cordoned",
      ...holdsAnnotations(state, holds, overflow),
      ...(wantsDrain ? drainRequest(choice.options, now) : {}),
    },
    spec: { unschedulable: true },
  }, { reason: "NodeHealCordoned", type: "Normal", message });
}

/**
 * What node-heal should do about a Node outside any alert: give up its claim on a Node
 * someone uncordoned, and let go of holds whose alerts were not seen for the hold TTL (their
 * resolution was missed: a silence, an Alertmanager restart, a relabelled alert). Undefined
 * when there is nothing to do.
 */
export function reconcile(node: Node, now: Date, options: DecideOptions): Decision | undefined {
  const name = node.metadata.name;
  const state = readState(node);
  const cordoned = isCordoned(node);
  if (state.owned && !cordoned) {
    const message =
      `${name} was uncordoned by someone else after node-heal cordoned it; node-heal no longer owns its cordon`;
    return act("disown", node, message, {
      annotations: {
        ...clearedAnnotations(),
        ...holdsAnnotations(state, state.holds, state.overflow),
      },
    }, { reason: "NodeHealSkipped", type: "Normal", message });
  }
  if (state.owned && cordoned && holdCount(state) > 0) {
    if (drainDue(state, now)) return startDrain(node, now, options, false);
    if (state.step === "draining" && !options.drainingHere?.has(name)) {
      const beat = Date.parse(state.drainHeartbeat ?? "");
      const stale = Number.isNaN(beat) || now.getTime() - beat > DRAIN_HEARTBEAT_TTL_MS;
      // This replica's own drain from before a restart, or another's that stopped beating.
      if (stale || state.drainer === (options.instance ?? "node-heal")) {
        return startDrain(node, now, options, true);
      }
    }
  }
  const expired = Object.entries(state.holds).filter(([, h]) =>
    !(now.getTime() - seenAt(h) <= options.holdTtlMs)
  );
  const overflow = liveOverflow(state, now, options.holdTtlMs);
  const overflowExpired = state.overflow !== undefined && overflow === undefined;
  if (expired.length === 0 && !overflowExpired) return undefined;
  const shown = expired.slice(0, 5).map(([fp, h]) => `${h.alertname} (fingerprint ${fp})`);
  const more = expired.length - shown.length +
    (overflowExpired ? holdCount({ ...state, holds: {} }) : 0);
  const names = [...shown, ...(more > 0 ? [`${more} more alerts`] : [])].join(", ");
  const rest = Object.fromEntries(
    Object.entries(state.holds).filter(([fp]) => !expired.some(([e]) => e === fp)),
  );
  const why = `not seen firing for ${formatDuration(options.holdTtlMs)}, taken as resolved`;
  if (holdCount({ ...state, holds: rest, overflow }) > 0) {
    const message = `Kept ${name} cordoned: ${names} ${why}; still held by ${
      describeHolders(rest, overflow)
    }`;
    return act("release", node, message, { annotations: holdsAnnotations(state, rest, overflow) });
  }
  if (state.owned && cordoned) {
    const message = `Uncordoned ${name}: ${names} ${why}`;
    return act("uncordon", node, message, {
      annotations: { ...clearedAnnotations(), [HISTORY.releasedAt]: now.toISOString() },
      spec: { unschedulable: null },
    }, { reason: "NodeHealUncordoned", type: "Normal", message });
  }
  return act("forget", node, `Forgot ${names} on ${name}: ${why}`, {
    annotations: clearedAnnotations(),
  });
}

/**
 * A firing alert on a Node already held by {@link MAX_HOLDS} named alerts: listed in the
 * overflow by fingerprint while there is room, else the overflow is marked `unlisted` so the
 * Node stays held until none of those alerts has fired for the hold TTL. Never under-counts.
 */
function overflowHold(
  node: Node,
  alert: Alert,
  options: {
    now: Date;
    overflow: Overflow | undefined;
    holdTtlMs: number;
    drainAsked: Record<string, string>;
  },
): Decision {
  const { now, holdTtlMs, drainAsked } = options;
  const name = node.metadata.name;
  const state = readState(node);
  const at = now.toISOString();
  const o = options.overflow ?? { seen: at, fingerprints: [], unlisted: false };
  if (o.fingerprints.length < MAX_OVERFLOW) {
    const overflow = { ...o, seen: at, fingerprints: [...o.fingerprints, alert.fingerprint] };
    return act(
      "hold",
      node,
      `${name} is already cordoned by node-heal; ${
        describeAlert(alert)
      } now holds it too (listed by fingerprint: ${MAX_HOLDS} alerts are named already)`,
      { annotations: { ...holdsAnnotations(state, state.holds, overflow), ...drainAsked } },
    );
  }
  if (o.unlisted && now.getTime() - Date.parse(o.seen) <= holdTtlMs / 4) {
    return skip(
      "holdLimit",
      name,
      `${name} is held by more alerts than node-heal lists; ${
        describeAlert(alert)
      } is one more, and the node stays cordoned until none of them fired for the hold TTL`,
      false,
    );
  }
  const message = `${name} is held by more alerts than node-heal lists (${
    MAX_HOLDS + MAX_OVERFLOW
  }); ${
    describeAlert(alert)
  } is not listed, so the node stays cordoned until none of the unlisted alerts fired for the hold TTL`;
  return act("hold", node, message, {
    annotations: {
      ...holdsAnnotations(state, state.holds, { ...o, seen: at, unlisted: true }),
      ...drainAsked,
    },
  });
}

/** `4h`, `90s`, `1500ms`: a duration as people write it. */
function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Whether a requested drain is due: cordoned by node-heal, asked to drain, its drain-at passed. */
function drainDue(state: ReturnType<typeof readState>, now: Date): boolean {
  if (state.step !== "cordoned" || state.target !== "drain") return false;
  const at = Date.parse(state.drainAt ?? "");
  return !Number.isNaN(at) && at <= now.getTime();
}
