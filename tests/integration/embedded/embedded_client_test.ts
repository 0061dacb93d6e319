// The embedded API server held to the real API's behaviour through the real client library.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { type ClusterFixture, expectStatus, waitFor, withCluster } from "../../support/helpers.ts";

const strategic = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch);
const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
const jsonPatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch);

/** The Node as stored in the embedded cluster, read back without the client. */
function storedNode(f: ClusterFixture, name: string): k8s.V1Node {
  return f.cluster.api.read("Node", name) as k8s.V1Node;
}

function names(items: { metadata?: { name?: string } }[]): string[] {
  return items.map((i) => i.metadata?.name ?? "");
}

Deno.test(
  "listNode returns the kind-like topology with Ready nodes and their addresses",
  async () => {
    await using f = await withCluster();
    const list = await f.core.listNode();
    assert.deepEqual(names(list.items), [
      "heal-control-plane",
      "heal-worker",
      "heal-worker2",
      "heal-worker3",
    ]);
    const byName = new Map(list.items.map((n) => [n.metadata!.name!, n]));
    const cp = byName.get("heal-control-plane")!;
    assert.equal(cp.metadata?.labels?.["node-role.kubernetes.io/control-plane"], "");
    assert.deepEqual(cp.spec?.taints?.map((t) => ({ key: t.key, effect: t.effect })), [{
      key: "node-role.kubernetes.io/control-plane",
      effect: "NoSchedule",
    }]);
    const ips = list.items.map((n) =>
      n.status?.addresses?.find((a) => a.type === "InternalIP")?.address
    );
    assert.deepEqual(ips, ["172.18.0.2", "172.18.0.3", "172.18.0.4", "172.18.0.5"]);
    for (const n of list.items) {
      assert.equal(n.status?.nodeInfo?.kubeletVersion, "v1.29.2");
      assert.equal(n.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
      assert.ok(Number(n.metadata?.resourceVersion) > 0);
    }
    assert.ok(
      Number(list.metadata?.resourceVersion) >=
        Number(byName.get("heal-worker3")!.metadata!.resourceVersion),
    );
  },
);

Deno.test(
  "every worker runs a Deployment pod and a DaemonSet pod, heal-worker3 also a standalone and an emptyDir pod",
  async () => {
    await using f = await withCluster();
    for (const node of ["heal-worker", "heal-worker2", "heal-worker3"]) {
      const pods = await f.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
      const owners = pods.items.map((p) => p.metadata?.ownerReferences?.[0]?.kind ?? "none");
      assert.ok(owners.includes("ReplicaSet"), `${node} runs a ReplicaSet pod`);
      assert.ok(owners.includes("DaemonSet"), `${node} runs a DaemonSet pod`);
      for (const p of pods.items) assert.equal(p.spec?.nodeName, node);
    }
    const third = await f.core.listPodForAllNamespaces({
      fieldSelector: "spec.nodeName=heal-worker3",
    });
    const standalone = third.items.find((p) => !p.metadata?.ownerReferences);
    assert.equal(standalone?.metadata?.name, "standalone");
    assert.ok(third.items.some((p) => p.spec?.volumes?.some((v) => v.emptyDir !== undefined)));
    const apps = f.kc.makeApiClient(k8s.AppsV1Api);
    const rs = await apps.listNamespacedReplicaSet({ namespace: "default" });
    const deploymentOfRs = rs.items.map((r) => r.metadata?.ownerReferences?.[0]?.kind);
    assert.deepEqual(deploymentOfRs, ["Deployment", "Deployment"]);
    const ds = await apps.readNamespacedDaemonSet({ name: "kube-proxy", namespace: "kube-system" });
    assert.equal(ds.status?.desiredNumberScheduled, 4);
  },
);

Deno.test(
  "the size option adds workers named and addressed in the same pattern",
  async () => {
    await using f = await withCluster({ workers: 300 });
    const list = await f.core.listNode();
    assert.equal(list.items.length, 301);
    const last = list.items.find((n) => n.metadata?.name === "heal-worker300")!;
    assert.equal(last.status?.addresses?.[0].address, "172.18.1.46");
  },
);

Deno.test(
  "pods are selected by spec.nodeName, status.phase, metadata.name and labels, cluster-wide and namespaced",
  async () => {
    await using f = await withCluster();
    const onThird = await f.core.listPodForAllNamespaces({
      fieldSelector: "spec.nodeName=heal-worker3,status.phase!=Failed,status.phase!=Succeeded",
    });
    assert.equal(onThird.items.length, 4);
    const web = await f.core.listNamespacedPod({ namespace: "default", labelSelector: "app=web" });
    assert.equal(web.items.length, 3);
    const notWeb = await f.core.listNamespacedPod({
      namespace: "default",
      labelSelector: "app notin (web),app",
    });
    assert.deepEqual(notWeb.items.map((p) => p.metadata?.labels?.app), ["cache"]);
    const byName = await f.core.listNamespacedPod({
      namespace: "default",
      fieldSelector: "metadata.name=standalone",
    });
    assert.deepEqual(names(byName.items), ["standalone"]);
    const running = await f.core.listPodForAllNamespaces({ fieldSelector: "status.phase=Running" });
    assert.equal(running.items.length, (await f.core.listPodForAllNamespaces()).items.length);
    const status = await expectStatus(
      400,
      () => f.core.listPodForAllNamespaces({ fieldSelector: "spec.bogus=x" }),
    );
    assert.equal(status.reason, "BadRequest");
    assert.match(String(status.message), /field label not supported: spec\.bogus/);
  },
);

Deno.test("pods are created, read and deleted; a missing namespace is 404", async () => {
  await using f = await withCluster();
  const created = await f.core.createNamespacedPod({
    namespace: "default",
    body: {
      metadata: { generateName: "probe-", labels: { app: "probe" } },
      spec: { nodeName: "heal-worker2", containers: [{ name: "c", image: "busybox" }] },
    },
  });
  const name = created.metadata!.name!;
  assert.match(name, /^probe-[a-z0-9]{5}$/);
  assert.ok(created.metadata?.uid);
  const read = await f.core.readNamespacedPod({ name, namespace: "default" });
  assert.equal(read.spec?.nodeName, "heal-worker2");
  await f.core.deleteNamespacedPod({ name, namespace: "default" });
  await expectStatus(404, () => f.core.readNamespacedPod({ name, namespace: "default" }));
  const missing = await expectStatus(404, () =>
    f.core.createNamespacedPod({
      namespace: "nowhere",
      body: { metadata: { name: "x" }, spec: { containers: [{ name: "c", image: "i" }] } },
    }));
  assert.equal(missing.message, 'namespaces "nowhere" not found');
  const invalid = await expectStatus(
    422,
    () =>
      f.core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "nospec" } } }),
  );
  assert.equal(invalid.reason, "Invalid");
});

