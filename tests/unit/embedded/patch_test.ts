import { deepEqual, equal, throws } from "node:assert/strict";
import { applyPatch, type PatchType, patchTypeOf } from "../../../lib/embedded/patch/patch.ts";
import { PatchError } from "../../../lib/embedded/store/errors.ts";
import { fieldStrategy } from "../../../lib/embedded/patch/merge_keys.ts";

function node(): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "worker-1", labels: { role: "worker" }, finalizers: ["a", "b"] },
    spec: {
      podCIDR: "10.0.1.0/24",
      taints: [
        { key: "dedicated", value: "gpu", effect: "NoSchedule" },
        { key: "spot", effect: "PreferNoSchedule" },
      ],
    },
    status: {
      conditions: [
        { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory" },
        { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure" },
        { type: "Ready", status: "True", reason: "KubeletReady" },
      ],
      addresses: [
        { type: "InternalIP", address: "10.0.0.11" },
        { type: "Hostname", address: "worker-1" },
      ],
    },
  };
}

function pod(): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: "default" },
    spec: {
      containers: [
        {
          name: "app",
          image: "nginx:1.25",
          env: [{ name: "A", value: "1" }, { name: "B", value: "2" }],
          ports: [{ containerPort: 80, protocol: "TCP" }],
          volumeMounts: [{ name: "data", mountPath: "/data" }],
        },
        { name: "sidecar", image: "busybox" },
      ],
      volumes: [{ name: "data", emptyDir: {} }],
    },
  };
}

function patch(
  target: Record<string, unknown>,
  body: unknown,
  type: PatchType,
  kind = String(target.kind),
): Record<string, unknown> {
  return applyPatch(target, body, { type, kind });
}

function throwsPatchError(fn: () => unknown, code: 400 | 422, message?: RegExp): void {
  throws(fn, (error: unknown) => {
    if (!(error instanceof PatchError)) return false;
    equal(error.code, code, error.message);
    if (message !== undefined && !message.test(error.message)) return false;
    return true;
  });
}

function at(object: Record<string, unknown>, ...path: (string | number)[]): unknown {
  // deno-lint-ignore no-explicit-any
  return path.reduce((value: any, key) => value?.[key], object);
}

// --- Content types -----------------------------------------------------------------------------

Deno.test("patchTypeOf maps the three patch media types, ignoring parameters and case", () => {
  equal(patchTypeOf("application/json-patch+json"), "json");
  equal(patchTypeOf("application/merge-patch+json; charset=utf-8"), "merge");
  equal(patchTypeOf("Application/Strategic-Merge-Patch+JSON"), "strategic");
});

Deno.test("patchTypeOf returns undefined for unknown or missing content types", () => {
  equal(patchTypeOf(null), undefined);
  equal(patchTypeOf("application/json"), undefined);
  equal(patchTypeOf("application/apply-patch+yaml"), undefined);
  equal(patchTypeOf(""), undefined);
});

// --- kubectl cordon / uncordon -----------------------------------------------------------------

for (const type of ["strategic", "merge"] as const) {
  Deno.test(`kubectl cordon body sets spec.unschedulable (${type})`, () => {
    const result = patch(node(), { spec: { unschedulable: true } }, type);
    equal(at(result, "spec", "unschedulable"), true);
    deepEqual(at(result, "spec", "taints"), at(node(), "spec", "taints"));
    equal(at(result, "spec", "podCIDR"), "10.0.1.0/24");
  });

  Deno.test(`kubectl uncordon body removes spec.unschedulable (${type})`, () => {
    const cordoned = patch(node(), { spec: { unschedulable: true } }, type);
    const result = patch(cordoned, { spec: { unschedulable: null } }, type);
    equal(Object.hasOwn(result.spec as object, "unschedulable"), false);
    deepEqual(result, node());
  });
}

// --- Strategic merge patch: merge lists --------------------------------------------------------

