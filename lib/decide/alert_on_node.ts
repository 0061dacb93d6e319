import type { Alert } from "../intake/alertmanager.ts";
import { isCordoned, type Node } from "../base/node.ts";
import { type NodeState, type Overflow, readState } from "./node_state.ts";
import { DEFAULT_POLICY, type Policy } from "./policy.ts";
import type { DecideOptions, Decision } from "./decision.ts";
import { liveOverflow } from "./holds.ts";

/** What every step of {@link decide} reads: one alert, one Node, and the Node's state as read. */
export interface AlertOnNode {
  alert: Alert;
  node: Node;
  options: DecideOptions;
  now: Date;
  name: string;
  state: NodeState;
  policy: Policy;
  cordoned: boolean;
  /** Whether the alert holds the Node by name. */
  holdsIt: boolean;
  /** The overflow hold, unless it expired. */
  overflow: Overflow | undefined;
  /** Whether the alert holds the Node through the overflow. */
  inOverflow: boolean;
}

/** Reads what the steps of a decision need, once. */
export function alertOnNode(alert: Alert, node: Node, options: DecideOptions): AlertOnNode {
  const { now } = options;
  const state = readState(node);
  const overflow = liveOverflow(state, now, options.holdTtlMs);
  return {
    alert,
    node,
    options,
    now,
    name: node.metadata.name,
    state,
    policy: options.policy ?? DEFAULT_POLICY,
    cordoned: isCordoned(node),
    holdsIt: Object.hasOwn(state.holds, alert.fingerprint),
    overflow,
    inOverflow: overflow?.fingerprints.includes(alert.fingerprint) ?? false,
  };
}

/** One named step of a decision: a decision, or undefined to let the next step decide. */
export type Step<C> = (c: C) => Decision | undefined;

/** The decision of the first step that makes one. */
export function firstStep<C>(steps: readonly Step<C>[], c: C): Decision | undefined {
  for (const step of steps) {
    const decided = step(c);
    if (decided) return decided;
  }
  return undefined;
}
