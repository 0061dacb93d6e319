import type { Alert } from "../intake/alertmanager.ts";
import type { Node } from "../base/node.ts";
import {
  type Hold,
  holdsAnnotations,
  MAX_HOLDS,
  MAX_OVERFLOW,
  type NodeState,
  type Overflow,
  readState,
} from "./node_state.ts";

import { act, type Decision, describeAlert, skip } from "./decision.ts";

/** The overflow, unless no alert of it was seen firing for the hold TTL. */
export function liveOverflow(state: NodeState, now: Date, ttlMs: number): Overflow | undefined {
  const o = state.overflow;
  return o && now.getTime() - Date.parse(o.seen) <= ttlMs ? o : undefined;
}

/** When a hold's alert was last seen firing (ms). */
export function seenAt(hold: Hold): number {
  return Date.parse(hold.seen ?? hold.since);
}

/**
 * A firing alert on a Node already held by {@link MAX_HOLDS} named alerts: listed in the
 * overflow by fingerprint while there is room, else the overflow is marked `unlisted` so the
 * Node stays held until none of those alerts has fired for the hold TTL. Never under-counts.
 */
export function overflowHold(
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
    return act("hold", node, {
      message: `${name} is already cordoned by node-heal; ${
        describeAlert(alert)
      } now holds it too (listed by fingerprint: ${MAX_HOLDS} alerts are named already)`,
      annotations: { ...holdsAnnotations(state, state.holds, overflow), ...drainAsked },
    });
  }
  if (o.unlisted && now.getTime() - Date.parse(o.seen) <= holdTtlMs / 4) {
    return skip("holdLimit", name, {
      message: `${name} is held by more alerts than node-heal lists; ${
        describeAlert(alert)
      } is one more, and the node stays cordoned until none of them fired for the hold TTL`,
      withEvent: false,
    });
  }
  const message = `${name} is held by more alerts than node-heal lists (${
    MAX_HOLDS + MAX_OVERFLOW
  }); ${
    describeAlert(alert)
  } is not listed, so the node stays cordoned until none of the unlisted alerts fired for the hold TTL`;
  return act("hold", node, {
    message,
    annotations: {
      ...holdsAnnotations(state, state.holds, { ...o, seen: at, unlisted: true }),
      ...drainAsked,
    },
  });
}