Deno.test("strategic patch updates one Node condition by type and keeps the others", () => {
  const result = patch(node(), {
    status: { conditions: [{ type: "Ready", status: "False", reason: "KubeletNotReady" }] },
  }, "strategic");
  deepEqual(at(result, "status", "conditions"), [
    { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory" },
    { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure" },
    { type: "Ready", status: "False", reason: "KubeletNotReady" },
  ]);
});

Deno.test("merge patch replaces the Node conditions list wholesale", () => {
  const result = patch(node(), {
    status: { conditions: [{ type: "Ready", status: "False", reason: "KubeletNotReady" }] },
  }, "merge");
  deepEqual(at(result, "status", "conditions"), [
    { type: "Ready", status: "False", reason: "KubeletNotReady" },
  ]);
});

Deno.test("strategic patch adds a new condition type, placed ahead as strategicpatch orders it", () => {
  const result = patch(node(), {
    status: { conditions: [{ type: "NetworkUnavailable", status: "False" }] },
  }, "strategic");
  deepEqual((at(result, "status", "conditions") as { type: string }[]).map((c) => c.type), [
    "NetworkUnavailable",
    "MemoryPressure",
    "DiskPressure",
    "Ready",
  ]);
});

Deno.test("strategic patch merges Node addresses by type", () => {
  const result = patch(node(), {
    status: { addresses: [{ type: "InternalIP", address: "10.0.0.99" }] },
  }, "strategic");
  deepEqual(at(result, "status", "addresses"), [
    { type: "InternalIP", address: "10.0.0.99" },
    { type: "Hostname", address: "worker-1" },
  ]);
});

Deno.test("strategic patch replaces Node spec.taints wholesale (no patch strategy)", () => {
  const result = patch(node(), {
    spec: { taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] },
  }, "strategic");
  deepEqual(at(result, "spec", "taints"), [
    { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" },
  ]);
  equal(fieldStrategy("Node", "spec.taints")?.strategy, "replace");
});

Deno.test("strategic patch merges a container by name, and env, ports and mounts by their keys", () => {
  const result = patch(pod(), {
    spec: {
      containers: [{
        name: "app",
        image: "nginx:1.26",
        env: [{ name: "B", value: "20" }, { name: "C", value: "3" }],
        ports: [{ containerPort: 443, protocol: "TCP" }],
        volumeMounts: [{ name: "data", mountPath: "/data", readOnly: true }],
      }],
    },
  }, "strategic");
  const app = at(result, "spec", "containers", 0) as Record<string, unknown>;
  equal(app.name, "app");
  equal(app.image, "nginx:1.26");
  deepEqual(app.env, [{ name: "A", value: "1" }, { name: "B", value: "20" }, {
    name: "C",
    value: "3",
  }]);
  deepEqual(app.ports, [{ containerPort: 443, protocol: "TCP" }, {
    containerPort: 80,
    protocol: "TCP",
  }]);
  deepEqual(app.volumeMounts, [{ name: "data", mountPath: "/data", readOnly: true }]);
  deepEqual(at(result, "spec", "containers", 1), { name: "sidecar", image: "busybox" });
});

Deno.test("strategic patch merges volumes by name", () => {
  const result = patch(pod(), {
    spec: { volumes: [{ name: "cache", emptyDir: { medium: "Memory" } }] },
  }, "strategic");
  deepEqual((at(result, "spec", "volumes") as { name: string }[]).map((v) => v.name), [
    "cache",
    "data",
  ]);
});

Deno.test("strategic patch on a Deployment pod template merges containers like a Pod", () => {
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: {
      replicas: 2,
      template: { metadata: { labels: { app: "web" } }, spec: pod().spec },
    },
  };
  const result = patch(deployment, {
    spec: { template: { spec: { containers: [{ name: "sidecar", image: "busybox:1.36" }] } } },
  }, "strategic");
  const containers = at(result, "spec", "template", "spec", "containers") as {
    name: string;
    image: string;
  }[];
  deepEqual(containers.map((c) => [c.name, c.image]), [["app", "nginx:1.25"], [
    "sidecar",
    "busybox:1.36",
  ]]);
  for (const kind of ["ReplicaSet", "DaemonSet"]) {
    equal(fieldStrategy(kind, "spec.template.spec.containers")?.mergeKey, "name");
    equal(fieldStrategy(kind, "spec.template.spec.containers[].env")?.mergeKey, "name");
  }
});

Deno.test("strategic patch merges metadata.ownerReferences by uid", () => {
  const target = {
    kind: "ReplicaSet",
    metadata: {
      name: "web-1",
      ownerReferences: [{ uid: "u1", kind: "Deployment", name: "web", controller: true }],
    },
  };
  const result = patch(target, {
    metadata: { ownerReferences: [{ uid: "u1", controller: false }, { uid: "u2", name: "x" }] },
  }, "strategic");
  deepEqual(at(result, "metadata", "ownerReferences"), [
    { uid: "u1", kind: "Deployment", name: "web", controller: false },
    { uid: "u2", name: "x" },
  ]);
});

Deno.test("strategic patch treats metadata.finalizers as a merged set of primitives", () => {
  const result = patch(node(), { metadata: { finalizers: ["b", "c"] } }, "strategic");
  deepEqual(at(result, "metadata", "finalizers"), ["a", "b", "c"]);
  const emptied = patch(node(), { metadata: { finalizers: [] } }, "strategic");
  deepEqual(at(emptied, "metadata", "finalizers"), ["a", "b"]);
  const nulled = patch(node(), { metadata: { finalizers: null } }, "strategic");
  equal(Object.hasOwn(nulled.metadata as object, "finalizers"), false);
});

Deno.test("strategic patch replaces lists without a merge strategy", () => {
  const target = {
    kind: "Pod",
    metadata: { name: "p" },
    spec: {
      containers: [{ name: "app", args: ["a", "b"] }],
      tolerations: [{ key: "x", operator: "Exists" }],
    },
  };
  const result = patch(target, {
    spec: { containers: [{ name: "app", args: ["c"] }], tolerations: [{ key: "y" }] },
  }, "strategic");
  deepEqual(at(result, "spec", "containers", 0, "args"), ["c"]);
  deepEqual(at(result, "spec", "tolerations"), [{ key: "y" }]);
});

Deno.test("strategic patch on Event and Lease merges maps and replaces lists", () => {
  const lease = {
    kind: "Lease",
    metadata: { name: "worker-1", namespace: "kube-node-lease" },
    spec: { holderIdentity: "worker-1", leaseDurationSeconds: 40, renewTime: "t0" },
  };
  deepEqual(patch(lease, { spec: { renewTime: "t1" } }, "strategic").spec, {
    holderIdentity: "worker-1",
    leaseDurationSeconds: 40,
    renewTime: "t1",
  });
  const event = {
    kind: "Event",
    metadata: { name: "e" },
    count: 1,
    series: { count: 1, lastObservedTime: "t0" },
  };
  deepEqual(
    patch(event, { count: 2, series: { count: 2 } }, "strategic"),
    {
      kind: "Event",
      metadata: { name: "e" },
      count: 2,
      series: { count: 2, lastObservedTime: "t0" },
    },
  );
});

// --- Strategic merge patch: directives ---------------------------------------------------------

Deno.test("strategic $patch: delete removes one container by name", () => {
  const result = patch(pod(), {
    spec: { containers: [{ name: "sidecar", $patch: "delete" }] },
  }, "strategic");
  deepEqual((at(result, "spec", "containers") as { name: string }[]).map((c) => c.name), ["app"]);
});

Deno.test("strategic $patch: delete of a list element without its merge key is rejected", () => {
  throwsPatchError(
    () => patch(pod(), { spec: { containers: [{ $patch: "delete" }] } }, "strategic"),
    400,
  );
});

Deno.test("strategic $patch: replace inside a list replaces the whole list", () => {
  const result = patch(node(), {
    status: { conditions: [{ $patch: "replace" }, { type: "Ready", status: "Unknown" }] },
  }, "strategic");
  deepEqual(at(result, "status", "conditions"), [{ type: "Ready", status: "Unknown" }]);
});

Deno.test("strategic $patch: replace on a map replaces the map", () => {
  const result = patch(node(), {
    metadata: { labels: { $patch: "replace", zone: "a" } },
  }, "strategic");
  deepEqual(at(result, "metadata", "labels"), { zone: "a" });
  equal(at(result, "metadata", "name"), "worker-1");
});

Deno.test("strategic $patch: delete on a map empties it", () => {
  const result = patch(node(), { metadata: { labels: { $patch: "delete" } } }, "strategic");
  deepEqual(at(result, "metadata", "labels"), {});
});

Deno.test("strategic $patch: merge is rejected like the real apiserver does", () => {
  throwsPatchError(
    () => patch(node(), { metadata: { labels: { $patch: "merge", zone: "a" } } }, "strategic"),
    400,
    /\$patch directive "merge"/,
  );
  throwsPatchError(
    () =>
      patch(
        node(),
        { status: { conditions: [{ $patch: "merge" }] } },
        "strategic",
      ),
    400,
  );
});

Deno.test("strategic directives on values new to the object are dropped", () => {
  const target = { kind: "Pod", metadata: { name: "p" }, spec: {} };
  const result = patch(target, {
    spec: {
      containers: [{ name: "gone", $patch: "delete" }, { name: "app", image: "x", tty: null }],
      affinity: { $patch: "delete" },
    },
    metadata: { labels: { a: "1", b: null } },
  }, "strategic");
  deepEqual(result, {
    kind: "Pod",
    metadata: { name: "p", labels: { a: "1" } },
    spec: { containers: [{ name: "app", image: "x" }] },
  });
});

Deno.test("strategic $retainKeys clears keys not listed", () => {
  const deployment = {
    kind: "Deployment",
    metadata: { name: "web" },
    spec: { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 } } },
  };
  const result = patch(deployment, {
    spec: { strategy: { $retainKeys: ["type"], type: "Recreate" } },
  }, "strategic");
  deepEqual(at(result, "spec", "strategy"), { type: "Recreate" });
  equal(fieldStrategy("Deployment", "spec.strategy")?.strategy, "retainKeys");
});

