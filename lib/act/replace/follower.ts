// One replacement followed to its end: its provider asked (only if the Node is still node-heal's
// to replace), its operation recorded, then the Nodes watched until a successor is Ready or the
// deadline passes. A replacement that failed after its provider was asked stays followed,
// unsettled, until a successor comes: the provider may still be taking the machine away. The
// record may have been written by anyone (the ledger is a ConfigMap): a provider is asked only
// while the Node is the one recorded (its uid and providerID), and a successor must be newer than
// the record's start and than this replica's first look at it less the rule's timeout.
import { isReady, type Node } from "../../base/node.ts";
import { readState } from "../../decide/node_state.ts";
import type { Policy } from "../../decide/policy.ts";
import { DEFAULT_REPLACE_TIMEOUT_MS } from "../../decide/replace_policy.ts";
import { earliestSuccessor, type Replacement, successorOf } from "../../decide/replacements.ts";
import { protection } from "../../decide/protection.ts";
import type { NodeIndex } from "../../resolve/node_index.ts";
import { sleep } from "../../base/timing.ts";
import { errorText } from "../../base/background.ts";
import { log } from "../../base/log.ts";
import type { KubeClient } from "../kube/types.ts";
import {
  type Progress,
  type ReplaceProvider,
  ReplaceRefused,
  type ReplaceTarget,
  type UntrustedSink,
} from "./provider.ts";

/** What a follower works with. */
export interface FollowerDeps {
  client: KubeClient;
  index: NodeIndex;
  /** The policy in force (it may be reloaded while a replacement runs). */
  policy: () => Policy;
  /** The replacement's provider in force, if its rule still has one. */
  provider: () => ReplaceProvider | undefined;
  /** Whether a pause is in force: a provider not yet asked is not asked while it lasts. */
  paused: () => boolean;
  now: () => Date;
  pollMs: number;
  /** The Nodes that already took another replacement's place. */
  taken: (r: Replacement) => ReadonlySet<string>;
  /** Writes a change of the record to the ledger; resolves with the record as stored. */
  record: (r: Replacement, change: Partial<Replacement>) => Promise<Replacement>;
  /** Told once the provider accepted, and once the replacement ended (or settled). */
  told: (kind: "requested" | "replaced" | "failed", r: Replacement) => void | Promise<void>;
  /** Told of the NodeClaims and Machines a provider would not trust. */
  untrusted?: UntrustedSink;
}

/** What one follow of a replacement fixes when it begins. */
interface Followed {
  /** The earliest creation time (ms) of a successor: see `earliestSuccessor`. */
  since: number;
}

/** An unsettled replacement is looked at this many times less often than one in flight. */
const UNSETTLED_SLOWER = 5;

/** Follows replacement `start` until it ends (or settles), or `signal` aborts. Never throws. */
export async function follow(
  start: Replacement,
  deps: FollowerDeps,
  signal: AbortSignal,
): Promise<void> {
  let r = start;
  const timeoutMs = replaceTimeout(start, deps.policy());
  const followed = {
    since: earliestSuccessor(start, { followedAt: deps.now().getTime(), timeoutMs }),
  };
  while (!signal.aborted) {
    try {
      const next = await step(r, deps, followed);
      if (next === "done") return;
      r = next;
    } catch (err) {
      // The ledger or the API cannot be written now: the next look tries again.
      log("act").warn("Cannot follow the replacement of {node} now, trying again: {error}", {
        node: r.node,
        error: errorText(err),
      });
    }
    await sleep(deps.pollMs * (r.phase === "failed" ? UNSETTLED_SLOWER : 1), signal);
  }
}