Deno.test("a strategic merge patch cordons like kubectl and null uncordons", async () => {
  await using f = await withCluster();
  const before = await f.core.readNode({ name: "heal-worker" });
  const cordoned = await f.core.patchNode(
    { name: "heal-worker", body: { spec: { unschedulable: true } } },
    strategic,
  );
  assert.equal(cordoned.spec?.unschedulable, true);
  assert.ok(Number(cordoned.metadata?.resourceVersion) > Number(before.metadata?.resourceVersion));
  assert.equal(storedNode(f, "heal-worker").spec?.unschedulable, true);
  const uncordoned = await f.core.patchNode(
    { name: "heal-worker", body: { spec: { unschedulable: null } } },
    strategic,
  );
  assert.equal(uncordoned.spec?.unschedulable, undefined);
  assert.equal(uncordoned.spec?.podCIDR, before.spec?.podCIDR);
});

Deno.test(
  "a strategic merge patch updates one node condition by type and keeps the others",
  async () => {
    await using f = await withCluster();
    await f.core.patchNodeStatus({
      name: "heal-worker2",
      body: {
        status: { conditions: [{ type: "Ready", status: "False", reason: "KubeletNotReady" }] },
      },
    }, strategic);
    const node = await f.core.readNode({ name: "heal-worker2" });
    const conditions = node.status?.conditions ?? [];
    assert.equal(conditions.length, 4);
    assert.equal(conditions.find((c) => c.type === "Ready")?.status, "False");
    assert.equal(conditions.find((c) => c.type === "MemoryPressure")?.status, "False");
  },
);

Deno.test("a merge patch merges maps and deletes keys set to null", async () => {
  await using f = await withCluster();
  await f.core.patchNode({
    name: "heal-worker2",
    body: { metadata: { labels: { team: "sre" }, annotations: { "node-heal.io/owner": "x" } } },
  }, merge);
  const patched = await f.core.patchNode({
    name: "heal-worker2",
    body: { metadata: { annotations: { "node-heal.io/owner": null } } },
  }, merge);
  assert.equal(patched.metadata?.labels?.team, "sre");
  assert.equal(patched.metadata?.labels?.["kubernetes.io/hostname"], "heal-worker2");
  assert.equal(patched.metadata?.annotations?.["node-heal.io/owner"], undefined);
});

Deno.test(
  "a JSON patch applies in order and a failed test op is 422 and changes nothing",
  async () => {
    await using f = await withCluster();
    const node = await f.core.readNode({ name: "heal-worker3" });
    const rv = node.metadata!.resourceVersion!;
    const patched = await f.core.patchNode({
      name: "heal-worker3",
      body: [
        { op: "test", path: "/metadata/resourceVersion", value: rv },
        { op: "add", path: "/metadata/annotations/node-heal.io~1step", value: "cordon" },
        { op: "replace", path: "/spec/unschedulable", value: true },
      ],
    }, jsonPatch);
    assert.equal(patched.metadata?.annotations?.["node-heal.io/step"], "cordon");
    assert.equal(patched.spec?.unschedulable, true);
    const status = await expectStatus(422, () =>
      f.core.patchNode({
        name: "heal-worker3",
        body: [
          { op: "test", path: "/metadata/resourceVersion", value: rv },
          { op: "replace", path: "/spec/unschedulable", value: false },
        ],
      }, jsonPatch));
    assert.equal(status.kind, "Status");
    assert.equal(storedNode(f, "heal-worker3").spec?.unschedulable, true);
  },
);