Deno.test("strategic $retainKeys rejects patch fields it does not list", () => {
  throwsPatchError(
    () => patch(node(), { spec: { $retainKeys: ["podCIDR"], unschedulable: true } }, "strategic"),
    400,
    /not listed in \$retainKeys/,
  );
  throwsPatchError(
    () => patch(node(), { spec: { $retainKeys: "podCIDR" } }, "strategic"),
    400,
  );
});

Deno.test("strategic $deleteFromPrimitiveList removes values from a merged primitive list", () => {
  const result = patch(node(), {
    metadata: { "$deleteFromPrimitiveList/finalizers": ["a"] },
  }, "strategic");
  deepEqual(at(result, "metadata", "finalizers"), ["b"]);
  const both = patch(node(), {
    metadata: { finalizers: ["c"], "$deleteFromPrimitiveList/finalizers": ["a"] },
  }, "strategic");
  deepEqual(at(both, "metadata", "finalizers"), ["c", "b"]);
});

Deno.test("strategic $setElementOrder is applied and never stored", () => {
  const result = patch(node(), {
    status: {
      "$setElementOrder/conditions": [{ type: "Ready" }, { type: "MemoryPressure" }, {
        type: "DiskPressure",
      }],
      conditions: [{ type: "Ready", status: "False" }],
    },
  }, "strategic");
  const conditions = at(result, "status", "conditions") as Record<string, string>[];
  deepEqual(conditions.map((c) => c.type), ["Ready", "MemoryPressure", "DiskPressure"]);
  equal(conditions[0].status, "False");
  equal(JSON.stringify(result).includes("$setElementOrder"), false);

  const orderOnly = patch(node(), {
    metadata: { "$setElementOrder/finalizers": ["b", "a"] },
  }, "strategic");
  deepEqual(at(orderOnly, "metadata", "finalizers"), ["b", "a"]);
});