/** One look at a replacement: its record as it is now, or `done` when nothing more follows. */
async function step(
  r: Replacement,
  deps: FollowerDeps,
  followed: Followed,
): Promise<Replacement | "done"> {
  const { now } = deps;
  const provider = deps.provider();
  const deadline = effectiveDeadline(r, deps.policy());
  const late = now().getTime() > deadline;
  if (r.phase === "failed") return await settle(r, deps, followed);
  if (r.phase !== "starting" && r.phase !== "requested") return "done";
  if (!provider) {
    return await end(r, deps, "failed", {
      message:
        `no provider for rule "${r.rule}" in the policy in force; ${r.node} was not replaced`,
    });
  }
  if (r.phase === "starting") {
    if (late) {
      return await end(r, deps, "failed", {
        message: `its provider was not asked before the deadline ${
          new Date(deadline).toISOString()
        }`,
      });
    }
    // Decided again now: a replacement recorded before a pause waits for its end (or its
    // deadline) before its provider is asked.
    if (deps.paused()) return r;
    const why = await notOurs(r, deps);
    if (why === "gone") {
      // Asked before a restart (the Node went with it), or never ours: not asked again; the
      // successor, if one comes, ends it.
      r = await deps.record(r, {
        phase: "requested",
        message: `${r.node} was gone when this replica resumed its replacement; not asked again`,
      });
      return r;
    }
    if (why) return await end(r, deps, "failed", { message: `not asked: ${why}` });
    try {
      const op = await provider.start(targetOf(r), { untrusted: deps.untrusted });
      r = await deps.record(r, { phase: "requested", operation: op.id, message: op.message });
      await deps.told("requested", r);
    } catch (err) {
      if (!(err instanceof ReplaceRefused)) throw err;
      return await end(r, deps, "failed", { message: `${r.provider} refused: ${err.message}` });
    }
    return r;
  }
  const progress = await progressOf(provider, r);
  if (progress?.state === "failed") {
    return await end(r, deps, "failed", {
      message: `${r.provider} failed: ${progress.message}`,
      unsettled: true,
    });
  }
  const successor = successorFor(r, deps, followed, { progress, inPlace: provider.inPlace });
  if (successor) return await end(r, deps, "replaced", { successor: successor.metadata.name });
  if (!late) return r;
  const gone = !deps.index.get(r.node) || deps.index.get(r.node)!.metadata.uid !== r.uid;
  return await end(r, deps, "failed", {
    message: `not replaced within ${
      Math.round((deadline - Date.parse(r.startedAt)) / 1000)
    }s (${r.provider}, ${r.operation ?? "no operation"}): ${
      gone
        ? "the node is gone and no successor became Ready; its place in maxReplacing and minHealthy stays taken until one does"
        : "the node still exists; it stays cordoned"
    }`,
    unsettled: true,
  });
}

/** A failed replacement whose provider may still act: ended for good once a successor comes. */
async function settle(
  r: Replacement,
  deps: FollowerDeps,
  followed: Followed,
): Promise<Replacement | "done"> {
  if (!r.unsettled) return "done";
  const old = deps.index.get(r.node);
  if (
    old && old.metadata.uid === r.uid && !["replacing", "replace-failed"].includes(
      readState(old).step ?? "",
    )
  ) {
    // A person took the Node back (uncordoned or cleared it): nothing more to wait for.
    await deps.record(r, { unsettled: false });
    return "done";
  }
  const successor = successorFor(r, deps, followed, { inPlace: deps.provider()?.inPlace });
  if (!successor) return r;
  return await end(r, deps, "replaced", {
    successor: successor.metadata.name,
    unsettled: false,
    message: `replaced after all, late: ${r.message ?? ""}`,
  });
}

/**
 * Why a replacement whose provider was not asked yet may not be asked now: the Node must still be
 * node-heal's, marked `replacing`, the same object (its uid) on the same machine (its
 * providerID) as recorded, and not protected. A record nobody marked (written by hand, or one
 * whose Node mark never landed) asks nothing. `gone` when the Node is.
 */
