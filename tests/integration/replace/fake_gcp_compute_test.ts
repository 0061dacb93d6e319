// The Compute Engine fake (tests/fakes/gcp_compute.ts) with plain fetch and a bearer token, as
// node-heal would call the REST API, and with @google-cloud/compute's REST transport: requests
// that the real API serves are served in its JSON shapes; those it refuses are refused.
import assert from "node:assert/strict";
import compute from "@google-cloud/compute";
import { startGcpComputeFake } from "../../fakes/gcp_compute.ts";

const groups = [
  { name: "workers-igm", zone: "europe-west1-b", instances: ["workers-a1b2", "workers-c3d4"] },
  { name: "infra-igm", zone: "europe-west1-b", instances: ["infra-x9"] },
];

function api(fake: { url: string; token: string }) {
  const base = `${fake.url}/compute/v1/projects/heal-project/zones/europe-west1-b`;
  const call = async (method: string, path: string, body?: unknown, token = fake.token) => {
    const res = await fetch(`${base}/${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get("content-type") ?? "",
      wwwAuthenticate: res.headers.get("www-authenticate"),
      text,
      // deno-lint-ignore no-explicit-any
      json: (): any => JSON.parse(text),
    };
  };
  return call;
}

Deno.test("instances.get: the group is named by the created-by metadata item", async () => {
  await using fake = startGcpComputeFake({
    groups,
    standalone: [{ name: "bastion", zone: "europe-west1-b" }],
  });
  const call = api(fake);
  const res = await call("GET", "instances/workers-a1b2");
  assert.equal(res.status, 200);
  const vm = res.json();
  assert.equal(vm.kind, "compute#instance");
  assert.equal(vm.status, "RUNNING");
  assert.match(vm.id, /^\d+$/);
  assert.equal(
    vm.selfLink,
    "https://www.googleapis.com/compute/v1/projects/heal-project/zones/europe-west1-b/instances/workers-a1b2",
  );
  const createdBy = vm.metadata.items.find((i: { key: string }) => i.key === "created-by");
  assert.equal(
    createdBy.value,
    "projects/123456789012/zones/europe-west1-b/instanceGroupManagers/workers-igm",
  );
  const bastion = (await call("GET", "instances/bastion")).json();
  assert.deepEqual(bastion.metadata.items, []);
});

Deno.test("recreateInstances: RECREATING and a RUNNING operation, then NONE, DONE and a new VM", async () => {
  let clock = 1_800_000_000_000;
  await using fake = startGcpComputeFake({ groups, recreateMs: 60_000, now: () => clock });
  const call = api(fake);
  const before = (await call("GET", "instances/workers-a1b2")).json();

  const res = await call("POST", "instanceGroupManagers/workers-igm/recreateInstances", {
    instances: ["zones/europe-west1-b/instances/workers-a1b2"],
  });
  assert.equal(res.status, 200);
  const op = res.json();
  assert.equal(op.kind, "compute#operation");
  assert.match(op.name, /^operation-/);
  assert.equal(op.status, "RUNNING");
  assert.equal(op.operationType, "compute.instanceGroupManagers.recreateInstances");
  assert.equal(
    op.targetLink,
    "https://www.googleapis.com/compute/v1/projects/heal-project/zones/europe-west1-b/instanceGroupManagers/workers-igm",
  );
  assert.equal(
    op.selfLink,
    `https://www.googleapis.com/compute/v1/projects/heal-project/zones/europe-west1-b/operations/${op.name}`,
  );
  assert.deepEqual(fake.calls.at(-1)?.body, {
    instances: ["zones/europe-west1-b/instances/workers-a1b2"],
  });

  const listed = (await call("POST", "instanceGroupManagers/workers-igm/listManagedInstances"))
    .json();
  assert.deepEqual(
    listed.managedInstances.map((m: { instance: string; currentAction: string }) => [
      m.instance.split("/").at(-1),
      m.currentAction,
    ]),
    [["workers-a1b2", "RECREATING"], ["workers-c3d4", "NONE"]],
  );
  assert.equal((await call("GET", `operations/${op.name}`)).json().status, "RUNNING");

  clock += 60_000;
  const later = (await call("POST", "instanceGroupManagers/workers-igm/listManagedInstances"))
    .json();
  assert.deepEqual(
    later.managedInstances.map((m: { currentAction: string }) => m.currentAction),
    ["NONE", "NONE"],
  );
  const done = (await call("GET", `operations/${op.name}`)).json();
  assert.deepEqual([done.status, done.progress], ["DONE", 100]);
  const after = (await call("GET", "instances/workers-a1b2")).json();
  assert.equal(after.name, before.name);
  assert.notEqual(after.id, before.id);

  // A full URL names an instance as well.
  const full = await call("POST", "instanceGroupManagers/workers-igm/recreateInstances", {
    instances: [after.selfLink],
  });
  assert.equal(full.status, 200);
});