Deno.test("strategic $setElementOrder that contradicts the patch list is rejected", () => {
  throwsPatchError(
    () =>
      patch(node(), {
        status: {
          "$setElementOrder/conditions": [{ type: "Ready" }],
          conditions: [{ type: "DiskPressure", status: "True" }],
        },
      }, "strategic"),
    400,
  );
});

Deno.test("strategic patch directive keys never end up in the stored object", () => {
  const result = patch(pod(), {
    metadata: { "$setElementOrder/finalizers": ["x"], finalizers: ["x"] },
    spec: {
      "$setElementOrder/containers": [{ name: "app" }, { name: "sidecar" }, { name: "new" }],
      containers: [{ name: "new", image: "n", $retainKeys: ["name", "image"] }],
      tolerations: [{ key: "t", $patch: "delete" }],
    },
  }, "strategic");
  equal(JSON.stringify(result).includes("$"), false, JSON.stringify(result));
  deepEqual((at(result, "spec", "containers") as { name: string }[]).map((c) => c.name), [
    "app",
    "sidecar",
    "new",
  ]);
});

Deno.test("strategic patch errors: malformed patches give 400, lists of lists 422", () => {
  throwsPatchError(() => patch(node(), [], "strategic"), 400);
  throwsPatchError(() => patch(node(), null, "strategic"), 400);
  throwsPatchError(() => patch(node(), "x", "strategic"), 400);
  throwsPatchError(
    () => patch(node(), { status: { conditions: [{ status: "True" }] } }, "strategic"),
    400,
    /merge key "type"/,
  );
  throwsPatchError(
    () => patch(node(), { metadata: { "$deleteFromPrimitiveListfinalizers": ["a"] } }, "strategic"),
    400,
  );
  throwsPatchError(
    () => patch(node(), { metadata: { finalizers: [["a"]] } }, "strategic"),
    422,
  );
});

