// Pods: graceful deletion, evictions that honour PodDisruptionBudgets, and the budgets' status kept
// current as pods come and go.

import { type Call, getObject, type ServerContext } from "./context.ts";
import { badRequest, conflict } from "../store/errors.ts";
import { refreshDisruptionBudgets, tryEvict } from "./disruption.ts";
import { type KubeObject, meta } from "../store/objects.ts";
import { type Change, objectKey, type Store } from "../store/store.ts";
import { rfc3339 } from "../store/times.ts";
import { json } from "./wire.ts";

/**
 * Deletes a pod as kubelet would confirm it: at once, or, when the server's `podGraceScale`
 * is set, after its grace period (the request's, else the pod's
 * `terminationGracePeriodSeconds`) times that scale, showing as Terminating meanwhile.
 */
export function deletePod(ctx: ServerContext, pod: KubeObject, graceOverride?: number): KubeObject {
  const key = objectKey(meta(pod).namespace, meta(pod).name!);
  const grace = graceOverride ??
    Number(
      (pod.spec as { terminationGracePeriodSeconds?: number })?.terminationGracePeriodSeconds ??
        30,
    );
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (ctx.podGraceScale <= 0 || grace <= 0 || phase === "Succeeded" || phase === "Failed") {
    return ctx.store.remove("/pods", key)!;
  }
  if (meta(pod).deletionTimestamp) return pod;
  const terminating = ctx.store.put("/pods", key, {
    ...pod,
    metadata: {
      ...meta(pod),
      deletionTimestamp: rfc3339(ctx.now() + grace * 1000),
      deletionGracePeriodSeconds: grace,
    },
  });
  const uid = meta(pod).uid;
  ctx.timers.schedule(() => {
    if (meta(ctx.store.get("/pods", key) ?? {}).uid === uid) ctx.store.remove("/pods", key);
  }, grace * 1000 * ctx.podGraceScale);
  return terminating;
}

/** Serves a POST of an Eviction: 429 when a budget forbids it, else the pod is deleted. */
export function evict(ctx: ServerContext, call: Call, eviction: KubeObject): Response {
  const { route, dryRun } = call;
  const name = meta(eviction).name ?? "";
  if (name !== route.name) {
    throw badRequest(`name in URL does not match name in Eviction object`);
  }
  const pod = getObject(ctx, route);
  const verdict = tryEvict(pod, ctx.store.list("policy/poddisruptionbudgets", route.namespace));
  if (verdict) throw verdict;
  if (!dryRun) {
    const opts = (eviction.deleteOptions ?? {}) as { preconditions?: { uid?: string } };
    if (opts.preconditions?.uid && opts.preconditions.uid !== meta(pod).uid) {
      throw conflict({
        resource: "pods",
        group: "",
        name: route.name,
        why: "Precondition failed: UID mismatch",
      });
    }
    const grace = (eviction.deleteOptions as { gracePeriodSeconds?: number } | undefined)
      ?.gracePeriodSeconds;
    deletePod(ctx, pod, grace);
  }
  return json({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    code: 201,
  }, 201);
}

/**
 * Keeps the status of PodDisruptionBudgets current, as the disruption controller does: after a
 * change of pods or budgets has reached every watcher, once per namespace however many changed.
 */
export function keepBudgetsCurrent(store: Store, clock: { now: () => number }): void {
  const pending = new Set<string>();
  const schedule = (change: Change) => {
    const namespace = meta(change.object).namespace ?? "";
    if (pending.has(namespace)) return;
    pending.add(namespace);
    queueMicrotask(() => {
      pending.delete(namespace);
      refreshBudgets(store, { namespace, now: clock.now() });
    });
  };
  store.listen("/pods", schedule);
  store.listen("policy/poddisruptionbudgets", (change) => {
    if (change.type !== "DELETED") schedule(change);
  });
}

function refreshBudgets(store: Store, options: { namespace: string; now: number }): void {
  const { namespace, now } = options;
  const budgets = store.list("policy/poddisruptionbudgets", namespace);
  if (budgets.length === 0) return;
  const pods = store.list("/pods", namespace);
  for (const updated of refreshDisruptionBudgets(budgets, pods, { now })) {
    store.put(
      "policy/poddisruptionbudgets",
      objectKey(namespace, meta(updated).name!),
      updated,
    );
  }
}
