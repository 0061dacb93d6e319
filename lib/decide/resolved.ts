// A resolved alert, decided in named steps: the first that decides wins. Each step drops the
// alert's hold; the Node is uncordoned only when nothing else keeps it out.
import {
  clearedAnnotations,
  describeHolders,
  HISTORY,
  type Hold,
  holdCount,
  holdsAlert,
  holdsAnnotations,
  type Overflow,
  withResolution,
} from "./node_state.ts";
import { act, alertName, type Decision, describeAlert, skip } from "./decision.ts";
import { endEpisode } from "./outcomes.ts";
import { DRAIN_STEPS } from "./drain_step.ts";
import { type AlertOnNode, firstStep, type Step } from "./alert_on_node.ts";

/** A resolved alert on a Node it holds: the holds left without it, and the resolution to record. */
interface Resolving extends AlertOnNode {
  rest: Record<string, Hold>;
  restOverflow: Overflow | undefined;
  resolution: Record<string, string>;
}

/** Decides a resolved alert: what it held is let go, and the Node uncordoned if nothing else holds it. */
export function decideResolved(c: AlertOnNode): Decision {
  if (!holdsAlert(c.state, c.alert.fingerprint)) return holdsNothing(c);
  const r = resolving(c);
  return firstStep(RESOLVED_STEPS, r) ?? uncordoned(r);
}

/** The steps of a resolved alert that holds the Node, in order; {@link uncordoned} if none decides. */
const RESOLVED_STEPS: readonly Step<Resolving>[] = [stillHeld, noLongerOurs, keptOut];

function resolving(c: AlertOnNode): Resolving {
  const { alert, state, overflow } = c;
  const rest: Record<string, Hold> = { ...state.holds };
  delete rest[alert.fingerprint];
  const restOverflow = overflow && {
    ...overflow,
    fingerprints: overflow.fingerprints.filter((f) => f !== alert.fingerprint),
  };
  // A firing of this same alert delivered late must not take the Node out again.
  const resolution: Record<string, string> = alert.startsAt
    ? {
      [HISTORY.resolved]: withResolution(state, {
        fingerprint: alert.fingerprint,
        startsAt: alert.startsAt,
        now: c.now,
      }),
    }
    : {};
  return { ...c, rest, restOverflow, resolution };
}

/** The alert holds nothing here: someone else's cordon stays (told), else nothing to undo. */
function holdsNothing({ alert, name, cordoned, state }: AlertOnNode): Decision {
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

/** Other alerts still hold the Node: only this one's hold goes. */
function stillHeld(c: Resolving): Decision | undefined {
  const { state, rest, restOverflow } = c;
  if (holdCount({ ...state, holds: rest, overflow: restOverflow }) === 0) return undefined;
  return release(c, `still held by ${describeHolders(rest, restOverflow)}`);
}

/** The Node is no longer cordoned by node-heal: its state is forgotten, the Node left as it is. */
function noLongerOurs({ alert, node, name, state, cordoned, resolution }: Resolving) {
  if (state.owned && cordoned) return undefined;
  return act("forget", node, {
    message: `Forgot ${
      describeAlert(alert)
    } on ${name}: the node is no longer cordoned by node-heal`,
    annotations: { ...clearedAnnotations(), ...resolution },
  });
}

/** Left cordoned: a replacement under way, or a drained node its rule keeps out. */
function keptOut(c: Resolving): Decision | undefined {
  const because = whyKeptOut(c);
  return because === undefined ? undefined : release(c, because);
}

function whyKeptOut({ state, policy }: AlertOnNode): string | undefined {
  if (state.step === "replacing") return "its replacement is under way";
  const drained = DRAIN_STEPS.has(state.step ?? "") && state.step !== "draining";
  const rule = policy.rules.find((r) => r.name === state.rule);
  if (drained && rule && !rule.uncordonAfterDrain) {
    return `it was drained and rule "${rule.name}" says uncordonAfterDrain: false`;
  }
  return undefined;
}

/** The alert's hold goes, the Node stays cordoned `because`, told on the Node. */
function release(c: Resolving, because: string): Decision {
  const { alert, node, name, state, rest, restOverflow, resolution } = c;
  const message = `Kept ${name} cordoned after ${describeAlert(alert)} resolved: ${because}`;
  return act("release", node, {
    message,
    annotations: { ...holdsAnnotations(state, rest, restOverflow), ...resolution },
    event: { reason: "NodeHealSkipped", type: "Normal", message },
  });
}

/** Nothing else keeps the Node out: it is uncordoned and node-heal's state cleared. */
function uncordoned({ alert, node, name, state, now, resolution }: Resolving): Decision {
  const message = `Uncordoned ${name}: ${describeAlert(alert)} resolved${
    state.step === "draining" ? " (its drain was stopped)" : ""
  }`;
  const ended = endEpisode(node, "recovered", { now, alert: alertName(alert) });
  return act("uncordon", node, {
    message,
    annotations: {
      ...clearedAnnotations(),
      [HISTORY.releasedAt]: now.toISOString(),
      ...resolution,
      ...ended?.annotations,
    },
    spec: { unschedulable: null },
    event: { reason: "NodeHealUncordoned", type: "Normal", message },
    outcome: ended?.record,
  });
}