Deno.test("a patch carrying a stale resourceVersion is 409 Conflict", async () => {
  await using f = await withCluster();
  const node = await f.core.readNode({ name: "heal-worker" });
  await f.core.patchNode(
    { name: "heal-worker", body: { metadata: { labels: { a: "1" } } } },
    merge,
  );
  const status = await expectStatus(409, () =>
    f.core.patchNode({
      name: "heal-worker",
      body: { metadata: { resourceVersion: node.metadata!.resourceVersion, labels: { a: "2" } } },
    }, merge));
  assert.equal(status.reason, "Conflict");
  assert.equal(f.cluster.api.read("Node", "heal-worker")?.metadata?.labels?.a, "1");
});

Deno.test(
  "an update with a stale resourceVersion is 409 Conflict and the fresh one succeeds",
  async () => {
    await using f = await withCluster();
    const stale = await f.core.readNode({ name: "heal-worker" });
    const fresh = await f.core.readNode({ name: "heal-worker" });
    fresh.spec!.unschedulable = true;
    const updated = await f.core.replaceNode({ name: "heal-worker", body: fresh });
    assert.equal(updated.spec?.unschedulable, true);
    stale.metadata!.labels = { ...stale.metadata!.labels, stale: "yes" };
    const status = await expectStatus(
      409,
      () => f.core.replaceNode({ name: "heal-worker", body: stale }),
    );
    assert.equal(status.reason, "Conflict");
    assert.equal(
      status.message,
      'Operation cannot be fulfilled on nodes "heal-worker": the object has been modified; please apply your changes to the latest version and try again',
    );
    assert.deepEqual(status.details, { name: "heal-worker", kind: "nodes" });
    const stored = f.cluster.api.read("Node", "heal-worker")!;
    assert.equal(stored.metadata?.labels?.stale, undefined);
    assert.equal((stored.spec as { unschedulable?: boolean }).unschedulable, true);
  },
);

Deno.test(
  "an update that changes nothing keeps the resourceVersion and sends no watch event",
  async () => {
    await using f = await withCluster();
    const node = await f.core.readNode({ name: "heal-worker2" });
    const again = await f.core.replaceNode({ name: "heal-worker2", body: node });
    assert.equal(again.metadata?.resourceVersion, node.metadata?.resourceVersion);
    const noop = await f.core.patchNode(
      { name: "heal-worker2", body: { spec: { unschedulable: null } } },
      strategic,
    );
    assert.equal(noop.metadata?.resourceVersion, node.metadata?.resourceVersion);
  },
);

Deno.test(
  "Status errors carry the real codes and reasons: 404, 409 AlreadyExists, 422, 400, 415",
  async () => {
    await using f = await withCluster();
    const missing = await expectStatus(404, () => f.core.readNode({ name: "nope" }));
    assert.deepEqual(missing, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'nodes "nope" not found',
      reason: "NotFound",
      details: { name: "nope", kind: "nodes" },
      code: 404,
    });
    const exists = await expectStatus(
      409,
      () => f.core.createNode({ body: { metadata: { name: "heal-worker" } } }),
    );
    assert.equal(exists.reason, "AlreadyExists");
    assert.equal(exists.message, 'nodes "heal-worker" already exists');
    const invalid = await expectStatus(
      422,
      () => f.core.createNode({ body: { metadata: { name: "Bad_Name" } } }),
    );
    assert.equal(invalid.reason, "Invalid");
    const causes = (invalid.details as { causes: { field: string }[] }).causes;
    assert.equal(causes[0].field, "metadata.name");

    const url = `${f.cluster.url}/api/v1/nodes/heal-worker`;
    const badJson = await fetch(url, {
      method: "PATCH",
      headers: { "content-type": k8s.PatchStrategy.MergePatch },
      body: "{not json",
    });
    assert.equal(badJson.status, 400);
    assert.equal((await badJson.json()).reason, "BadRequest");
    const unknownType = await fetch(url, {
      method: "PATCH",
      headers: { "content-type": "text/plain" },
      body: "{}",
    });
    assert.equal(unknownType.status, 415);
    assert.equal((await unknownType.json()).reason, "UnsupportedMediaType");
    const badPath = await fetch(`${f.cluster.url}/api/v1/widgets`);
    assert.equal(badPath.status, 404);
    await badPath.body?.cancel();
  },
);

Deno.test("nodes are created and deleted, and a deleted node is gone", async () => {
  await using f = await withCluster();
  const created = await f.core.createNode({
    body: { metadata: { name: "heal-worker9", labels: { pool: "extra" } } },
  });
  assert.equal(created.metadata?.name, "heal-worker9");
  assert.ok(created.metadata?.creationTimestamp);
  await f.core.deleteNode({ name: "heal-worker9" });
  await expectStatus(404, () => f.core.readNode({ name: "heal-worker9" }));
  assert.equal(f.cluster.api.read("Node", "heal-worker9"), undefined);
});

