import { ApiError } from "../store/errors.ts";
import { type LabelSelectorObject, selectorMatches } from "../store/selectors.ts";
import { type KubeObject, pathValue } from "../store/objects.ts";
import { rfc3339 } from "../store/times.ts";

/** Whether a pod counts as healthy for a disruption budget: running, Ready, not being deleted. */
export function podHealthy(pod: KubeObject): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  if (pathValue(pod, "status.phase") !== "Running") return false;
  const conditions = pathValue(pod, "status.conditions");
  return Array.isArray(conditions) &&
    conditions.some((c) => c?.type === "Ready" && c?.status === "True");
}

function scaled(value: unknown, total: number): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.endsWith("%")) {
    return Math.ceil((Number(value.slice(0, -1)) * total) / 100);
  }
  return Number(value ?? 0);
}

/** The status the disruption controller would give `budget` for the pods of its namespace. */
export function budgetStatus(
  budget: KubeObject,
  pods: KubeObject[],
  options: { now: number },
): Record<string, unknown> {
  const selector = pathValue(budget, "spec.selector") as LabelSelectorObject | undefined;
  const matching = pods.filter((p) =>
    pathValue(p, "status.phase") !== "Succeeded" && pathValue(p, "status.phase") !== "Failed" &&
    selectorMatches(selector, p.metadata?.labels)
  );
  const expectedPods = matching.length;
  const currentHealthy = matching.filter(podHealthy).length;
  const minAvailable = pathValue(budget, "spec.minAvailable");
  const maxUnavailable = pathValue(budget, "spec.maxUnavailable");
  const desiredHealthy = maxUnavailable !== undefined
    ? Math.max(0, expectedPods - scaled(maxUnavailable, expectedPods))
    : minAvailable !== undefined
    ? scaled(minAvailable, expectedPods)
    : 0;
  const disruptionsAllowed = Math.max(0, currentHealthy - desiredHealthy);
  const previous = pathValue(budget, "status.conditions") as
    | { lastTransitionTime?: string }[]
    | undefined;
  const allowed = disruptionsAllowed > 0 ? "True" : "False";
  const before = (previous ?? []).find((c) =>
    (c as { type?: string }).type === "DisruptionAllowed"
  ) as
    | { status?: string; lastTransitionTime?: string }
    | undefined;
  return {
    observedGeneration: budget.metadata?.generation ?? 1,
    disruptionsAllowed,
    currentHealthy,
    desiredHealthy,
    expectedPods,
    conditions: [{
      type: "DisruptionAllowed",
      status: allowed,
      reason: disruptionsAllowed > 0 ? "SufficientPods" : "InsufficientPods",
      message: "",
      observedGeneration: budget.metadata?.generation ?? 1,
      lastTransitionTime: before?.status === allowed && before.lastTransitionTime
        ? before.lastTransitionTime
        : rfc3339(options.now),
    }],
  };
}

/** The budgets whose status changes given the current pods, with their new status. */
export function refreshDisruptionBudgets(
  budgets: KubeObject[],
  pods: KubeObject[],
  options: { now: number },
): KubeObject[] {
  const changed: KubeObject[] = [];
  for (const budget of budgets) {
    const status = budgetStatus(budget, pods, options);
    if (JSON.stringify(status) !== JSON.stringify(budget.status)) {
      changed.push({ ...budget, status });
    }
  }
  return changed;
}

/**
 * Decides an eviction as the real eviction subresource does: undefined when the pod may go,
 * otherwise the error to answer (429 when a budget forbids it, 500 for more than one budget).
 */
export function tryEvict(pod: KubeObject, budgets: KubeObject[]): ApiError | undefined {
  // The real server's canIgnorePDB: pods that are done, not yet running, or already going.
  const phase = pathValue(pod, "status.phase");
  if (phase === "Succeeded" || phase === "Failed" || phase === "Pending") return undefined;
  if (pod.metadata?.deletionTimestamp) return undefined;
  const covering = budgets.filter((b) =>
    selectorMatches(pathValue(b, "spec.selector") as LabelSelectorObject, pod.metadata?.labels)
  );
  if (covering.length === 0) return undefined;
  if (covering.length > 1) {
    return new ApiError(
      "Internal error occurred: This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
      { code: 500, reason: "InternalError" },
    );
  }
  const budget = covering[0];
  const status = (budget.status ?? {}) as {
    disruptionsAllowed?: number;
    currentHealthy?: number;
    desiredHealthy?: number;
  };
  const healthy = podHealthy(pod);
  const alwaysAllow = pathValue(budget, "spec.unhealthyPodEvictionPolicy") === "AlwaysAllow";
  if (!healthy && (alwaysAllow || (status.currentHealthy ?? 0) >= (status.desiredHealthy ?? 0))) {
    return undefined;
  }
  if ((status.disruptionsAllowed ?? 0) > 0) return undefined;
  return new ApiError("Cannot evict pod as it would violate the pod's disruption budget.", {
    code: 429,
    reason: "TooManyRequests",
    details: {
      causes: [{
        reason: "DisruptionBudget",
        message: `The disruption budget ${budget.metadata?.name} needs ${
          status.desiredHealthy ?? 0
        } healthy pods and has ${status.currentHealthy ?? 0} currently`,
      }],
    },
  });
}
