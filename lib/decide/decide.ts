import type { Alert } from "../intake/alertmanager.ts";
import { isCordoned, type Node } from "../base/node.ts";
import {
  ANNOTATIONS,
  clearedAnnotations,
  deliveredLate,
  describeHolders,
  HISTORY,
  type Hold,
  holdCount,
  holdsAlert,
  holdsAnnotations,
  MAX_HOLDS,
  OWNER,
  readState,
  withRemediation,
  withResolution,
} from "./node_state.ts";
import { checkTakeOut, protection } from "./gates.ts";
import { chooseAction, DEFAULT_POLICY } from "./policy.ts";

import {
  act,
  alertName,
  type DecideOptions,
  type Decision,
  describeAlert,
  type Gate,
  skip,
} from "./decision.ts";
import { DRAIN_STEPS, drainDue, startDrain } from "./drain_step.ts";
import { goesFurther, ladderRequest, replaceDue, startReplace } from "./replace_step.ts";
import { liveOverflow, overflowHold, seenAt } from "./holds.ts";

export type { Action, DecideOptions, Decision, EventIntent, Gate, NodePatch } from "./decision.ts";
export { DEFAULT_HOLD_TTL_MS } from "./decision.ts";
export { DRAIN_HEARTBEAT_TTL_MS, drainProgress, endDrain } from "./drain_step.ts";
export type { DrainEnd, DrainProgress } from "./drain_step.ts";
export { reconcile } from "./reconcile.ts";

/**
 * Decides what one alert means for one Node. Pure: the same inputs give the same decision,
 * and every skip names the gate that blocked it.
 */