Deno.test(
  "an informer sees adds, updates and deletes, and re-lists after a 410 Gone",
  async () => {
    await using f = await withCluster();
    const informer = k8s.makeInformer(f.kc, "/api/v1/nodes", () => f.core.listNode());
    const seen: string[] = [];
    informer.on("add", (n) => seen.push(`add ${n.metadata?.name}`));
    informer.on("update", (n) => seen.push(`update ${n.metadata?.name} ${n.spec?.unschedulable}`));
    informer.on("delete", (n) => seen.push(`delete ${n.metadata?.name}`));
    const errors: unknown[] = [];
    informer.on("error", (e) => errors.push(e));
    await informer.start();
    try {
      await waitFor("the initial list", () => informer.list().length === 4);
      await waitFor("the watch to open", () => f.cluster.api.openWatches === 1);
      await f.core.createNode({ body: { metadata: { name: "heal-extra" } } });
      await f.core.patchNode(
        { name: "heal-worker", body: { spec: { unschedulable: true } } },
        strategic,
      );
      await f.core.deleteNode({ name: "heal-extra" });
      await waitFor("the watch events", () => seen.includes("delete heal-extra"));
      assert.ok(seen.includes("add heal-extra"));
      assert.ok(seen.includes("update heal-worker true"));

      // Cut the watch and forget the history: resuming is 410, so the informer must re-list.
      const listsBefore = f.cluster.api.traffic.counts()["list nodes"];
      f.cluster.api.compact();
      f.cluster.api.dropWatches();
      await f.core.createNode({ body: { metadata: { name: "heal-late" } } });
      await waitFor("a re-list", () => f.cluster.api.traffic.counts()["list nodes"] > listsBefore);
      await waitFor("the node created while disconnected", () => informer.get("heal-late"));
      const watches = f.cluster.api.traffic.requests.filter((r) => r.verb === "watch");
      assert.ok(watches.some((r) => r.code === 200 && r.bytesOut > 0));
      await f.core.patchNode(
        { name: "heal-worker2", body: { spec: { unschedulable: true } } },
        strategic,
      );
      await waitFor(
        "an update after the re-list",
        () => informer.get("heal-worker2")?.spec?.unschedulable,
      );
      assert.deepEqual(errors, []);
    } finally {
      await informer.stop();
    }
  },
);

Deno.test(
  "a watch resumes from a resourceVersion, sends bookmarks, and answers 410 for one too old",
  async () => {
    await using f = await withCluster({ bookmarkIntervalMs: 50 });
    const list = await f.core.listNode();
    const rv = list.metadata!.resourceVersion!;
    await f.core.patchNode(
      { name: "heal-worker", body: { metadata: { labels: { x: "1" } } } },
      merge,
    );
    await f.core.createNode({ body: { metadata: { name: "heal-new" } } });

    const events: { type: string; name?: string; rv?: string; annotations?: unknown }[] = [];
    const watch = new k8s.Watch(f.kc);
    const req = await watch.watch(
      "/api/v1/nodes",
      { resourceVersion: rv, allowWatchBookmarks: true },
      (type, obj) =>
        events.push({
          type,
          name: obj.metadata?.name,
          rv: obj.metadata?.resourceVersion,
          annotations: obj.metadata?.annotations,
        }),
      () => {},
    );
    try {
      await waitFor("a bookmark", () => events.some((e) => e.type === "BOOKMARK"));
      const changes = events.filter((e) => e.type !== "BOOKMARK");
      assert.deepEqual(changes.map((e) => `${e.type} ${e.name}`), [
        "MODIFIED heal-worker",
        "ADDED heal-new",
      ]);
      assert.ok(Number(changes[1].rv) > Number(changes[0].rv));
    } finally {
      req.abort();
    }

    f.cluster.api.compact();
    const gone: { type: string; code?: number }[] = [];
    const { promise: done, resolve } = Promise.withResolvers<unknown>();
    await watch.watch(
      "/api/v1/nodes",
      { resourceVersion: rv },
      (type, obj) => gone.push({ type, code: obj.code }),
      resolve,
    );
    await done;
    assert.deepEqual(gone, [{ type: "ERROR", code: 410 }]);
  },
);

Deno.test(
  "a watch with a label selector reports an object leaving the selection as DELETED",
  async () => {
    await using f = await withCluster();
    await f.core.patchNode(
      { name: "heal-worker", body: { metadata: { labels: { pool: "a" } } } },
      merge,
    );
    const events: string[] = [];
    const pools: (string | undefined)[] = [];
    const watch = new k8s.Watch(f.kc);
    const req = await watch.watch(
      "/api/v1/nodes",
      { labelSelector: "pool=a" },
      (type, obj) => {
        events.push(`${type} ${obj.metadata?.name}`);
        pools.push(obj.metadata?.labels?.pool);
      },
      () => {},
    );
    try {
      await waitFor("the initial ADDED", () => events.length === 1);
      await f.core.patchNode({
        name: "heal-worker2",
        body: { metadata: { labels: { pool: "a" } } },
      }, merge);
      await f.core.patchNode(
        { name: "heal-worker", body: { metadata: { labels: { pool: "b" } } } },
        merge,
      );
      await waitFor("the selection changes", () => events.length === 3);
      assert.deepEqual(events, ["ADDED heal-worker", "ADDED heal-worker2", "DELETED heal-worker"]);
      // The DELETED event carries the object as the watcher last saw it: still pool=a.
      assert.deepEqual(pools, ["a", "a", "a"]);
    } finally {
      req.abort();
    }
  },
);

