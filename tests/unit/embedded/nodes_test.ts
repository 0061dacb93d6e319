// Unit tests of the seeded Nodes: real-sized, deterministic, and keeping what node-heal reads.
import assert from "node:assert/strict";
import { defaultTopology, nodeAddress, workerName } from "../../../lib/embedded/seed/topology.ts";
import { NODE_CLOUDS } from "../../../lib/embedded/nodes/clouds.ts";
import { MAX_NODE_IMAGES } from "../../../lib/embedded/nodes/status.ts";
import type { KubeObject } from "../../../lib/embedded/store/objects.ts";

const NOW = Date.UTC(2024, 4, 1);

interface NodeView {
  metadata: {
    name: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    managedFields: { manager: string; fieldsType: string; time: string; subresource?: string }[];
  };
  spec: { providerID: string; podCIDR: string; podCIDRs: string[]; taints?: unknown[] };
  status: {
    addresses: { type: string; address: string }[];
    conditions: { type: string; status: string; lastHeartbeatTime: string }[];
    images: { names: string[]; sizeBytes: number }[];
    capacity: Record<string, string>;
    allocatable: Record<string, string>;
    nodeInfo: Record<string, string>;
    volumesInUse?: string[];
    volumesAttached?: { name: string }[];
  };
}

function nodesOf(objects: KubeObject[]): NodeView[] {
  return objects.filter((o) => o.kind === "Node") as unknown as NodeView[];
}

function meanSize(nodes: NodeView[]): number {
  return nodes.reduce((sum, n) => sum + JSON.stringify(n).length, 0) / nodes.length;
}

Deno.test("a 100-worker default topology has Nodes of 10-30 KB of JSON on average", () => {
  const nodes = nodesOf(defaultTopology({ workers: 100, now: NOW }));
  assert.equal(nodes.length, 101);
  const mean = meanSize(nodes);
  assert.ok(mean >= 10 * 1024 && mean <= 30 * 1024, `mean Node size ${Math.round(mean)} bytes`);
});

Deno.test("every seeded Node keeps the fields node-heal reads, in every cloud style", () => {
  for (const cloud of NODE_CLOUDS) {
    const nodes = nodesOf(defaultTopology({ workers: 100, now: NOW, cloud }));
    const mean = meanSize(nodes);
    assert.ok(mean >= 10 * 1024 && mean <= 30 * 1024, `${cloud}: mean ${Math.round(mean)} bytes`);
    nodes.forEach((n, i) => {
      const name = i === 0 ? "heal-control-plane" : workerName(i);
      const where = `${cloud} ${name}`;
      assert.equal(n.metadata.name, name);
      assert.deepEqual(n.status.addresses[0], { type: "InternalIP", address: nodeAddress(i) });
      assert.deepEqual(n.status.addresses.find((a) => a.type === "Hostname")?.address, name);
      const ready = n.status.conditions.find((c) => c.type === "Ready");
      assert.equal(ready?.status, "True", where);
      assert.equal(n.status.conditions.at(-1)?.type, "Ready", where);
      assert.equal(n.metadata.labels["kubernetes.io/hostname"], name, where);
      assert.equal(n.status.nodeInfo.kubeletVersion, "v1.29.2", where);
      const controlPlane = "node-role.kubernetes.io/control-plane" in n.metadata.labels;
      assert.equal(controlPlane, i === 0, where);
      assert.equal(n.spec.taints !== undefined, i === 0, where);
      assert.equal(n.spec.podCIDRs[0], n.spec.podCIDR);
      assert.ok(n.status.images.length > 20 && n.status.images.length <= MAX_NODE_IMAGES, where);
      for (const image of n.status.images) {
        assert.match(image.names[0], /^[a-z0-9./:-]+@sha256:[0-9a-f]{64}$/, where);
      }
      const managers = new Set(n.metadata.managedFields.map((m) => m.manager));
      assert.ok(managers.has("kubelet") && managers.has("kube-controller-manager"), where);
      assert.ok(n.metadata.managedFields.every((m) => m.fieldsType === "FieldsV1"), where);
      assert.ok(
        n.metadata.managedFields.some((m) => m.manager === "kubelet" && m.subresource === "status"),
      );
      if (cloud !== "kind") {
        const labels = Object.keys(n.metadata.labels).length;
        assert.ok(labels >= 20 && labels <= 40, `${where}: ${labels} labels`);
        assert.ok(n.metadata.labels["topology.kubernetes.io/zone"], where);
        assert.ok(n.metadata.annotations["csi.volume.kubernetes.io/nodeid"], where);
      }
      assert.equal(n.status.volumesInUse?.length, n.status.volumesAttached?.length, where);
    });
    assert.ok(nodes.some((n) => n.status.volumesInUse) === (cloud !== "kind"), cloud);
    const cidrs = nodes.map((n) => n.spec.podCIDR);
    assert.equal(new Set(cidrs).size, cidrs.length, `${cloud}: pod CIDRs are distinct`);
  }
});

Deno.test("the providerID follows the cloud style, and kind's stays available", () => {
  const providerOf = (cloud?: (typeof NODE_CLOUDS)[number]) =>
    nodesOf(defaultTopology({ workers: 1, now: NOW, cloud }))[1].spec.providerID;
  assert.match(providerOf(), /^aws:\/\/\/us-east-1[a-c]\/i-0[0-9a-f]{16}$/);
  assert.match(providerOf("aws"), /^aws:\/\/\//);
  assert.equal(providerOf("gcp"), `gce://acme-prod/us-central1-b/heal-worker`);
  assert.match(providerOf("azure"), /^azure:\/\/\/subscriptions\/.*\/virtualMachines\/1$/);
  assert.equal(providerOf("kind"), "kind://docker/heal/heal-worker");
});

Deno.test("seeded Nodes are the same on every run, and pod CIDRs stay valid past 255 nodes", () => {
  const a = defaultTopology({ workers: 300, now: NOW });
  const b = defaultTopology({ workers: 300, now: NOW });
  assert.deepEqual(a, b);
  const nodes = nodesOf(a);
  assert.equal(nodes[255].spec.podCIDR, "10.244.255.0/24");
  assert.equal(nodes[256].spec.podCIDR, "10.1.0.0/24");
  assert.equal(nodes[300].spec.podCIDR, "10.1.44.0/24");
  const onLast = a.find((o) =>
    o.kind === "Pod" && (o.spec as { nodeName: string }).nodeName === "heal-worker300" &&
    o.metadata?.namespace === "default"
  );
  assert.match((onLast?.status as { podIP: string }).podIP, /^10\.1\.44\.\d+$/);
  // No two Nodes share an object or array: each is its own JSON, safe to change alone.
  const seen = new Set<unknown>();
  const walk = (value: unknown) => {
    if (value === null || typeof value !== "object") return;
    assert.ok(!seen.has(value), "an object is shared between Nodes");
    seen.add(value);
    for (const v of Object.values(value)) walk(v);
  };
  for (const n of nodes) walk(n);
});
