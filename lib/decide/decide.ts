import type { Alert } from "../intake/alertmanager.ts";
import type { Node } from "../base/node.ts";
import type { Action, DecideOptions, Decision } from "./decision.ts";
import { alertOnNode } from "./alert_on_node.ts";
import { decideFiring } from "./firing.ts";
import { decideResolved } from "./resolved.ts";

export type {
  Action,
  DecideOptions,
  Decision,
  EventIntent,
  Gate,
  NodePatch,
  SkipCause,
  SkipReason,
} from "./decision.ts";
export { DEFAULT_HOLD_TTL_MS } from "./decision.ts";
export { DRAIN_HEARTBEAT_TTL_MS, drainProgress, endDrain } from "./drain_step.ts";
export type { DrainEnd, DrainProgress } from "./drain_step.ts";
export { reconcile } from "./reconcile.ts";

/** The writes {@link decide} makes for an alert (the actions of `nodeheal_alerts_total{outcome}`). */
export const DECIDE_ACTIONS = [
  "cordon",
  "uncordon",
  "hold",
  "refresh",
  "release",
  "forget",
  "drain",
  "drain-halt",
  "replace",
] as const satisfies readonly Action[];

/**
 * Decides what one alert means for one Node. Pure: the same inputs give the same decision,
 * and every skip names the gate that blocked it. A firing alert and a resolved one each go
 * through their named steps (firing.ts, resolved.ts).
 */
export function decide(alert: Alert, node: Node, options: DecideOptions): Decision {
  const c = alertOnNode(alert, node, options);
  return alert.status === "resolved" ? decideResolved(c) : decideFiring(c);
}