export function decide(alert: Alert, node: Node, options: DecideOptions): Decision {
  const { now } = options;
  const name = node.metadata.name;
  const state = readState(node);
  const cordoned = isCordoned(node);
  const holdsIt = Object.hasOwn(state.holds, alert.fingerprint);
  const overflow = liveOverflow(state, now, options.holdTtlMs);
  const inOverflow = overflow?.fingerprints.includes(alert.fingerprint) ?? false;

  if (alert.status === "resolved") {
    if (!holdsAlert(state, alert.fingerprint)) {
      if (cordoned && !state.owned) {
        return skip("notOurs", name, {
          message: `Left ${name} cordoned after ${
            describeAlert(alert)
          } resolved: it was not cordoned by node-heal`,
          withEvent: true,
        });
      }
      return skip("notHeld", name, {
        message: `Nothing to undo on ${name}: ${describeAlert(alert)} holds nothing there`,
        withEvent: false,
      });
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
      ? {
        [HISTORY.resolved]: withResolution(state, {
          fingerprint: alert.fingerprint,
          startsAt: alert.startsAt,
          now,
        }),
      }
      : {};
    if (holdCount({ ...state, holds: rest, overflow: restOverflow }) > 0) {
      const message = `Kept ${name} cordoned after ${
        describeAlert(alert)
      } resolved: still held by ${describeHolders(rest, restOverflow)}`;
      return act("release", node, {
        message,
        annotations: { ...holdsAnnotations(state, rest, restOverflow), ...resolution },
        event: { reason: "NodeHealSkipped", type: "Normal", message },
      });
    }
    if (!state.owned || !cordoned) {
      return act("forget", node, {
        message: `Forgot ${
          describeAlert(alert)
        } on ${name}: the node is no longer cordoned by node-heal`,
        annotations: { ...clearedAnnotations(), ...resolution },
      });
    }
    // Left cordoned: a replacement under way, or a drained node its rule keeps out.
    const policy = options.policy ?? DEFAULT_POLICY;
    const rule = policy.rules.find((r) => r.name === state.rule);
    const keptBecause = state.step === "replacing"
      ? "its replacement is under way"
      : DRAIN_STEPS.has(state.step ?? "") && state.step !== "draining" && rule &&
          !rule.uncordonAfterDrain
      ? `it was drained and rule "${rule.name}" says uncordonAfterDrain: false`
      : undefined;
    if (keptBecause) {
      const kept = `Kept ${name} cordoned after ${describeAlert(alert)} resolved: ${keptBecause}`;
      return act("release", node, {
        message: kept,
        annotations: { ...holdsAnnotations(state, rest, restOverflow), ...resolution },
        event: { reason: "NodeHealSkipped", type: "Normal", message: kept },
      });
    }
    const message = `Uncordoned ${name}: ${describeAlert(alert)} resolved${
      state.step === "draining" ? " (its drain was stopped)" : ""
    }`;
    return act("uncordon", node, {
      message,
      annotations: {
        ...clearedAnnotations(),
        [HISTORY.releasedAt]: now.toISOString(),
        ...resolution,
      },
      spec: { unschedulable: null },
      event: { reason: "NodeHealUncordoned", type: "Normal", message },
    });
  }

  if (deliveredLate(state, alert, now)) {
    return skip("stale", name, {
      message: `Ignored a firing of ${
        describeAlert(alert)
      } on ${name}: its resolution (started ${alert.startsAt}) was handled moments ago; this firing arrived late`,
      withEvent: false,
    });
  }

  const policy = options.policy ?? DEFAULT_POLICY;
  const choice = chooseAction(policy, alert);
  if (!choice.action || choice.action === "none") {
    const why = "why" in choice ? choice.why : `policy rule "${choice.rule}" says none`;
    return skip("policy", name, {
      message: `Skipped ${name} for ${describeAlert(alert)}: ${why}`,
      withEvent: false,
    });
  }
  const shield = protection(node, policy.gates);
  if (shield) {
    return gated(alert, { ...shield, node: name });
  }
  // A drain, or a drain and then a replacement: what the alert asks beyond the cordon.
  const ladder = choice.action === "drain" || choice.action === "replace"
    ? choice.action
    : undefined;
  const asked = ladder && goesFurther(ladder, state)
    ? ladderRequest(choice.options, ladder, { now, state })
    : {};
  if ((holdsIt || inOverflow) && cordoned && state.owned) {
    if (ladder && goesFurther(ladder, state)) {
      return act("hold", node, {
        message: `${describeAlert(alert)} asks to ${ladder} ${name}`,
        annotations: asked,
      });
    }
    if (drainDue(state, now)) return startDrain(node, now, options);
    if (replaceDue(state, now)) {
      const started = startReplace(node, now, options);
      if (started) return started;
    }
  }
  if (holdsIt && cordoned) {
    const hold = state.holds[alert.fingerprint];
    // Keep the hold fresh, at most a few writes per TTL, so that it does not expire.
    if (now.getTime() - seenAt(hold) > options.holdTtlMs / 4) {
      const holds = { ...state.holds, [alert.fingerprint]: { ...hold, seen: now.toISOString() } };
      return act("refresh", node, {
        message: `${describeAlert(alert)} still fires on ${name}; hold refreshed`,
        annotations: holdsAnnotations(state, holds, overflow),
      });
    }
    return skip("duplicate", name, {
      message: `${name} is already cordoned for ${describeAlert(alert)}`,
      withEvent: false,
    });
  }
  if (inOverflow && cordoned) {
    // Keep the overflow fresh, as a hold, at most a few writes per TTL.
    if (now.getTime() - Date.parse(overflow!.seen) > options.holdTtlMs / 4) {
      return act("refresh", node, {
        message: `${describeAlert(alert)} still fires on ${name}; overflow hold refreshed`,
        annotations: holdsAnnotations(state, state.holds, {
          ...overflow!,
          seen: now.toISOString(),
        }),
      });
    }
    return skip("duplicate", name, {
      message: `${name} is already cordoned for ${describeAlert(alert)}`,
      withEvent: false,
    });
  }
  if (holdsIt || inOverflow) {
    return skip("manualUncordon", name, {
      message: `Skipped ${name} for ${
        describeAlert(alert)
      }: someone uncordoned it after node-heal cordoned it; respected until the alert resolves`,
      withEvent: true,
    });
  }
  const at = now.toISOString();
  const holds: Record<string, Hold> = {
    ...state.holds,
    [alert.fingerprint]: { alertname: alertName(alert), since: at, seen: at },
  };
  if (cordoned) {
    if (state.owned && Object.keys(state.holds).length >= MAX_HOLDS) {
      return overflowHold(node, alert, {
        now,
        overflow,
        holdTtlMs: options.holdTtlMs,
        drainAsked: asked,
      });
    }
    if (!state.owned) {
      return skip("notOurs", name, {
        message: `Skipped ${name} for ${
          describeAlert(alert)
        }: already cordoned, not by node-heal; left as it is`,
        withEvent: true,
      });
    }
    return act("hold", node, {
      message: `${name} is already cordoned by node-heal; ${describeAlert(alert)} now holds it too`,
      annotations: { ...holdsAnnotations(state, holds, overflow), ...asked },
    });
  }
  const blocked = checkTakeOut(node, {
    ...(options.tally ? { tally: options.tally } : { nodes: options.nodes ?? [node] }),
    gates: policy.gates,
    now,
    paused: options.paused ?? false,
  });
  if (blocked) {
    return gated(alert, { ...blocked, node: name });
  }
  const message = `Cordoned ${name} for ${describeAlert(alert)}`;
  return act("cordon", node, {
    message,
    annotations: {
      [ANNOTATIONS.cordonedBy]: OWNER,
      [ANNOTATIONS.cordonedAt]: now.toISOString(),
      [HISTORY.remediatedAt]: withRemediation(node, now),
      [ANNOTATIONS.step]: "cordoned",
      ...holdsAnnotations(state, holds, overflow),
      ...(ladder ? ladderRequest(choice.options, ladder, { now }) : {}),
    },
    spec: { unschedulable: true },
    event: { reason: "NodeHealCordoned", type: "Normal", message },
  });
}

/** A skip because a gate keeps the Node where it is, told on the Node as a NodeHealSkipped Event. */
function gated(alert: Alert, block: { gate: Gate; message: string; node: string }): Decision {
  const { gate, node } = block;
  return skip(gate, node, {
    message: `Skipped ${node} for ${describeAlert(alert)}: ${block.message} (gate ${gate})`,
    withEvent: true,
  });
}
