/**
 * The three PATCH flavours of the Kubernetes API server (JSON Patch, JSON Merge Patch and
 * strategic merge patch), applied to plain JSON objects the way kube-apiserver applies them.
 *
 * JSON Patch follows gopkg.in/evanphx/json-patch.v4 (what kube-apiserver links), merge patch
 * follows that library's MergePatch, and strategic merge patch follows
 * k8s.io/apimachinery/pkg/util/strategicpatch with the `patchStrategy`/`patchMergeKey` struct tags
 * of k8s.io/api encoded in `STRATEGIC_MERGE_FIELDS` (merge_keys.ts). Each flavour has its module
 * (json_patch.ts, merge_patch.ts, strategic_merge.ts); this one picks the flavour.
 *
 * @module
 */

import { PatchError } from "../store/errors.ts";
import { clone, type JsonObject } from "../store/json.ts";
import { applyJsonPatch } from "./json_patch.ts";
import { applyMergePatch } from "./merge_patch.ts";
import { applyStrategicMergePatch } from "./strategic_merge.ts";

/** The patch types the embedded API server accepts, by Content-Type. */
export type PatchType = "json" | "merge" | "strategic";

const CONTENT_TYPES: Readonly<Record<string, PatchType>> = {
  "application/json-patch+json": "json",
  "application/merge-patch+json": "merge",
  "application/strategic-merge-patch+json": "strategic",
};

/** Maps a request Content-Type (may carry parameters such as "; charset=utf-8") to a patch type, or undefined when unknown (caller answers 415). */
export function patchTypeOf(contentType: string | null): PatchType | undefined {
  if (contentType === null) return undefined;
  const mediaType = contentType.split(";", 1)[0].trim().toLowerCase();
  return Object.hasOwn(CONTENT_TYPES, mediaType) ? CONTENT_TYPES[mediaType] : undefined;
}

/** Applies a patch of the given type to `target` (a JSON object, not mutated) for an object of `kind` ("Node", "Pod", "Event", "Lease", "Deployment", "ReplicaSet", "DaemonSet", "Namespace", "PodDisruptionBudget", ...), returning the new object. */
export function applyPatch(
  target: Record<string, unknown>,
  patch: unknown,
  options: { type: PatchType; kind: string },
): Record<string, unknown> {
  const doc = clone(target) as JsonObject;
  switch (options.type) {
    case "json":
      return applyJsonPatch(doc, patch);
    case "merge":
      return applyMergePatch(doc, patch);
    case "strategic":
      return applyStrategicMergePatch(doc, patch, options.kind);
    default:
      throw new PatchError(`Unsupported patch type "${String(options.type)}"`, 400);
  }
}
