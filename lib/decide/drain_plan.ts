import { type Pod, podKey } from "../base/pod.ts";

/** How a drain treats the pods `kubectl drain` treats specially; the defaults are kubectl's with --ignore-daemonsets --delete-emptydir-data. */
export interface DrainOptions {
  /** Evict pods with `emptyDir` volumes, losing that data (default true). */
  deleteEmptyDirData: boolean;
  /** Evict pods no controller will recreate (kubectl's --force; default false). */
  evictStandalone: boolean;
  /** Evict pods annotated `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"` (default false). */
  evictUnsafe: boolean;
  /** Grace period for evicted pods, overriding theirs (seconds; default: the pod's own). */
  gracePeriodSeconds?: number;
  /** How long the whole drain may take before it fails (ms; default 5 minutes). */
  timeoutMs: number;
}

/** The drain options of a rule that says nothing. */
export const DEFAULT_DRAIN: DrainOptions = {
  deleteEmptyDirData: true,
  evictStandalone: false,
  evictUnsafe: false,
  timeoutMs: 300_000,
};

/** What a drain does with each pod on the node. */
export interface DrainPlan {
  /** Pods to evict. */
  evict: Pod[];
  /** Pods left where they are, and why (DaemonSet, mirror, finished). */
  skip: { pod: string; why: string }[];
  /** Pods the options forbid evicting: any of them stops the whole drain, as in kubectl. */
  refuse: { pod: string; why: string }[];
}

const MIRROR = "kubernetes.io/config.mirror";
const SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict";

function controller(pod: Pod) {
  return pod.metadata.ownerReferences?.find((o) => o.controller);
}

/**
 * Sorts the pods of a node as `kubectl drain --ignore-daemonsets --delete-emptydir-data` does:
 * DaemonSet pods (whose DaemonSet exists) and mirror pods stay; pods with `emptyDir` volumes,
 * pods without a controller and pods marked not safe to evict are evicted only when the options
 * allow it, and otherwise refuse the whole drain. `daemonSets` holds `namespace/name` of the
 * DaemonSets that exist. Pure.
 */
export function planDrain(pods: Pod[], options: DrainOptions, daemonSets: Set<string>): DrainPlan {
  const plan: DrainPlan = { evict: [], skip: [], refuse: [] };
  for (const pod of pods) {
    const key = podKey(pod);
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") {
      plan.evict.push(pod);
      continue;
    }
    if (pod.metadata.annotations?.[MIRROR] !== undefined) {
      plan.skip.push({ pod: key, why: "mirror pod of a static pod" });
      continue;
    }
    const owner = controller(pod);
    if (owner?.kind === "DaemonSet") {
      if (daemonSets.has(`${pod.metadata.namespace}/${owner.name}`)) {
        plan.skip.push({ pod: key, why: `managed by DaemonSet ${owner.name}` });
      } else if (options.evictStandalone) {
        plan.evict.push(pod);
      } else {
        plan.refuse.push({ pod: key, why: `its DaemonSet ${owner.name} does not exist` });
      }
      continue;
    }
    const why: string[] = [];
    if (!owner && !options.evictStandalone) why.push("no controller would recreate it");
    if (pod.spec?.volumes?.some((v) => v.emptyDir !== undefined) && !options.deleteEmptyDirData) {
      why.push("it has emptyDir data");
    }
    if (pod.metadata.annotations?.[SAFE_TO_EVICT] === "false" && !options.evictUnsafe) {
      why.push(`it is annotated ${SAFE_TO_EVICT}=false`);
    }
    if (why.length > 0) plan.refuse.push({ pod: key, why: why.join(", ") });
    else plan.evict.push(pod);
  }
  return plan;
}
