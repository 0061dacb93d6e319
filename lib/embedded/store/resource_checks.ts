// The semantic checks of the resource types that have them (pods, PodDisruptionBudgets), beyond
// metadata; the resource table names them, validation.ts runs them.

import type { StatusCause } from "./errors.ts";
import { type KubeObject, pathValue } from "./objects.ts";

/** Checks that a pod has containers. */
export function podValidate(obj: KubeObject): StatusCause[] {
  const containers = pathValue(obj, "spec.containers");
  if (!Array.isArray(containers) || containers.length === 0) {
    return [{
      reason: "FieldValueRequired",
      message: "spec.containers: Required value",
      field: "spec.containers",
    }];
  }
  return [];
}

/** Checks the fields of a PodDisruptionBudget that the eviction logic reads. */
export function budgetValidate(obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const bad = (field: string, message: string) =>
    causes.push({
      reason: "FieldValueInvalid",
      field,
      message: `${field}: Invalid value: ${message}`,
    });
  const selector = pathValue(obj, "spec.selector");
  if (selector !== undefined && (selector === null || typeof selector !== "object")) {
    bad("spec.selector", "must be an object");
  }
  const labels = pathValue(obj, "spec.selector.matchLabels");
  if (
    labels !== undefined && (labels === null || typeof labels !== "object" || Array.isArray(labels))
  ) {
    bad("spec.selector.matchLabels", "must be an object of strings");
  }
  const exprs = pathValue(obj, "spec.selector.matchExpressions");
  if (
    exprs !== undefined &&
    (!Array.isArray(exprs) ||
      exprs.some((e) => !e || typeof e.key !== "string" || typeof e.operator !== "string"))
  ) {
    bad("spec.selector.matchExpressions", "must be a list of {key, operator, values}");
  }
  for (const field of ["spec.minAvailable", "spec.maxUnavailable"]) {
    const v = pathValue(obj, field);
    const ok = v === undefined || (typeof v === "number" && Number.isInteger(v) && v >= 0) ||
      (typeof v === "string" && /^\d+%$/.test(v));
    if (!ok) bad(field, `${JSON.stringify(v)}: must be a non-negative integer or a percentage`);
  }
  if (
    pathValue(obj, "spec.minAvailable") !== undefined &&
    pathValue(obj, "spec.maxUnavailable") !== undefined
  ) {
    bad("spec", "minAvailable and maxUnavailable cannot be both set");
  }
  return causes;
}