Deno.test("no token or another token: 401 UNAUTHENTICATED, nothing recreated", async () => {
  await using fake = startGcpComputeFake({ groups });
  const call = api(fake);
  const missing = await call("GET", "instances/workers-a1b2", undefined, "");
  assert.equal(missing.status, 401);
  assert.equal(missing.json().error.status, "UNAUTHENTICATED");
  assert.equal(missing.json().error.code, 401);
  assert.equal(missing.json().error.errors[0].reason, "required");
  assert.match(missing.wwwAuthenticate ?? "", /^Bearer realm=/);
  const wrong = await call(
    "POST",
    "instanceGroupManagers/workers-igm/recreateInstances",
    { instances: ["zones/europe-west1-b/instances/workers-a1b2"] },
    "ya29.other",
  );
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json().error.errors[0].reason, "authError");
  assert.equal(fake.operations.length, 0);
});

Deno.test("unknown instance or group: 404 notFound; a bad body: 400", async () => {
  await using fake = startGcpComputeFake({ groups });
  const call = api(fake);
  const gone = await call("GET", "instances/nope");
  assert.equal(gone.status, 404);
  assert.deepEqual(gone.json(), {
    error: {
      code: 404,
      message:
        "The resource 'projects/heal-project/zones/europe-west1-b/instances/nope' was not found",
      errors: [{
        message:
          "The resource 'projects/heal-project/zones/europe-west1-b/instances/nope' was not found",
        domain: "global",
        reason: "notFound",
      }],
    },
  });
  const noGroup = await call("POST", "instanceGroupManagers/nope-igm/listManagedInstances");
  assert.equal(noGroup.status, 404);
  assert.equal(noGroup.json().error.errors[0].reason, "notFound");

  const recreate = (body: unknown) =>
    call("POST", "instanceGroupManagers/workers-igm/recreateInstances", body);
  assert.equal((await recreate("{not json")).status, 400);
  assert.equal((await recreate({})).status, 400);
  assert.equal((await recreate({ instances: [] })).status, 400);
  assert.equal((await recreate({ instances: ["workers-a1b2"] })).status, 400);
  const unknownField = await recreate({
    instance: ["zones/europe-west1-b/instances/workers-a1b2"],
  });
  assert.equal(unknownField.status, 400);
  assert.equal(unknownField.json().error.status, "INVALID_ARGUMENT");
  const other = await recreate({ instances: ["zones/europe-west1-b/instances/infra-x9"] });
  assert.equal(other.status, 400);
  assert.match(other.json().error.message, /is not a member of the instance group manager/);
  const missing = await recreate({ instances: ["zones/europe-west1-b/instances/nope"] });
  assert.equal(missing.status, 404);
  assert.equal(fake.operations.length, 0);

  // A method the API does not have: the front end's HTML 404, not JSON.
  const noRoute = await call("GET", "instanceGroupManagers/workers-igm/recreateInstances");
  assert.equal(noRoute.status, 404);
  assert.match(noRoute.type, /^text\/html/);
});

Deno.test("@google-cloud/compute over REST (fallback) with a fixed token reads and recreates", async () => {
  let clock = 1_800_000_000_000;
  await using fake = startGcpComputeFake({ groups, recreateMs: 30_000, now: () => clock });
  // gax's REST transport sends every request through the auth client's fetch.
  const authClient = {
    getRequestHeaders: () =>
      Promise.resolve(new Headers({ authorization: `Bearer ${fake.token}` })),
    fetch: (url: string, init: RequestInit) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${fake.token}`);
      return fetch(url, { method: init.method, headers, body: init.body, signal: init.signal });
    },
  };
  const opts = {
    fallback: true,
    apiEndpoint: "127.0.0.1",
    port: Number(new URL(fake.url).port),
    protocol: "http",
    // deno-lint-ignore no-explicit-any
    authClient: authClient as any,
  };
  const vms = new compute.InstancesClient(opts);
  const igms = new compute.InstanceGroupManagersClient(opts);
  const ops = new compute.ZoneOperationsClient(opts);
  const where = { project: fake.project, zone: "europe-west1-b" };
  try {
    const [vm] = await vms.get({ ...where, instance: "workers-c3d4" });
    assert.equal(
      vm.metadata?.items?.find((i) => i.key === "created-by")?.value,
      "projects/123456789012/zones/europe-west1-b/instanceGroupManagers/workers-igm",
    );
    const [op] = await igms.recreateInstances({
      ...where,
      instanceGroupManager: "workers-igm",
      instanceGroupManagersRecreateInstancesRequestResource: {
        instances: ["zones/europe-west1-b/instances/workers-c3d4"],
      },
    });
    const name = op.latestResponse.name as string;
    assert.equal((await ops.get({ ...where, operation: name }))[0].status, "RUNNING");
    const [managed] = await igms.listManagedInstances({
      ...where,
      instanceGroupManager: "workers-igm",
    });
    assert.deepEqual(managed.map((m) => m.currentAction), ["NONE", "RECREATING"]);
    clock += 30_000;
    const [done] = await ops.get({ ...where, operation: name });
    assert.equal(done.status, "DONE");
    assert.equal(done.operationType, "compute.instanceGroupManagers.recreateInstances");
    await assert.rejects(
      vms.get({ ...where, instance: "nope" }),
      (e: Error & { code?: number }) => {
        assert.equal(e.code, 5); // NOT_FOUND, mapped from the 404
        assert.match(e.message, /was not found/);
        return true;
      },
    );
  } finally {
    await Promise.all([vms.close(), igms.close(), ops.close()]);
  }
});