Deno.test(
  "lists page with limit and continue and every item appears exactly once",
  async () => {
    await using f = await withCluster({ workers: 10 });
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await f.core.listNode({ limit: 3, _continue: token });
      seen.push(...names(page.items));
      token = page.metadata?._continue;
      if (token) assert.equal(page.metadata?.remainingItemCount, 11 - seen.length);
      pages++;
    } while (token);
    assert.equal(pages, 4);
    assert.equal(seen.length, 11);
    assert.equal(new Set(seen).size, 11);
  },
);

Deno.test(
  "core v1 and events.k8s.io/v1 events are one set, listed by involvedObject fields",
  async () => {
    await using f = await withCluster();
    await f.core.createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { name: "heal-worker.1" },
        involvedObject: { kind: "Node", name: "heal-worker", uid: "heal-worker" },
        reason: "NodeHealCordoned",
        message: "Cordoned for alert NodeHighCPU",
        type: "Normal",
        source: { component: "node-heal" },
        firstTimestamp: new Date(),
        lastTimestamp: new Date(),
        count: 1,
      },
    });
    const events = f.kc.makeApiClient(k8s.EventsV1Api);
    await events.createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { name: "heal-worker2.1" },
        eventTime: new k8s.V1MicroTime(),
        regarding: { kind: "Node", name: "heal-worker2", uid: "heal-worker2" },
        reason: "NodeHealSkipped",
        note: "Skipped: protected",
        type: "Normal",
        action: "Cordon",
        reportingController: "node-heal.io/controller",
        reportingInstance: "node-heal-0",
      },
    });
    const forWorker = await f.core.listEventForAllNamespaces({
      fieldSelector: "involvedObject.kind=Node,involvedObject.name=heal-worker",
    });
    assert.deepEqual(forWorker.items.map((e) => e.reason), ["NodeHealCordoned"]);
    const core2 = await f.core.listNamespacedEvent({
      namespace: "default",
      fieldSelector: "involvedObject.name=heal-worker2",
    });
    assert.equal(core2.items[0].message, "Skipped: protected");
    assert.equal(core2.items[0].reportingComponent, "node-heal.io/controller");
    const viaEventsApi = await events.listNamespacedEvent({
      namespace: "default",
      fieldSelector: "regarding.name=heal-worker",
    });
    assert.equal(viaEventsApi.items[0].note, "Cordoned for alert NodeHighCPU");
    assert.equal(viaEventsApi.items[0].regarding?.name, "heal-worker");
  },
);

Deno.test("leases are created, read and updated, and a stale update is 409", async () => {
  await using f = await withCluster();
  const coord = f.kc.makeApiClient(k8s.CoordinationV1Api);
  const nodeLease = await coord.readNamespacedLease({
    name: "heal-worker",
    namespace: "kube-node-lease",
  });
  assert.equal(nodeLease.spec?.holderIdentity, "heal-worker");
  const created = await coord.createNamespacedLease({
    namespace: "default",
    body: {
      metadata: { name: "node-heal-leader" },
      spec: { holderIdentity: "replica-a", leaseDurationSeconds: 15 },
    },
  });
  const taken = await coord.replaceNamespacedLease({
    name: "node-heal-leader",
    namespace: "default",
    body: { ...created, spec: { ...created.spec, holderIdentity: "replica-b" } },
  });
  assert.equal(taken.spec?.holderIdentity, "replica-b");
  await expectStatus(409, () =>
    coord.replaceNamespacedLease({
      name: "node-heal-leader",
      namespace: "default",
      body: { ...created, spec: { ...created.spec, holderIdentity: "replica-c" } },
    }));
  const stored = await coord.readNamespacedLease({
    name: "node-heal-leader",
    namespace: "default",
  });
  assert.equal(stored.spec?.holderIdentity, "replica-b");
});

