// The pure parts of the gcp-mig provider: providerIDs, created-by, operations, managed instances.
import assert from "node:assert/strict";
import {
  createdByOf,
  gceRefOf,
  managedProgress,
  operationProgress,
} from "../../../../lib/act/replace/gcp_mig_parts.ts";

Deno.test("gceRefOf() reads a GCE providerID and nothing else", () => {
  assert.deepEqual(gceRefOf("gce://heal-project/europe-west1-b/gke-pool-a1b2"), {
    project: "heal-project",
    zone: "europe-west1-b",
    name: "gke-pool-a1b2",
  });
  assert.equal(gceRefOf("aws:///us-east-1a/i-0abc1234"), undefined);
  assert.equal(gceRefOf("gce://p/europe-west1/vm"), undefined);
  assert.equal(gceRefOf(undefined), undefined);
});

Deno.test("createdByOf() names a zonal or a regional group, or none", () => {
  const item = (value: string) => [{ key: "instance-template", value: "x" }, {
    key: "created-by",
    value,
  }];
  assert.deepEqual(createdByOf(item("projects/123/zones/us-central1-a/instanceGroupManagers/w")), {
    kind: "zonal",
    zone: "us-central1-a",
    group: "w",
  });
  assert.equal(
    createdByOf(item("projects/123/regions/us-central1/instanceGroupManagers/w"))?.kind,
    "regional",
  );
  assert.equal(createdByOf([]), undefined);
  assert.equal(createdByOf(undefined), undefined);
});

Deno.test("operationProgress() fails on errors, is done at DONE, else running", () => {
  assert.deepEqual(operationProgress({ status: "DONE" }), { state: "done" });
  assert.equal(operationProgress({ status: "RUNNING" }).state, "running");
  assert.deepEqual(
    operationProgress({
      name: "operation-1",
      status: "DONE",
      error: { errors: [{ code: "QUOTA_EXCEEDED", message: "Quota 'CPUS' exceeded" }] },
    }),
    {
      state: "failed",
      message: `Operation "operation-1" failed: QUOTA_EXCEEDED: Quota 'CPUS' exceeded`,
    },
  );
});

Deno.test("managedProgress() is done only when the group's action is NONE and the VM RUNNING", () => {
  assert.deepEqual(managedProgress({ currentAction: "NONE", instanceStatus: "RUNNING" }), {
    state: "done",
  });
  assert.equal(
    managedProgress({ currentAction: "VERIFYING", instanceStatus: "RUNNING" }).state,
    "running",
  );
  assert.equal(
    managedProgress({ currentAction: "NONE", instanceStatus: "STAGING" }).state,
    "running",
  );
  assert.deepEqual(
    managedProgress({
      currentAction: "CREATING",
      lastAttempt: { errors: { errors: [{ message: "ZONE_RESOURCE_POOL_EXHAUSTED" }] } },
    }),
    {
      state: "running",
      message: "CREATING, VM without status (last attempt: ZONE_RESOURCE_POOL_EXHAUSTED)",
    },
  );
});
