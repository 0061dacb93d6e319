import type { Alert } from "../intake/alertmanager.ts";
import { isCordoned, type Node } from "../node.ts";
import {
  ANNOTATIONS,
  clearedAnnotations,
  HISTORY,
  type Hold,
  holdsAnnotations,
  MAX_HOLDS,
  OWNER,
  readState,
} from "./node_state.ts";
import { checkTakeOut, protection } from "./gates.ts";
import { chooseAction, DEFAULT_POLICY, type Policy } from "./policy.ts";

/**
 * The writes a decision can make. `hold`, `release` and `refresh` only change which alerts hold
 * a Node; `disown` drops node-heal's claim on a Node someone uncordoned; `forget` clears state.
 */
export type Action =
  | "cordon"
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
 * - `holdLimit`: the Node is already held by the most alerts node-heal records.
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
  | "holdLimit";

/** The Event a decision asks the reporter to record on the Node. */
export interface EventIntent {
  reason: "NodeHealCordoned" | "NodeHealUncordoned" | "NodeHealSkipped";
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
  }
  | { kind: "skip"; gate: Gate; node: string; message: string; event?: EventIntent };

function alertName(alert: Alert): string {
  return alert.labels.alertname ?? "unnamed";
}

function describeAlert(alert: Alert): string {
  const summary = alert.annotations.summary;
  return `alert ${alertName(alert)} (fingerprint ${alert.fingerprint})${
    summary ? `: ${summary}` : ""
  }`;
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

  if (alert.status === "resolved") {
    if (!holdsIt) {
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
    const still = Object.values(rest).map((h) => h.alertname);
    if (still.length > 0) {
      const message = `Kept ${name} cordoned after ${
        describeAlert(alert)
      } resolved: still held by ${still.join(", ")}`;
      return act("release", node, message, { annotations: holdsAnnotations(rest) }, {
        reason: "NodeHealSkipped",
        type: "Normal",
        message,
      });
    }
    if (!state.owned || !cordoned) {
      return act(
        "forget",
        node,
        `Forgot ${describeAlert(alert)} on ${name}: the node is no longer cordoned by node-heal`,
        { annotations: clearedAnnotations() },
      );
    }
    const message = `Uncordoned ${name}: ${describeAlert(alert)} resolved`;
    return act("uncordon", node, message, {
      annotations: { ...clearedAnnotations(), [HISTORY.releasedAt]: now.toISOString() },
      spec: { unschedulable: null },
    }, { reason: "NodeHealUncordoned", type: "Normal", message });
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
  if (holdsIt) {
    if (cordoned) {
      const hold = state.holds[alert.fingerprint];
      // Keep the hold fresh, at most a few writes per TTL, so that it does not expire.
      if (now.getTime() - seenAt(hold) > options.holdTtlMs / 4) {
        const holds = { ...state.holds, [alert.fingerprint]: { ...hold, seen: now.toISOString() } };
        return act(
          "refresh",
          node,
          `${describeAlert(alert)} still fires on ${name}; hold refreshed`,
          { annotations: holdsAnnotations(holds) },
        );
      }
      return skip(
        "duplicate",
        name,
        `${name} is already cordoned for ${describeAlert(alert)}`,
        false,
      );
    }
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
    [alert.fingerprint]: { alertname: alertName(alert).slice(0, 253), since: at, seen: at },
  };
  if (cordoned) {
    if (state.owned && Object.keys(state.holds).length >= MAX_HOLDS) {
      return skip(
        "holdLimit",
        name,
        `${name} is already held by ${MAX_HOLDS} alerts; ${describeAlert(alert)} is not recorded`,
        false,
      );
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
      { annotations: holdsAnnotations(holds) },
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
      [HISTORY.remediatedAt]: now.toISOString(),
      [ANNOTATIONS.step]: "cordoned",
      ...holdsAnnotations(holds),
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
        [ANNOTATIONS.cordonedBy]: null,
        [ANNOTATIONS.cordonedAt]: null,
        [ANNOTATIONS.step]: null,
      },
    }, { reason: "NodeHealSkipped", type: "Normal", message });
  }
  const expired = Object.entries(state.holds).filter(([, h]) =>
    !(now.getTime() - seenAt(h) <= options.holdTtlMs)
  );
  if (expired.length === 0) return undefined;
  const names = expired.map(([fp, h]) => `${h.alertname} (fingerprint ${fp})`).join(", ");
  const rest = Object.fromEntries(
    Object.entries(state.holds).filter(([fp]) => !expired.some(([e]) => e === fp)),
  );
  const why = `not seen firing for ${formatDuration(options.holdTtlMs)}, taken as resolved`;
  if (Object.keys(rest).length > 0) {
    const message = `Kept ${name} cordoned: ${names} ${why}; still held by ${
      Object.values(rest).map((h) => h.alertname).join(", ")
    }`;
    return act("release", node, message, { annotations: holdsAnnotations(rest) });
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

/** `4h`, `90s`, `1500ms`: a duration as people write it. */
function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