Deno.test("discovery lists resources, subresources and pods/eviction as the real server does", async () => {
  await using f = await withCluster();
  const core = await (await fetch(`${f.cluster.url}/api/v1`)).json();
  const byName = new Map<string, Record<string, unknown>>(
    core.resources.map((r: { name: string }) => [r.name, r]),
  );
  assert.deepEqual(byName.get("pods/eviction"), {
    name: "pods/eviction",
    singularName: "",
    namespaced: true,
    group: "policy",
    version: "v1",
    kind: "Eviction",
    verbs: ["create"],
  });
  assert.deepEqual(byName.get("nodes/status")?.verbs, ["get", "patch", "update"]);
  assert.equal(byName.get("nodes")?.namespaced, false);
  const groups = await (await fetch(`${f.cluster.url}/apis`)).json();
  const groupNames = groups.groups.map((g: { name: string }) => g.name);
  for (const g of ["apps", "policy", "coordination.k8s.io", "events.k8s.io"]) {
    assert.ok(groupNames.includes(g), `group ${g} is served`);
  }
  const version = await (await fetch(`${f.cluster.url}/version`)).json();
  assert.equal(version.gitVersion, "v1.29.2");
  const apis = f.kc.makeApiClient(k8s.ApisApi);
  const fromClient = await apis.getAPIVersions();
  assert.ok(fromClient.groups.some((g) => g.name === "policy"));
});

Deno.test(
  "Table output gives kubectl's node columns, with SchedulingDisabled for a cordoned node",
  async () => {
    await using f = await withCluster();
    await f.core.patchNode(
      { name: "heal-worker", body: { spec: { unschedulable: true } } },
      strategic,
    );
    const res = await fetch(`${f.cluster.url}/api/v1/nodes`, {
      headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" },
    });
    const table = await res.json();
    assert.equal(table.kind, "Table");
    const visible = table.columnDefinitions.filter((c: { priority: number }) => c.priority === 0);
    assert.deepEqual(visible.map((c: { name: string }) => c.name), [
      "Name",
      "Status",
      "Roles",
      "Age",
      "Version",
    ]);
    const rows = table.rows.map((
      r: { cells: unknown[] },
    ) => [r.cells[0], r.cells[1], r.cells[2], r.cells[4]]);
    assert.deepEqual(rows, [
      ["heal-control-plane", "Ready", "control-plane", "v1.29.2"],
      ["heal-worker", "Ready,SchedulingDisabled", "<none>", "v1.29.2"],
      ["heal-worker2", "Ready", "<none>", "v1.29.2"],
      ["heal-worker3", "Ready", "<none>", "v1.29.2"],
    ]);
    assert.equal(table.rows[0].object.kind, "PartialObjectMetadata");
  },
);

Deno.test(
  "evictions honour PodDisruptionBudgets: 429 when none is allowed, 201 and gone when one is",
  async () => {
    await using f = await withCluster();
    const policy = f.kc.makeApiClient(k8s.PolicyV1Api);
    await policy.createNamespacedPodDisruptionBudget({
      namespace: "default",
      body: {
        metadata: { name: "web" },
        spec: { minAvailable: 3, selector: { matchLabels: { app: "web" } } },
      },
    });
    const pdb = await policy.readNamespacedPodDisruptionBudget({
      name: "web",
      namespace: "default",
    });
    assert.equal(pdb.status?.disruptionsAllowed, 0);
    assert.equal(pdb.status?.currentHealthy, 3);
    const web = await f.core.listNamespacedPod({
      namespace: "default",
      fieldSelector: "spec.nodeName=heal-worker",
      labelSelector: "app=web",
    });
    const victim = web.items[0].metadata!.name!;
    const evict = () =>
      f.core.createNamespacedPodEviction({
        name: victim,
        namespace: "default",
        body: { metadata: { name: victim, namespace: "default" } },
      });
    const blocked = await expectStatus(429, evict);
    assert.equal(blocked.reason, "TooManyRequests");
    assert.deepEqual((blocked.details as { causes: unknown[] }).causes, [{
      reason: "DisruptionBudget",
      message: "The disruption budget web needs 3 healthy pods and has 3 currently",
    }]);
    assert.ok(f.cluster.api.read("Pod", victim, "default"));

    await policy.patchNamespacedPodDisruptionBudget({
      name: "web",
      namespace: "default",
      body: { spec: { minAvailable: 2 } },
    }, merge);
    await evict();
    assert.equal(f.cluster.api.read("Pod", victim, "default"), undefined);
    const after = await policy.readNamespacedPodDisruptionBudget({
      name: "web",
      namespace: "default",
    });
    assert.equal(after.status?.currentHealthy, 2);
    assert.equal(after.status?.disruptionsAllowed, 0);
  },
);