// --- JSON merge patch --------------------------------------------------------------------------

Deno.test("merge patch: null deletes, objects merge recursively, scalars replace", () => {
  const result = patch(node(), {
    metadata: { labels: { role: null, zone: "a" }, annotations: { note: "x", gone: null } },
    spec: { podCIDR: "10.0.2.0/24" },
  }, "merge");
  deepEqual(at(result, "metadata", "labels"), { zone: "a" });
  deepEqual(at(result, "metadata", "annotations"), { note: "x" });
  equal(at(result, "spec", "podCIDR"), "10.0.2.0/24");
});

Deno.test("merge patch replaces arrays and replaces a scalar with an object", () => {
  const result = patch(node(), {
    metadata: { finalizers: ["z"] },
    spec: { podCIDR: { v4: "x", nope: null } },
  }, "merge");
  deepEqual(at(result, "metadata", "finalizers"), ["z"]);
  deepEqual(at(result, "spec", "podCIDR"), { v4: "x" });
});

Deno.test("merge patch rejects non-object patches with 400", () => {
  for (const body of [null, [], 1, "x", true]) {
    throwsPatchError(() => patch(node(), body, "merge"), 400);
  }
});

// --- JSON patch --------------------------------------------------------------------------------

Deno.test("json patch add sets members, inserts at an index and appends with -", () => {
  const result = patch(node(), [
    { op: "add", path: "/spec/unschedulable", value: true },
    { op: "add", path: "/spec/taints/0", value: { key: "first", effect: "NoExecute" } },
    { op: "add", path: "/spec/taints/-", value: { key: "last", effect: "NoSchedule" } },
    { op: "add", path: "/metadata/finalizers/2", value: "end" },
  ], "json");
  equal(at(result, "spec", "unschedulable"), true);
  deepEqual((at(result, "spec", "taints") as { key: string }[]).map((t) => t.key), [
    "first",
    "dedicated",
    "spot",
    "last",
  ]);
  deepEqual(at(result, "metadata", "finalizers"), ["a", "b", "end"]);
});

Deno.test("json patch remove deletes members and array elements", () => {
  const result = patch(node(), [
    { op: "remove", path: "/metadata/labels/role" },
    { op: "remove", path: "/spec/taints/0" },
  ], "json");
  deepEqual(at(result, "metadata", "labels"), {});
  deepEqual(at(result, "spec", "taints"), [{ key: "spot", effect: "PreferNoSchedule" }]);
});

Deno.test("json patch replace swaps values", () => {
  const result = patch(node(), [
    { op: "replace", path: "/status/conditions/2/status", value: "False" },
    { op: "replace", path: "/metadata/labels", value: { role: "infra" } },
  ], "json");
  equal(at(result, "status", "conditions", 2, "status"), "False");
  deepEqual(at(result, "metadata", "labels"), { role: "infra" });
});

