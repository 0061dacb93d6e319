import assert from "node:assert/strict";
import { alertOf } from "../../alerts.ts";
import type { Node } from "../../../lib/node.ts";
import { instanceHost, NodeIndex, resolveAlert } from "../../../lib/resolve/node_index.ts";

function node(name: string, rv: string, ...addresses: [string, string][]): Node {
  return {
    metadata: { name, resourceVersion: rv },
    status: { addresses: addresses.map(([type, address]) => ({ type, address })) },
  };
}

function index(): NodeIndex {
  const i = new NodeIndex();
  i.upsert(node("heal-worker", "1", ["InternalIP", "172.18.0.3"], ["Hostname", "heal-worker"]));
  i.upsert(node("heal-worker2", "1", ["InternalIP", "172.18.0.4"], ["ExternalIP", "203.0.113.4"]));
  i.upsert(node("ip6-node", "1", ["InternalIP", "fd00::5"]));
  i.upsert(
    node("ip-10-0-0-7.ec2.internal", "1", ["InternalIP", "10.0.0.7"], ["Hostname", "ip-10-0-0-7"]),
  );
  return i;
}

Deno.test("instanceHost() strips the port from every form of instance", () => {
  assert.equal(instanceHost("172.18.0.3:9100"), "172.18.0.3");
  assert.equal(instanceHost("172.18.0.3"), "172.18.0.3");
  assert.equal(instanceHost("[fd00::5]:9100"), "fd00::5");
  assert.equal(instanceHost("[fd00::5]"), "fd00::5");
  assert.equal(instanceHost("fd00::5"), "fd00::5");
  assert.equal(instanceHost("heal-worker:9100"), "heal-worker");
  assert.equal(instanceHost(" heal-worker "), "heal-worker");
});

Deno.test("resolveAlert() matches instance against InternalIP, ExternalIP, Hostname and name", () => {
  const i = index();
  const name = (labels: Record<string, string>) =>
    resolveAlert(alertOf(labels), i).node?.metadata.name;
  assert.equal(name({ instance: "172.18.0.3:9100" }), "heal-worker");
  assert.equal(name({ instance: "203.0.113.4:9100" }), "heal-worker2");
  assert.equal(name({ instance: "[fd00::5]:9100" }), "ip6-node");
  assert.equal(name({ instance: "FD00::5" }), "ip6-node");
  assert.equal(name({ instance: "heal-worker2:9100" }), "heal-worker2");
  assert.equal(name({ instance: "ip-10-0-0-7.ec2.internal:9100" }), "ip-10-0-0-7.ec2.internal");
  assert.equal(name({ instance: "heal-worker.example.com:9100" }), "heal-worker");
});

Deno.test("resolveAlert() goes by the first of node, nodename, kubernetes_node, instance, without falling back", () => {
  const i = index();
  const r = resolveAlert(
    alertOf({ nodename: "heal-worker2", instance: "172.18.0.3:9100", kubernetes_node: "ip6-node" }),
    i,
  );
  assert.equal(r.node?.metadata.name, "heal-worker2");
  assert.equal(r.node && r.label, "nodename");
  const byNode = resolveAlert(alertOf({ node: "heal-worker", nodename: "heal-worker2" }), i);
  assert.equal(byNode.node?.metadata.name, "heal-worker");
  // A node label that names no node does not fall back to instance (the exporter's host).
  const noFallback = resolveAlert(alertOf({ node: "gone", instance: "172.18.0.4:9100" }), i);
  assert.deepEqual(noFallback, { reason: "unknown", label: "node", key: "gone" });
});

Deno.test("resolveAlert() says why when no single node matches", () => {
  const i = index();
  assert.deepEqual(resolveAlert(alertOf({ alertname: "X" }), i), { reason: "no-label" });
  assert.deepEqual(resolveAlert(alertOf({ instance: "10.9.9.9:9100" }), i), {
    reason: "unknown",
    label: "instance",
    key: "10.9.9.9",
  });
  i.upsert(node("twin", "1", ["InternalIP", "172.18.0.3"]));
  assert.equal(resolveAlert(alertOf({ instance: "172.18.0.3:9100" }), i).node, undefined);
  assert.equal(
    (resolveAlert(alertOf({ instance: "172.18.0.3:9100" }), i) as { reason: string }).reason,
    "ambiguous",
  );
});

Deno.test("NodeIndex follows address changes and deletions, and ignores older resourceVersions", () => {
  const i = index();
  i.upsert(node("heal-worker", "5", ["InternalIP", "172.18.0.99"]));
  assert.deepEqual(i.lookup("172.18.0.3"), []);
  assert.deepEqual(i.lookup("172.18.0.99"), ["heal-worker"]);
  i.upsert(node("heal-worker", "4", ["InternalIP", "172.18.0.3"]));
  assert.deepEqual(i.lookup("172.18.0.99"), ["heal-worker"], "an older version does not win");
  i.remove("heal-worker");
  assert.deepEqual(i.lookup("172.18.0.99"), []);
  assert.equal(i.get("heal-worker"), undefined);
  i.replaceAll([node("only", "9", ["InternalIP", "10.1.1.1"])]);
  assert.equal(i.size, 1);
  assert.equal(i.synced, true);
  assert.deepEqual(i.lookup("172.18.0.4"), []);
});