Deno.test(
  "injected faults answer the chosen status with Retry-After, delay, and retire after N times",
  async () => {
    await using f = await withCluster();
    const api = f.cluster.api;
    api.injectFault({
      verb: "patch",
      resource: "nodes",
      status: 429,
      retryAfterSeconds: 2,
      times: 1,
    });
    const res = await fetch(`${f.cluster.url}/api/v1/nodes/heal-worker`, {
      method: "PATCH",
      headers: { "content-type": k8s.PatchStrategy.MergePatch },
      body: JSON.stringify({ metadata: { labels: { a: "b" } } }),
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "2");
    assert.equal((await res.json()).reason, "TooManyRequests");
    assert.equal(api.read("Node", "heal-worker")?.metadata?.labels?.a, undefined);
    await f.core.patchNode(
      { name: "heal-worker", body: { metadata: { labels: { a: "b" } } } },
      merge,
    );
    assert.equal(api.read("Node", "heal-worker")?.metadata?.labels?.a, "b");

    const remove = api.injectFault({
      verb: "get",
      resource: "nodes",
      name: "heal-worker2",
      latencyMs: 150,
    });
    const started = performance.now();
    await f.core.readNode({ name: "heal-worker2" });
    const delayed = performance.now() - started;
    remove();
    assert.ok(delayed >= 140, `the read was delayed (${delayed} ms)`);

    api.injectFault({ resource: "nodes", status: 500, rate: 0 });
    await f.core.readNode({ name: "heal-worker2" });
  },
);

Deno.test(
  "an injected in-band fault starts a watch and ends it with one ERROR event; other verbs get the status",
  async () => {
    await using f = await withCluster();
    const api = f.cluster.api;
    api.injectFault({ resource: "nodes", status: 410, inBand: true, message: "too old" });
    const events: { type: string; code?: number; reason?: string; message?: string }[] = [];
    const { promise: done, resolve } = Promise.withResolvers<unknown>();
    await new k8s.Watch(f.kc).watch(
      "/api/v1/nodes",
      { resourceVersion: "1" },
      (type, obj) =>
        events.push({ type, code: obj.code, reason: obj.reason, message: obj.message }),
      resolve,
    );
    assert.equal(await done, null, "the stream ended normally");
    assert.deepEqual(events, [{ type: "ERROR", code: 410, reason: "Expired", message: "too old" }]);
    const watch = api.traffic.requests.find((r) => r.verb === "watch")!;
    assert.equal(watch.code, 200);
    assert.ok(watch.bytesOut > 0);
    await expectStatus(410, () => f.core.listNode());
  },
);

Deno.test("the request record counts verbs, resources and bytes", async () => {
  await using f = await withCluster();
  f.cluster.api.traffic.reset();
  await f.core.listNode();
  await f.core.readNode({ name: "heal-worker" });
  await f.core.patchNode(
    { name: "heal-worker", body: { spec: { unschedulable: true } } },
    strategic,
  );
  await expectStatus(404, () => f.core.readNode({ name: "ghost" }));
  assert.deepEqual(f.cluster.api.traffic.counts(), {
    "list nodes": 1,
    "get nodes": 2,
    "patch nodes": 1,
  });
  const [list, get, patch, missing] = f.cluster.api.traffic.requests;
  assert.ok(list.bytesOut > get.bytesOut);
  assert.equal(patch.bytesIn, JSON.stringify({ spec: { unschedulable: true } }).length);
  assert.equal(patch.code, 200);
  assert.equal(missing.code, 404);
  assert.equal(missing.name, "ghost");
});

Deno.test(
  "dry runs never write: dryRun=All in the query, in DeleteOptions and in an Eviction; other values are refused",
  async () => {
    await using f = await withCluster();
    const url = f.cluster.url;
    const del = await fetch(`${url}/api/v1/nodes/heal-worker2`, {
      method: "DELETE",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "DeleteOptions", apiVersion: "v1", dryRun: ["All"] }),
    });
    assert.equal(del.status, 200);
    await del.body?.cancel();
    assert.ok(f.cluster.api.read("Node", "heal-worker2"), "the node is still there");
    await f.core.deleteNode({ name: "heal-worker2", dryRun: "All" });
    assert.ok(f.cluster.api.read("Node", "heal-worker2"));
    const typo = await fetch(`${url}/api/v1/nodes/heal-worker2?dryRun=Al`, { method: "DELETE" });
    assert.equal(typo.status, 422);
    assert.match((await typo.json()).message, /Unsupported value: "Al"/);
    assert.ok(f.cluster.api.read("Node", "heal-worker2"));

    const standalone = "standalone";
    await f.core.createNamespacedPodEviction({
      name: standalone,
      namespace: "default",
      body: { metadata: { name: standalone }, deleteOptions: { dryRun: ["All"] } },
    });
    assert.ok(f.cluster.api.read("Pod", standalone, "default"), "a dry-run eviction keeps the pod");
  },
);

Deno.test(
  "a single GET answers a Table when asked, as kubectl get node NAME needs",
  async () => {
    await using f = await withCluster();
    const res = await fetch(`${f.cluster.url}/api/v1/nodes/heal-worker`, {
      headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" },
    });
    const table = await res.json();
    assert.equal(table.kind, "Table");
    assert.deepEqual(table.rows.map((r: { cells: unknown[] }) => r.cells.slice(0, 2)), [
      ["heal-worker", "Ready"],
    ]);
  },
);

Deno.test("a malformed PodDisruptionBudget is refused and nothing else breaks", async () => {
  await using f = await withCluster();
  const res = await fetch(
    `${f.cluster.url}/apis/policy/v1/namespaces/default/poddisruptionbudgets`,
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        metadata: { name: "broken" },
        spec: { minAvailable: 1, selector: { matchExpressions: {} } },
      }),
    },
  );
  assert.equal(res.status, 422);
  await res.body?.cancel();
  assert.equal(f.cluster.api.read("PodDisruptionBudget", "broken", "default"), undefined);
  const labelled = await f.core.patchNamespacedPod({
    name: "standalone",
    namespace: "default",
    body: { metadata: { labels: { x: "1" } } },
  }, merge);
  assert.equal(labelled.metadata?.labels?.x, "1");
});

