// An eviction (policy/v1) as node-heal sends it, and what the API server's answer means for a
// drain: evicted, gone, or blocked by a PodDisruptionBudget with the budget's own words.
import { isFenced } from "../fence.ts";
import { toKubeError } from "./convert.ts";
import type { RawRequest } from "./raw.ts";

/** What evicting one pod came to. */
export type Evicted = { result: "evicted" | "gone" } | { result: "blocked"; message: string };

/** The request that evicts pod `namespace/name`, only that one (`uid`) when given. */
export function evictionRequest(
  namespace: string,
  name: string,
  options: { gracePeriodSeconds?: number; uid?: string; dryRun: boolean },
): RawRequest {
  const { gracePeriodSeconds, uid } = options;
  const deleteOptions = {
    ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
    ...(uid ? { preconditions: { uid } } : {}),
    ...(options.dryRun ? { dryRun: ["All"] } : {}),
  };
  return {
    method: "POST",
    path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${
      encodeURIComponent(name)
    }/eviction`,
    body: {
      apiVersion: "policy/v1",
      kind: "Eviction",
      metadata: { name, namespace },
      ...(Object.keys(deleteOptions).length > 0 ? { deleteOptions } : {}),
    },
  };
}

/**
 * What an eviction's failure `err` means: 429 is `blocked` (a budget forbids it now, in its own
 * words), 404 `gone`, and 409 with a uid precondition `gone` too (another pod took the name);
 * anything else, a refusal of the fence included, is thrown.
 */
export function evictionFailure(err: unknown, what: string, uid?: string): Evicted {
  const e = err as { code?: number; body?: unknown };
  if (e?.code === 429) {
    return { result: "blocked", message: budgetWords(e.body) ?? "a disruption budget forbids it" };
  }
  if (isFenced(err)) throw err;
  const ke = toKubeError(err, what);
  if (ke.status === 404 || (uid && ke.status === 409)) return { result: "gone" };
  throw ke;
}

/** The causes a 429's Status gives (the budgets' messages), or its message. */
function budgetWords(raw: unknown): string | undefined {
  try {
    const body = typeof raw === "string" ? JSON.parse(raw) : raw;
    return (body?.details?.causes ?? []).map((c: { message?: string }) => c.message)
      .filter(Boolean).join("; ") || body?.message;
  } catch {
    return undefined;
  }
}