Deno.test("json patch move and copy relocate and duplicate values", () => {
  const result = patch(node(), [
    { op: "copy", from: "/metadata/labels", path: "/metadata/annotations" },
    { op: "move", from: "/spec/podCIDR", path: "/spec/podCIDRs" },
    { op: "move", from: "/spec/taints/1", path: "/spec/taints/0" },
  ], "json");
  deepEqual(at(result, "metadata", "annotations"), { role: "worker" });
  equal(at(result, "spec", "podCIDRs"), "10.0.1.0/24");
  equal(Object.hasOwn(result.spec as object, "podCIDR"), false);
  deepEqual((at(result, "spec", "taints") as { key: string }[]).map((t) => t.key), [
    "spot",
    "dedicated",
  ]);
  // The copy is independent of its source.
  const annotations = at(result, "metadata", "annotations") as Record<string, string>;
  annotations.role = "changed";
  equal(at(result, "metadata", "labels", "role"), "worker");
});

Deno.test("json patch test passes on equal values and fails with 422 otherwise", () => {
  const result = patch(node(), [
    { op: "test", path: "/metadata/labels", value: { role: "worker" } },
    { op: "test", path: "/status/conditions/2/type", value: "Ready" },
    { op: "test", path: "/spec/unschedulable", value: null },
    { op: "replace", path: "/metadata/labels/role", value: "infra" },
  ], "json");
  equal(at(result, "metadata", "labels", "role"), "infra");
  throwsPatchError(
    () =>
      patch(node(), [{ op: "test", path: "/metadata/name", value: "worker-2" }, {
        op: "remove",
        path: "/metadata/name",
      }], "json"),
    422,
    /test failed at path "\/metadata\/name"/,
  );
  throwsPatchError(
    () => patch(node(), [{ op: "test", path: "/metadata/labels", value: {} }], "json"),
    422,
  );
});

Deno.test("json patch decodes ~0 and ~1 in JSON pointers", () => {
  const target = {
    kind: "Node",
    metadata: { name: "n", labels: { "node-role.kubernetes.io/worker": "", "a~b": "1" } },
  };
  const result = patch(target, [
    { op: "remove", path: "/metadata/labels/node-role.kubernetes.io~1worker" },
    { op: "replace", path: "/metadata/labels/a~0b", value: "2" },
    { op: "add", path: "/metadata/annotations", value: {} },
    { op: "add", path: "/metadata/annotations/x~1y~0z", value: "v" },
  ], "json");
  deepEqual(result.metadata, { name: "n", labels: { "a~b": "2" }, annotations: { "x/y~z": "v" } });
});

Deno.test("json patch on a missing path fails with 422", () => {
  const cases: unknown[][] = [
    [{ op: "remove", path: "/spec/unschedulable" }],
    [{ op: "replace", path: "/spec/nothing/here", value: 1 }],
    [{ op: "add", path: "/missing/child", value: 1 }],
    [{ op: "move", from: "/spec/nope", path: "/spec/other" }],
    [{ op: "test", path: "/nope/deeper", value: 1 }],
  ];
  for (const body of cases) {
    throwsPatchError(() => patch(node(), body, "json"), 422, /does not exist/);
  }
  throwsPatchError(
    () => patch(node(), [{ op: "remove", path: "/spec/foo" }], "json"),
    422,
    /^Cannot apply JSON patch: path "\/spec\/foo" does not exist$/,
  );
});

Deno.test("json patch enforces array index bounds with 422", () => {
  throwsPatchError(
    () => patch(node(), [{ op: "add", path: "/spec/taints/3", value: {} }], "json"),
    422,
    /out of bounds/,
  );
  throwsPatchError(
    () => patch(node(), [{ op: "remove", path: "/spec/taints/2" }], "json"),
    422,
  );
  throwsPatchError(
    () => patch(node(), [{ op: "replace", path: "/spec/taints/-", value: {} }], "json"),
    422,
  );
  throwsPatchError(
    () => patch(node(), [{ op: "add", path: "/spec/taints/x", value: {} }], "json"),
    422,
  );
  // Negative indices count from the end, as in evanphx/json-patch v4.
  const result = patch(node(), [{ op: "remove", path: "/spec/taints/-1" }], "json");
  deepEqual((at(result, "spec", "taints") as { key: string }[]).map((t) => t.key), ["dedicated"]);
});

