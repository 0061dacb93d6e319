import { isCordoned, type Node } from "../base/node.ts";
import {
  clearedAnnotations,
  describeHolders,
  HISTORY,
  holdCount,
  holdsAnnotations,
  readState,
} from "./node_state.ts";

import { act, type Action, type DecideOptions, type Decision } from "./decision.ts";
import { DRAIN_HEARTBEAT_TTL_MS, drainDue, startDrain } from "./drain_step.ts";
import { replaceDue, startReplace } from "./replace_step.ts";
import { liveOverflow, seenAt } from "./holds.ts";
import { formatDuration } from "../base/duration.ts";
import { endEpisode, stillFailing } from "./outcomes.ts";

/** The writes {@link reconcile} makes (the `outcome` label of `nodeheal_reconciles_total`, beside failures). */
export const RECONCILE_ACTIONS = [
  "disown",
  "drain",
  "drain-halt",
  "replace",
  "release",
  "uncordon",
  "forget",
  "record",
] as const satisfies readonly Action[];

/**
 * What node-heal should do about a Node outside any alert: give up its claim on a Node
 * someone uncordoned, and let go of holds whose alerts were not seen for the hold TTL (their
 * resolution was missed: a silence, an Alertmanager restart, a relabelled alert). Undefined
 * when there is nothing to do.
 */
export function reconcile(node: Node, options: DecideOptions): Decision | undefined {
  const { now } = options;
  const name = node.metadata.name;
  const state = readState(node);
  const cordoned = isCordoned(node);
  if (state.owned && !cordoned) {
    const message =
      `${name} was uncordoned by someone else after node-heal cordoned it; node-heal no longer owns its cordon`;
    return act("disown", node, {
      message,
      annotations: {
        ...clearedAnnotations(),
        ...holdsAnnotations(state, state.holds, state.overflow),
      },
      event: { reason: "NodeHealSkipped", type: "Normal", message },
    });
  }
  // A Node being replaced is the replacer's until its replacement ends.
  if (state.step === "replacing") return undefined;
  const expired = Object.entries(state.holds).filter(([, h]) =>
    !(now.getTime() - seenAt(h) <= options.holdTtlMs)
  );
  const overflow = liveOverflow(state, now, options.holdTtlMs);
  const overflowExpired = state.overflow !== undefined && overflow === undefined;
  const rest = Object.fromEntries(
    Object.entries(state.holds).filter(([fp]) => !expired.some(([e]) => e === fp)),
  );
  // A drain or a replacement goes on only while an alert still holds the Node: one due when every
  // hold has expired (a pause or a halt outlasted the hold TTL) lets the Node go instead.
  const held = holdCount({ ...state, holds: rest, overflow }) > 0;
  if (state.owned && cordoned && held) {
    if (drainDue(state, now)) return startDrain(node, now, options);
    if (replaceDue(state, now)) {
      const started = startReplace(node, now, options);
      if (started) return started;
    }
    if (state.step === "draining" && !options.drainingHere?.has(name)) {
      const beat = Date.parse(state.drainHeartbeat ?? "");
      const stale = Number.isNaN(beat) || now.getTime() - beat > DRAIN_HEARTBEAT_TTL_MS;
      // This replica's own drain from before a restart, or another's that stopped beating.
      if (stale || state.drainer === (options.instance ?? "node-heal")) {
        return startDrain(node, now, { ...options, resume: true });
      }
    }
  }
  if (expired.length === 0 && !overflowExpired) {
    return state.owned && cordoned && held ? recordStillFailing(node, options) : undefined;
  }
  const shown = expired.slice(0, 5).map(([fp, h]) => `${h.alertname} (fingerprint ${fp})`);
  const more = expired.length - shown.length +
    (overflowExpired ? holdCount({ ...state, holds: {} }) : 0);
  const names = [...shown, ...(more > 0 ? [`${more} more alerts`] : [])].join(", ");
  const why = `not seen firing for ${formatDuration(options.holdTtlMs)}, taken as resolved`;
  if (held) {
    const message = `Kept ${name} cordoned: ${names} ${why}; still held by ${
      describeHolders(rest, overflow)
    }`;
    return act("release", node, { message, annotations: holdsAnnotations(state, rest, overflow) });
  }
  if (state.owned && cordoned) {
    const message = `Uncordoned ${name}: ${names} ${why}`;
    const ended = endEpisode(node, "recovered", { now });
    return act("uncordon", node, {
      message,
      annotations: {
        ...clearedAnnotations(),
        [HISTORY.releasedAt]: now.toISOString(),
        ...ended?.annotations,
      },
      spec: { unschedulable: null },
      event: { reason: "NodeHealUncordoned", type: "Normal", message },
      outcome: ended?.record,
    });
  }
  return act("forget", node, {
    message: `Forgot ${names} on ${name}: ${why}`,
    annotations: clearedAnnotations(),
  });
}

/** A Node held past the bound is recorded `still-failing`, once per episode (outcomes.ts). */
function recordStillFailing(node: Node, options: DecideOptions): Decision | undefined {
  const found = stillFailing(node, { now: options.now, bounds: options.outcomeBounds });
  if (!found) return undefined;
  const { record } = found;
  return act("record", node, {
    message: `${node.metadata.name} is still failing: held by node-heal for ${
      formatDuration(record.seconds * 1000)
    } (since ${record.startedAt}, step ${record.step}, alert ${record.alert})`,
    annotations: found.annotations,
    outcome: record,
  });
}

/** Whether a Node needs a look outside any alert: node-heal's claim lost, or holds that may expire. */
export function needsReconcile(node: Node): boolean {
  const state = readState(node);
  return (state.owned && !isCordoned(node)) || holdCount(state) > 0;
}

/** How often every Node that needs it is looked at: a few times per hold TTL, at most a minute apart. */
export function sweepIntervalMs(holdTtlMs: number): number {
  return Math.min(Math.max(holdTtlMs / 8, 100), 60_000);
}
