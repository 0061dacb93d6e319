// A firing alert, decided in named steps: the first that decides wins; a Node no step keeps
// where it is gets cordoned.
import {
  ANNOTATIONS,
  deliveredLate,
  HISTORY,
  type Hold,
  holdsAnnotations,
  MAX_HOLDS,
  OWNER,
  withRemediation,
} from "./node_state.ts";
import { checkTakeOut, gateClause, protection } from "./gates.ts";
import { type Choice, chooseAction, type Rule } from "./policy.ts";
import { act, alertName, type Decision, describeAlert, skip } from "./decision.ts";
import type { Gate } from "./gates.ts";
import { drainDue, startDrain } from "./drain_step.ts";
import { goesFurther, ladderRequest, replaceDue, startReplace } from "./replace_step.ts";
import { overflowHold, seenAt } from "./holds.ts";
import { type AlertOnNode, firstStep, type Step } from "./alert_on_node.ts";
import { recurrence } from "./outcomes.ts";
import { escalating, type Escalation, escalationOf } from "./escalation.ts";

/** A firing alert a policy rule gives an action, and what it asks beyond the cordon. */
interface Firing extends AlertOnNode {
  rule: Rule;
  /** A drain, or a drain and then a replacement. */
  ladder: "drain" | "replace" | undefined;
  /** The annotations asking for it, when the Node's target is not that far up yet. */
  asked: Record<string, string>;
  /** Set when the rule's `escalate:` sends the Node further than the alert asks. */
  escalation?: Escalation;
}

/** Decides a firing alert: cordon, hold, refresh, climb the ladder, or a skip naming its reason. */
export function decideFiring(c: AlertOnNode): Decision {
  if (deliveredLate(c.state, c.alert, c.now)) return stale(c);
  const choice = chooseAction(c.policy, c.alert);
  if (!choice.action || choice.action === "none") return noAction(c, choice);
  const f = firing(c, choice.options, choice.action);
  return firstStep(FIRING_STEPS, f) ?? cordon(f);
}

/** The steps of a firing alert with an action, in order; {@link cordon} if none decides. */
const FIRING_STEPS: readonly Step<Firing>[] = [
  protectedNode,
  nextRung,
  refreshHold,
  refreshOverflow,
  uncordonedByHand,
  alreadyCordoned,
  takeOutGates,
];

function firing(c: AlertOnNode, rule: Rule, action: string): Firing {
  const asks = action === "drain" || action === "replace" ? action : undefined;
  const escalation = escalationOf(rule, asks, c);
  const ladder = escalation?.to ?? asks;
  const asked = ladder && goesFurther(ladder, c.state)
    ? ladderRequest(rule, ladder, { now: c.now, state: c.state })
    : {};
  return { ...c, rule, ladder, asked, ...(escalation ? { escalation } : {}) };
}

function stale({ alert, name }: AlertOnNode): Decision {
  return skip("stale", name, {
    message: `Ignored a firing of ${
      describeAlert(alert)
    } on ${name}: its resolution (started ${alert.startsAt}) was handled moments ago; this firing arrived late`,
    withEvent: false,
  });
}

function noAction({ alert, name }: AlertOnNode, choice: Choice): Decision {
  const why = "why" in choice ? choice.why : `policy rule "${choice.rule}" says none`;
  return skip("policy", name, {
    message: `Skipped ${name} for ${describeAlert(alert)}: ${why}`,
    withEvent: false,
  });
}

/** The control plane, an excluded Node, one outside the selector: never touched. */
function protectedNode(f: Firing): Decision | undefined {
  const shield = protection(f.node, f.policy.gates);
  return shield && gated(f, shield);
}

/** On a Node node-heal holds for this alert: ask for more of the ladder, or take its next step. */
function nextRung(f: Firing): Decision | undefined {
  const { alert, node, name, state, now, options, ladder } = f;
  if (!(f.holdsIt || f.inOverflow) || !f.cordoned || !state.owned) return undefined;
  if (ladder && goesFurther(ladder, state)) {
    const hold = act("hold", node, {
      message: `${describeAlert(alert)} asks to ${ladder} ${name}`,
      annotations: f.asked,
    });
    return escalating(hold, f.escalation, f.asked);
  }
  if (drainDue(state, now)) return startDrain(node, now, options);
  if (replaceDue(state, now)) return startReplace(node, now, options);
  return undefined;
}

/** A repeated firing of an alert that holds the Node by name: the hold kept fresh, now and then. */
function refreshHold(f: Firing): Decision | undefined {
  const { alert, node, name, state, now } = f;
  if (!f.holdsIt || !f.cordoned) return undefined;
  const hold = state.holds[alert.fingerprint];
  // At most a few writes per TTL, so that the hold does not expire.
  if (!(now.getTime() - seenAt(hold) > f.options.holdTtlMs / 4)) return duplicate(f);
  const holds = { ...state.holds, [alert.fingerprint]: { ...hold, seen: now.toISOString() } };
  return act("refresh", node, {
    message: `${describeAlert(alert)} still fires on ${name}; hold refreshed`,
    annotations: holdsAnnotations(state, holds, f.overflow),
  });
}

