// Which of node-heal's decisions and ends people are told of, and as what kind: a cordon, a
// drain's start and end, a replacement's start and end, a release, and a gate keeping a node
// from its next step.
import type { Decision } from "../../decide/decision.ts";
import { ANNOTATIONS } from "../../decide/node_state.ts";
import type { Replacement } from "../../decide/replacements.ts";
import type { Alert } from "../../intake/alertmanager.ts";
import { alertName } from "../../decide/decision.ts";
import { GATES } from "../../decide/gates.ts";
import type { Happening } from "./notifier.ts";
import type { NotifyKind } from "./types.ts";

/** The kind of a written decision people are told of; other writes (holds, refreshes) tell none. */
const WRITTEN: Partial<Record<string, NotifyKind>> = {
  cordon: "cordoned",
  drain: "drainStarted",
  replace: "replaceStarted",
  uncordon: "released",
};

/**
 * The gates that keep a node from a step it was due for: told as `blocked`. Skip reasons (a
 * duplicate, a policy with nothing to do, a node someone else cordoned) are no remediation blocked.
 */
const BLOCKING: ReadonlySet<string> = new Set(GATES);

/** What a decision (written or skipped) is worth telling, if anything. */
export function fromDecision(
  decision: Decision,
  options: { alert?: Alert; at: Date },
): Happening | undefined {
  const alert = options.alert && alertOf(options.alert);
  if (decision.kind === "skip") {
    if (!BLOCKING.has(decision.gate)) return undefined;
    return {
      kind: "blocked",
      node: decision.node,
      message: decision.message,
      gate: decision.gate,
      ...(alert ? { alert } : {}),
      at: options.at,
    };
  }
  if (decision.action === "drain-halt") {
    // A drain the policy in force stopped: the node is kept from its next step.
    return {
      kind: "blocked",
      node: decision.node,
      message: decision.message,
      ...(decision.gate ? { gate: decision.gate } : {}),
      ...(alert ? { alert } : {}),
      at: options.at,
    };
  }
  const kind = WRITTEN[decision.action];
  if (!kind) return undefined;
  const step = decision.patch.metadata.annotations?.[ANNOTATIONS.step];
  return {
    kind,
    node: decision.node,
    message: decision.message,
    ...(step ? { step } : {}),
    ...(alert ? { alert } : {}),
    ...(decision.cordonedAt ? { cordonedAt: decision.cordonedAt } : {}),
    at: options.at,
  };
}

/** A drain's end. */
export function fromDrainEnd(
  node: string,
  end: { drained: boolean; message: string; cordonedAt?: string; at: Date },
): Happening {
  return {
    kind: end.drained ? "drained" : "drainFailed",
    node,
    message: end.message,
    step: end.drained ? "drained" : "drain-failed",
    ...(end.cordonedAt ? { cordonedAt: end.cordonedAt } : {}),
    at: end.at,
  };
}

/** A replacement's end. */
export function fromReplacement(
  r: Replacement,
  replaced: boolean,
  message: string,
): Happening {
  return {
    kind: replaced ? "replaced" : "replaceFailed",
    node: r.node,
    message,
    step: replaced ? "replaced" : "replace-failed",
    ...(r.cordonedAt ? { cordonedAt: r.cordonedAt } : {}),
    at: new Date(r.endedAt!),
  };
}

function alertOf(alert: Alert): Happening["alert"] {
  return {
    name: alertName(alert),
    fingerprint: alert.fingerprint,
    labels: alert.labels,
    ...(alert.annotations.summary ? { summary: alert.annotations.summary } : {}),
    ...(alert.generatorURL ? { generatorURL: alert.generatorURL } : {}),
    ...(alert.annotations.runbook_url ? { runbookURL: alert.annotations.runbook_url } : {}),
  };
}