Deno.test(
  "a watch from a resourceVersion ahead of the server gets no older events, and a list from one is 504",
  async () => {
    await using f = await withCluster();
    const ahead = String(Number((await f.core.listNode()).metadata!.resourceVersion) + 1000);
    const events: string[] = [];
    const watch = new k8s.Watch(f.kc);
    const req = await watch.watch(
      "/api/v1/nodes",
      { resourceVersion: ahead },
      (type, obj) => events.push(`${type} ${obj.metadata?.name}`),
      () => {},
    );
    try {
      await f.core.patchNode(
        { name: "heal-worker", body: { metadata: { labels: { a: "1" } } } },
        merge,
      );
      // A second watch from now sees the patch: by then the first one has had it too, if at all.
      const seen: string[] = [];
      const now = await f.core.listNode();
      await f.core.patchNode(
        { name: "heal-worker", body: { metadata: { labels: { a: "2" } } } },
        merge,
      );
      const req2 = await watch.watch(
        "/api/v1/nodes",
        { resourceVersion: now.metadata!.resourceVersion },
        (type, obj) => seen.push(`${type} ${obj.metadata?.name}`),
        () => {},
      );
      await waitFor("the control watch", () => seen.length > 0);
      req2.abort();
      assert.deepEqual(events, []);
    } finally {
      req.abort();
    }
    const list = await fetch(`${f.cluster.url}/api/v1/nodes?resourceVersion=${ahead}`);
    assert.equal(list.status, 504);
    assert.match((await list.json()).message, /Too large resource version/);
  },
);

Deno.test(
  "evictions ignore budgets for pods that are Pending or already being deleted",
  async () => {
    await using f = await withCluster();
    const policy = f.kc.makeApiClient(k8s.PolicyV1Api);
    await policy.createNamespacedPodDisruptionBudget({
      namespace: "default",
      body: { metadata: { name: "all" }, spec: { minAvailable: "100%", selector: {} } },
    });
    await f.core.patchNamespacedPodStatus({
      name: "standalone",
      namespace: "default",
      body: { status: { phase: "Pending" } },
    }, merge);
    await f.core.createNamespacedPodEviction({
      name: "standalone",
      namespace: "default",
      body: { metadata: { name: "standalone" } },
    });
    assert.equal(f.cluster.api.read("Pod", "standalone", "default"), undefined);
  },
);

Deno.test(
  "namespaces: defaults on create, protected ones cannot be deleted, no delete-collection",
  async () => {
    await using f = await withCluster();
    const ns = await f.core.createNamespace({ body: { metadata: { name: "scratch" } } });
    assert.equal(ns.status?.phase, "Active");
    assert.equal(ns.metadata?.labels?.["kubernetes.io/metadata.name"], "scratch");
    const forbidden = await expectStatus(
      403,
      () => f.core.deleteNamespace({ name: "kube-system" }),
    );
    assert.equal(forbidden.reason, "Forbidden");
    const collection = await fetch(`${f.cluster.url}/api/v1/namespaces`, { method: "DELETE" });
    assert.equal(collection.status, 405);
    await collection.body?.cancel();
    const pod = await f.core.createNamespacedPod({
      namespace: "scratch",
      body: { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "i" }] } },
    });
    assert.equal(pod.status?.phase, "Pending");
    await f.core.deleteNamespace({ name: "scratch" });
    assert.equal(f.cluster.api.read("Pod", "p", "scratch"), undefined);
  },
);

Deno.test(
  "server-managed fields: no resourceVersion on create, no client-set deletionTimestamp or generation",
  async () => {
    await using f = await withCluster();
    const created = await fetch(`${f.cluster.url}/api/v1/nodes`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ metadata: { name: "x", resourceVersion: "5" } }),
    });
    assert.equal(created.status, 500);
    assert.match((await created.json()).message, /resourceVersion should not be set/);
    const patched = await f.core.patchNode({
      name: "heal-worker",
      body: { metadata: { deletionTimestamp: "2030-01-01T00:00:00Z", generation: 9 } },
    }, merge);
    assert.equal(patched.metadata?.deletionTimestamp, undefined);
    assert.equal(patched.metadata?.generation, undefined);
  },
);

Deno.test(
  "events.k8s.io/v1 selects by its own field names; remainingItemCount only without selectors",
  async () => {
    await using f = await withCluster();
    const bad = await fetch(
      `${f.cluster.url}/apis/events.k8s.io/v1/events?fieldSelector=involvedObject.name%3Dx`,
    );
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    const ok = await fetch(
      `${f.cluster.url}/apis/events.k8s.io/v1/events?fieldSelector=regarding.name%3Dx`,
    );
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const filtered = await f.core.listPodForAllNamespaces({ limit: 2, labelSelector: "app=web" });
    assert.ok(filtered.metadata?._continue);
    assert.equal(filtered.metadata?.remainingItemCount, undefined);
  },
);