async function notOurs(r: Replacement, deps: FollowerDeps): Promise<string | undefined> {
  const node = await deps.client.getNode(r.node);
  if (!node || (r.uid && node.metadata.uid !== r.uid)) return "gone";
  if (!r.uid) return `the record names no uid of ${r.node}, so which Node it meant cannot be told`;
  const providerID = node.spec?.providerID;
  if (providerID !== r.providerID) {
    return `${r.node}'s providerID is ${providerID ?? "unset"} now, not ${
      r.providerID ?? "unset"
    } as when its replacement was decided`;
  }
  const shield = protection(node, deps.policy().gates);
  if (shield) return shield.message;
  const state = readState(node);
  if (!state.owned || state.step !== "replacing") {
    return `${r.node} is not marked replacing by node-heal (step ${state.step ?? "none"})`;
  }
  return undefined;
}

/**
 * The deadline of a replacement: its record's, but never later than its rule's timeout allows
 * (a record edited by hand does not hold a place longer than the policy says).
 */
function effectiveDeadline(r: Replacement, policy: Policy): number {
  const timeout = ruleTimeout(r, policy);
  const recorded = Date.parse(r.deadline);
  return timeout === undefined ? recorded : Math.min(recorded, Date.parse(r.startedAt) + timeout);
}

/** The timeout of the rule `r` names, if the policy in force still has it. */
function ruleTimeout(r: Replacement, policy: Policy): number | undefined {
  return policy.rules.find((rule) => rule.name === r.rule)?.replace?.timeoutMs;
}

/** The timeout a replacement is held to: its rule's, or the default when the rule is gone. */
function replaceTimeout(r: Replacement, policy: Policy): number {
  return ruleTimeout(r, policy) ?? DEFAULT_REPLACE_TIMEOUT_MS;
}

/** Where the provider's operation stands; undefined when it does not say. */
async function progressOf(
  provider: ReplaceProvider,
  r: Replacement,
): Promise<Progress | undefined> {
  if (!provider.progress || !r.operation) return undefined;
  try {
    return await provider.progress(targetOf(r), r.operation);
  } catch (err) {
    log("act").warn("Cannot read the progress of {operation} ({node}): {error}", {
      operation: r.operation,
      node: r.node,
      error: errorText(err),
    });
    return { state: "running" };
  }
}

/**
 * The Node that took `r`'s place, once the old Node is gone: a new Ready Node of its pool, not
 * one that took another's place, newer than `followed.since`. For a provider that rebuilds the
 * machine under the same Node object (`inPlace`, a GCP recreate) and says it is done, that Node,
 * Ready again. For any other, the old Node still there (an instance terminated, its Node not yet
 * deleted) is no successor, nor a Node on its machine (its providerID).
 */
function successorFor(
  r: Replacement,
  deps: FollowerDeps,
  followed: Followed,
  provider: { progress?: Progress; inPlace?: boolean },
): Node | undefined {
  const { progress } = provider;
  const inPlace = provider.inPlace === true;
  if (progress?.state === "running") return undefined;
  const { index } = deps;
  const { gates } = deps.policy();
  const old = index.get(r.node);
  if (old && old.metadata.uid === r.uid) {
    if (!inPlace || progress?.state !== "done") return undefined;
    return isReady(old) && !protection(old, gates) ? old : undefined;
  }
  return successorOf(r, index.nodes(), {
    gates,
    taken: deps.taken(r),
    since: followed.since,
    samePlace: inPlace,
  });
}

async function end(
  r: Replacement,
  deps: FollowerDeps,
  phase: "replaced" | "failed",
  detail: { message?: string; successor?: string; unsettled?: boolean },
): Promise<Replacement | "done"> {
  const ended = await deps.record(r, { phase, endedAt: deps.now().toISOString(), ...detail });
  await deps.told(phase, ended);
  // A failure whose provider may still act goes on being followed, unsettled.
  return ended.phase === "failed" && ended.unsettled ? ended : "done";
}

/** What a provider is told of a replacement's Node. */
export function targetOf(r: Replacement): ReplaceTarget {
  return {
    node: r.node,
    ...(r.uid ? { uid: r.uid } : {}),
    ...(r.providerID ? { providerID: r.providerID } : {}),
    labels: r.pool ? { [r.pool.label]: r.pool.value } : {},
    annotations: r.annotations ?? {},
  };
}
