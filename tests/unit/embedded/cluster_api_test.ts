// Unit tests of the embedded Cluster API's pure parts: the seeded MachineDeployment, MachineSet and
// Machines, Machine names, the Node annotations, and the Table columns of Machines and ConfigMaps.
import assert from "node:assert/strict";
import { defaultTopology } from "../../../lib/embedded/seed/topology.ts";
import {
  machineFor,
  machineName,
  nodeAnnotations,
  seedMachines,
  seedMachineSet,
} from "../../../lib/embedded/seed/cluster_api_objects.ts";
import { NODE_CLOUDS } from "../../../lib/embedded/nodes/clouds.ts";
import { CRD_PRINTERS } from "../../../lib/embedded/table/printers_crd.ts";
import { PRINTERS } from "../../../lib/embedded/table/printers.ts";
import type { KubeObject } from "../../../lib/embedded/store/objects.ts";

const NOW = Date.UTC(2024, 4, 1);
const AT = "2024-05-01T00:00:00Z";

interface MachineView {
  metadata: {
    name: string;
    namespace: string;
    ownerReferences: { kind: string; name: string; uid: string; controller: boolean }[];
    finalizers: string[];
  };
  spec: { clusterName: string; providerID: string; infrastructureRef: { kind: string } };
  status: { phase: string; nodeRef: { name: string } };
}

function ofKind<T>(objects: KubeObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as unknown as T[];
}

Deno.test("a cluster-api seed has one Machine per worker and no NodeClaims, in every cloud style", () => {
  const infra: string[] = [];
  for (const cloud of NODE_CLOUDS) {
    const objects = defaultTopology({ workers: 6, now: NOW, cloud, nodeManager: "cluster-api" });
    assert.deepEqual(ofKind(objects, "NodeClaim"), [], cloud);
    const [deployment] = ofKind<MachineView>(objects, "MachineDeployment");
    const [set] = ofKind<MachineView>(objects, "MachineSet");
    const machines = ofKind<MachineView>(objects, "Machine");
    assert.equal(deployment.metadata.name, "heal-md-0");
    assert.match(set.metadata.name, /^heal-md-0-[a-z0-9]{5}$/);
    assert.equal(set.metadata.ownerReferences[0].kind, "MachineDeployment");
    assert.equal(machines.length, 6, cloud);
    const nodes = ofKind<KubeObject>(objects, "Node");
    for (const m of machines) {
      assert.match(m.metadata.name, new RegExp(`^${set.metadata.name}-[a-z0-9]{5}$`));
      assert.equal(m.metadata.namespace, "default");
      assert.deepEqual(m.metadata.finalizers, ["machine.cluster.x-k8s.io"]);
      assert.equal(m.metadata.ownerReferences[0].name, set.metadata.name);
      assert.equal(m.metadata.ownerReferences[0].controller, true);
      assert.equal(m.status.phase, "Running");
      const node = nodes.find((n) => n.metadata?.name === m.status.nodeRef.name)!;
      assert.equal(m.spec.providerID, (node.spec as { providerID: string }).providerID);
      assert.equal(node.metadata!.annotations!["cluster.x-k8s.io/machine"], m.metadata.name);
      const labels = Object.keys(node.metadata!.labels!);
      assert.ok(!labels.some((k) => k.startsWith("karpenter.")), `${cloud}: ${labels}`);
    }
    assert.ok(!machines.some((m) => m.status.nodeRef.name === "heal-control-plane"));
    assert.equal(
      nodes[0].metadata!.annotations!["cluster.x-k8s.io/machine"],
      undefined,
      `${cloud}: the control plane has no Machine`,
    );
    infra.push(machines[0].spec.infrastructureRef.kind);
  }
  assert.deepEqual(infra, ["AWSMachine", "GCPMachine", "AzureMachine", "DockerMachine"]);
});

Deno.test("defaultTopology() stays Karpenter's when no nodeManager is given", () => {
  const karpenter = defaultTopology({ workers: 3, now: NOW });
  assert.deepEqual(karpenter, defaultTopology({ workers: 3, now: NOW, nodeManager: "karpenter" }));
  assert.equal(ofKind(karpenter, "Machine").length, 0);
  assert.equal(ofKind(karpenter, "NodeClaim").length, 3);
});

Deno.test("machineName() draws again on a clash; nodeAnnotations() are CAPI's five", () => {
  const first = machineName("heal-md-0-abcde", "seed", () => false);
  assert.match(first, /^heal-md-0-abcde-[a-z0-9]{5}$/);
  assert.notEqual(machineName("heal-md-0-abcde", "seed", (n) => n === first), first);
  assert.deepEqual(nodeAnnotations("m", "s"), {
    "cluster.x-k8s.io/cluster-name": "heal",
    "cluster.x-k8s.io/cluster-namespace": "default",
    "cluster.x-k8s.io/machine": "m",
    "cluster.x-k8s.io/owner-kind": "MachineSet",
    "cluster.x-k8s.io/owner-name": "s",
  });
});

Deno.test("seedMachines() of 2,000 workers gives distinct Machine names, cheaply", () => {
  const nodes: KubeObject[] = Array.from({ length: 2000 }, (_, i) => ({
    kind: "Node",
    metadata: { name: `heal-worker${i + 1}`, labels: {} },
    spec: { providerID: `aws:///us-east-1a/i-${i}` },
  }));
  const started = performance.now();
  const objects = seedMachines(nodes, AT);
  const ms = performance.now() - started;
  const machines = ofKind<MachineView>(objects, "Machine");
  assert.equal(new Set(machines.map((m) => m.metadata.name)).size, 2000);
  assert.ok(ms < 1000, `${ms} ms`);
});

Deno.test("kubectl's columns: Machines as CAPI's CRD prints them, ConfigMaps with their data count", () => {
  const node: KubeObject = {
    kind: "Node",
    metadata: { name: "heal-worker", uid: "u" },
    spec: { providerID: "aws:///us-east-1a/i-0abc" },
    status: { nodeInfo: { kubeletVersion: "v1.29.2" } },
  };
  const machine = machineFor(node, { name: "m", machineSet: seedMachineSet(), at: AT });
  const printer = CRD_PRINTERS.machines;
  assert.deepEqual(
    printer.columns.map((c) => c.name),
    ["Name", "Cluster", "NodeName", "ProviderID", "Phase", "Age", "Version"],
  );
  assert.deepEqual(printer.cells(machine, Date.parse(AT) + 60_000), [
    "m",
    "heal",
    "heal-worker",
    "aws:///us-east-1a/i-0abc",
    "Running",
    "60s",
    "v1.29.2",
  ]);
  const cm = { metadata: { name: "c", creationTimestamp: AT }, data: { a: "1" }, binaryData: {} };
  assert.deepEqual(PRINTERS.configmaps.cells(cm, Date.parse(AT)), ["c", 1, "0s"]);
});
