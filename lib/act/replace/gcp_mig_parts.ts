// The pure parts of the gcp-mig provider: what a providerID and a `created-by` item name, and
// how an operation and a managed instance read as the replacer's progress.
import type { Progress } from "./provider.ts";

/** A GCE VM as a Node's providerID names it. */
export interface GceRef {
  project: string;
  zone: string;
  name: string;
}

/** listManagedInstances' view of one VM. */
export interface ManagedInstance {
  /** The VM's URL. */
  instance?: string;
  /** NONE, CREATING, RECREATING, DELETING, VERIFYING, ... */
  currentAction?: string;
  /** The VM's status, absent while it has none (being recreated). */
  instanceStatus?: string;
  lastAttempt?: { errors?: { errors?: { message?: string }[] } };
}

/** The actions during which a recreation is under way: a second request would only repeat it. */
export const UNDER_WAY = new Set(["RECREATING", "CREATING", "CREATING_WITHOUT_RETRIES"]);

/** The VM a providerID `gce://PROJECT/ZONE/NAME` names, or undefined. */
export function gceRefOf(providerID: string | undefined): GceRef | undefined {
  const m = /^gce:\/\/([a-z][a-z0-9.:-]*)\/([a-z]+-[a-z]+\d+-[a-z])\/([a-z]([-a-z0-9]*[a-z0-9])?)$/
    .exec(providerID ?? "");
  return m ? { project: m[1], zone: m[2], name: m[3] } : undefined;
}

/**
 * The group in a VM's `created-by` metadata item:
 * `projects/NUM/zones/ZONE/instanceGroupManagers/NAME` (or `regions/REGION/...` for a regional
 * group).
 */
export function createdByOf(
  items: { key: string; value?: string }[] | undefined,
): { kind: "zonal" | "regional"; zone: string; group: string } | undefined {
  const value = items?.find((i) => i.key === "created-by")?.value ?? "";
  const m = /^projects\/[^/]+\/(zones|regions)\/([^/]+)\/instanceGroupManagers\/([^/]+)$/.exec(
    value,
  );
  if (!m) return undefined;
  return { kind: m[1] === "zones" ? "zonal" : "regional", zone: m[2], group: m[3] };
}

/** A zone operation as progress: its errors fail it; DONE without errors is done. */
export function operationProgress(op: {
  name?: string;
  status?: string;
  error?: { errors?: { code?: string; message?: string }[] };
}): Progress {
  const errors = op.error?.errors ?? [];
  if (errors.length > 0) {
    return {
      state: "failed",
      message: `Operation "${op.name}" failed: ` +
        errors.map((e) => `${e.code ?? "ERROR"}: ${e.message ?? ""}`).join("; "),
    };
  }
  if (op.status === "DONE") return { state: "done" };
  return { state: "running", message: `Operation ${op.status ?? "PENDING"}` };
}

/** The group's view of the VM as progress: done once NONE and RUNNING again. */
export function managedProgress(m: ManagedInstance): Progress {
  const action = m.currentAction ?? "NONE";
  if (action === "NONE" && m.instanceStatus === "RUNNING") return { state: "done" };
  const last = m.lastAttempt?.errors?.errors?.map((e) => e.message).filter(Boolean).join("; ");
  return {
    state: "running",
    message: `${action}, VM ${m.instanceStatus ?? "without status"}` +
      (last ? ` (last attempt: ${last})` : ""),
  };
}