/** A repeated firing of an alert in the overflow: kept fresh as a hold is. */
function refreshOverflow(f: Firing): Decision | undefined {
  const { alert, node, name, state, now, overflow } = f;
  if (!f.inOverflow || !f.cordoned || !overflow) return undefined;
  if (!(now.getTime() - Date.parse(overflow.seen) > f.options.holdTtlMs / 4)) return duplicate(f);
  return act("refresh", node, {
    message: `${describeAlert(alert)} still fires on ${name}; overflow hold refreshed`,
    annotations: holdsAnnotations(state, state.holds, { ...overflow, seen: now.toISOString() }),
  });
}

function duplicate({ alert, name }: Firing): Decision {
  return skip("duplicate", name, {
    message: `${name} is already cordoned for ${describeAlert(alert)}`,
    withEvent: false,
  });
}

/** Someone uncordoned a Node this alert holds: respected until the alert resolves. */
function uncordonedByHand({ alert, name, holdsIt, inOverflow }: Firing): Decision | undefined {
  if (!holdsIt && !inOverflow) return undefined;
  return skip("manualUncordon", name, {
    message: `Skipped ${name} for ${
      describeAlert(alert)
    }: someone uncordoned it after node-heal cordoned it; respected until the alert resolves`,
    withEvent: true,
  });
}

/** A cordoned Node: held too if node-heal cordoned it (in the overflow when full), else left. */
function alreadyCordoned(f: Firing): Decision | undefined {
  const { alert, node, name, state, now, overflow, asked } = f;
  if (!f.cordoned) return undefined;
  if (!state.owned) {
    return skip("notOurs", name, {
      message: `Skipped ${name} for ${
        describeAlert(alert)
      }: already cordoned, not by node-heal; left as it is`,
      withEvent: true,
    });
  }
  if (Object.keys(state.holds).length >= MAX_HOLDS) {
    const { holdTtlMs } = f.options;
    const held = overflowHold(node, alert, { now, overflow, holdTtlMs, drainAsked: asked });
    return escalating(held, f.escalation, asked);
  }
  const hold = act("hold", node, {
    message: `${name} is already cordoned by node-heal; ${describeAlert(alert)} now holds it too`,
    annotations: { ...holdsAnnotations(state, withHold(f), overflow), ...asked },
  });
  return escalating(hold, f.escalation, asked);
}

/** The safety gates of a take-out (gates.ts): the first that says no names the skip. */
function takeOutGates(f: Firing): Decision | undefined {
  const { node, options } = f;
  const blocked = checkTakeOut(node, {
    ...(options.tally ? { tally: options.tally } : { nodes: options.nodes ?? [node] }),
    gates: f.policy.gates,
    now: f.now,
    paused: options.paused ?? false,
  });
  return blocked && gated(f, blocked);
}

/** The Node is cordoned for the alert, which holds it, and asks for what its rule goes on to. */
function cordon(f: Firing): Decision {
  const { alert, node, name, state, now, ladder } = f;
  const message = `Cordoned ${name} for ${describeAlert(alert)}`;
  const recurred = recurrence(node, alertName(alert), { now, bounds: f.options.outcomeBounds });
  const request = ladder ? ladderRequest(f.rule, ladder, { now }) : {};
  const made = act("cordon", node, {
    message,
    annotations: {
      [ANNOTATIONS.cordonedBy]: OWNER,
      [ANNOTATIONS.cordonedAt]: now.toISOString(),
      [HISTORY.remediatedAt]: withRemediation(node, now),
      [ANNOTATIONS.step]: "cordoned",
      ...holdsAnnotations(state, withHold(f), f.overflow),
      ...request,
      ...recurred?.annotations,
    },
    spec: { unschedulable: true },
    event: { reason: "NodeHealCordoned", type: "Normal", message },
    outcome: recurred?.record,
  });
  return escalating(made, f.escalation, request);
}

/** The Node's holds with this alert's added. */
function withHold({ alert, state, now }: Firing): Record<string, Hold> {
  const at = now.toISOString();
  return {
    ...state.holds,
    [alert.fingerprint]: { alertname: alertName(alert), since: at, seen: at },
  };
}

/** A skip because a gate keeps the Node where it is, told on the Node as a NodeHealSkipped Event. */
function gated(
  { alert, name }: Firing,
  block: { gate: Gate; message: string; qualifier?: string },
): Decision {
  const { gate } = block;
  return skip(gate, name, {
    message: `Skipped ${name} for ${describeAlert(alert)}: ${block.message} ${gateClause(block)}`,
    withEvent: true,
  });
}