Deno.test("json patch replace of an absent member of an existing object sets it, as kube-apiserver does", () => {
  const result = patch(
    node(),
    [{ op: "replace", path: "/spec/unschedulable", value: true }],
    "json",
  );
  equal(at(result, "spec", "unschedulable"), true);
});

Deno.test("json patch operation errors give 422", () => {
  throwsPatchError(() => patch(node(), [{ op: "frobnicate", path: "/a" }], "json"), 422);
  throwsPatchError(() => patch(node(), [{ path: "/a" }], "json"), 422);
  throwsPatchError(() => patch(node(), [{ op: "add", value: 1 }], "json"), 422);
  throwsPatchError(() => patch(node(), [{ op: "add", path: 5, value: 1 }], "json"), 422);
  throwsPatchError(() => patch(node(), [{ op: "add", path: "spec", value: 1 }], "json"), 422);
});

Deno.test("json patch that is not an array of operation objects gives 400", () => {
  for (const body of [{ op: "add", path: "/a", value: 1 }, "x", 1, [1], [[]], ["add"]]) {
    throwsPatchError(() => patch(node(), body, "json"), 400);
  }
});

Deno.test("a failing json patch leaves the target untouched", () => {
  const target = node();
  const before = structuredClone(target);
  throwsPatchError(
    () =>
      patch(target, [
        { op: "remove", path: "/metadata/labels" },
        { op: "test", path: "/metadata/name", value: "nope" },
      ], "json"),
    422,
  );
  deepEqual(target, before);
});

// --- Immutability ------------------------------------------------------------------------------

Deno.test("inputs are never mutated and results share nothing with them", () => {
  const bodies: [PatchType, unknown][] = [
    ["json", [
      { op: "add", path: "/metadata/labels/x", value: { deep: ["v"] } },
      { op: "remove", path: "/status/conditions/0" },
      { op: "move", from: "/spec/taints/0", path: "/spec/taints/-" },
    ]],
    ["merge", { metadata: { labels: { x: { deep: ["v"] }, role: null } }, spec: { taints: [] } }],
    ["strategic", {
      metadata: { labels: { x: "1" }, "$deleteFromPrimitiveList/finalizers": ["a"] },
      spec: { taints: [{ key: "k", $patch: "delete" }] },
      status: {
        "$setElementOrder/conditions": [{ type: "Ready" }, { type: "MemoryPressure" }, {
          type: "DiskPressure",
        }],
        conditions: [{ type: "Ready", status: "False" }, {
          type: "DiskPressure",
          $patch: "delete",
        }],
        addresses: [{ $patch: "replace" }, { type: "Hostname", address: "h" }],
      },
    }],
  ];
  for (const [type, body] of bodies) {
    const target = node();
    const targetBefore = structuredClone(target);
    const bodyBefore = structuredClone(body);
    const result = patch(target, body, type);
    deepEqual(target, targetBefore, `${type} mutated the target`);
    deepEqual(body, bodyBefore, `${type} mutated the patch`);
    // Mutating the result must not leak into either input.
    (result.metadata as Record<string, unknown>).labels = "changed";
    ((result.spec as Record<string, unknown[]>).taints ?? []).push("changed");
    deepEqual(target, targetBefore, `${type} result aliases the target`);
    deepEqual(body, bodyBefore, `${type} result aliases the patch`);
  }
});

Deno.test("a value added by patch is a copy of the patch value", () => {
  for (const type of ["json", "merge", "strategic"] as const) {
    const value = { deep: { list: [1, 2] } };
    const body = type === "json"
      ? [{ op: "add", path: "/spec/extra", value }]
      : { spec: { extra: value } };
    const result = patch(node(), body, type);
    ((at(result, "spec", "extra", "deep", "list")) as number[]).push(3);
    deepEqual(value, { deep: { list: [1, 2] } }, type);
  }
});

Deno.test("unknown kinds still merge metadata lists strategically", () => {
  const target = {
    kind: "ConfigMap",
    metadata: { name: "c", finalizers: ["a"] },
    data: { k: "v" },
  };
  const result = patch(
    target,
    { metadata: { finalizers: ["b"] }, data: { k2: "v2" } },
    "strategic",
  );
  deepEqual(at(result, "metadata", "finalizers"), ["b", "a"]);
  deepEqual(result.data, { k: "v", k2: "v2" });
});
