import assert from "node:assert/strict";
import { alertOf } from "../../support/alerts.ts";
import type { Node } from "../../../lib/base/node.ts";
import { NodeIndex, resolveAlert, unresolvedMessage } from "../../../lib/resolve/node_index.ts";
import { canonicalIpv6, foldAscii, parseHost } from "../../../lib/resolve/host.ts";

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
  i.upsert(node("loopback6", "1", ["InternalIP", "::1"]));
  i.upsert(
    node(
      "worker-1",
      "1",
      ["InternalIP", "10.0.1.5"],
      ["InternalDNS", "ip-10-0-1-5.prod.example.com"],
      ["ExternalDNS", "ec2-203-0-113-9.compute-1.amazonaws.com"],
      ["Hostname", "worker-1"],
    ),
  );
  return i;
}

Deno.test("parseHost() reads every form of host, with or without a port", () => {
  const key = (v: string) => {
    const h = parseHost(v);
    return "key" in h ? `${h.kind} ${h.key}` : `invalid: ${h.invalid}`;
  };
  assert.equal(key("172.18.0.3:9100"), "ipv4 172.18.0.3");
  assert.equal(key("172.18.0.3"), "ipv4 172.18.0.3");
  assert.equal(key("[fd00::5]:9100"), "ipv6 fd00::5");
  assert.equal(key("[fd00::5]"), "ipv6 fd00::5");
  assert.equal(key("fd00::5"), "ipv6 fd00::5");
  assert.equal(key("[FD00:0:0:0:0:0:0:0005]:9100"), "ipv6 fd00::5");
  assert.equal(key("[::1]:9100"), "ipv6 ::1");
  assert.equal(key("::ffff:172.18.0.3"), "ipv6 ::ffff:ac12:3");
  assert.equal(key("heal-worker:9100"), "name heal-worker");
  assert.equal(key("Heal-Worker.Example.COM.:9100"), "name heal-worker.example.com");
});

Deno.test("parseHost() takes no value that is not a host name or address", () => {
  const cases: [string, RegExp][] = [
    ["heal-worker..evil", /an empty label/],
    [".heal-worker", /an empty label/],
    ["heal-worker..", /more than one trailing dot/],
    ["heal-worker\u0000", /a control character/],
    ["heal-worker\n", /a control character/],
    [" heal-worker ", /a space/],
    ["heal-worker\u200b", /a control character/],
    [`${"a".repeat(250)}.com`, /longer than 253 characters/],
    [`${"a".repeat(64)}.example.com`, /a label longer than 63/],
    ["heal-worker:", /a port/],
    ["heal-worker:99999", /a port/],
    ["heal-worker:http", /a port/],
    ["[heal-worker]:9100", /no IPv6 address/],
    ["fe80::1%eth0", /no IPv6 address/],
    ["1:2:3:4:5:6:7:8:9", /no IPv6 address/],
    ["1::2::3", /no IPv6 address/],
    ["172.18.0.3.", /trailing dot/],
    ["", /empty/],
  ];
  for (const [value, why] of cases) {
    const h = parseHost(value);
    assert.ok("invalid" in h, `${JSON.stringify(value)} is no host`);
    assert.match(h.invalid, why, JSON.stringify(value));
  }
});

Deno.test("canonicalIpv6() writes every spelling of an address in RFC 5952 form", () => {
  assert.equal(canonicalIpv6("2001:DB8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(canonicalIpv6("2001:db8:0000:0:0:0:0:1"), "2001:db8::1");
  assert.equal(canonicalIpv6("0:0:0:0:0:0:0:0"), "::");
  assert.equal(canonicalIpv6("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
  assert.equal(canonicalIpv6("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4", "the first of two equal runs");
  assert.equal(canonicalIpv6("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7", "one zero group stays");
  assert.equal(canonicalIpv6("::ffff:1.2.3.4"), "::ffff:102:304");
  assert.equal(canonicalIpv6("1.2.3.4::"), undefined);
  assert.equal(canonicalIpv6("::ffff:1.2.3.256"), undefined);
  assert.equal(canonicalIpv6("12345::"), undefined);
});

Deno.test("foldAscii() lowercases ASCII letters alone: the Kelvin sign is no k", () => {
  assert.equal(foldAscii("HEAL-Worker"), "heal-worker");
  assert.equal(foldAscii("heal-wor\u212Aer"), "heal-wor\u212Aer");
  assert.equal("heal-wor\u212Aer".toLowerCase(), "heal-worker", "what toLowerCase() would do");
  assert.equal(foldAscii("\u0130"), "\u0130", "nor is the dotted capital I an i");
});

Deno.test("resolveAlert() matches a Node's name and its addresses exactly, with or without a port", () => {
  const i = index();
  const name = (labels: Record<string, string>) =>
    resolveAlert(alertOf(labels), i).node?.metadata.name;
  assert.equal(name({ instance: "172.18.0.3:9100" }), "heal-worker");
  assert.equal(name({ instance: "172.18.0.3" }), "heal-worker");
  assert.equal(name({ instance: "203.0.113.4:9100" }), "heal-worker2");
  assert.equal(name({ instance: "[fd00::5]:9100" }), "ip6-node");
  assert.equal(name({ instance: "FD00::5" }), "ip6-node");
  assert.equal(name({ instance: "[fd00:0::0:5]:9100" }), "ip6-node", "in RFC 5952 form");
  assert.equal(name({ instance: "[::1]:9100" }), "loopback6");
  assert.equal(name({ instance: "heal-worker2:9100" }), "heal-worker2");
  assert.equal(name({ node: "HEAL-WORKER2" }), "heal-worker2", "ASCII case folded");
  assert.equal(name({ instance: "ip-10-0-0-7.ec2.internal:9100" }), "ip-10-0-0-7.ec2.internal");
  assert.equal(name({ instance: "ip-10-0-0-7.ec2.internal.:9100" }), "ip-10-0-0-7.ec2.internal");
  assert.equal(name({ instance: "ip-10-0-0-7:9100" }), "ip-10-0-0-7.ec2.internal", "Hostname");
  assert.equal(name({ node: "worker-1.prod.example.com" }), "worker-1", "full InternalDNS");
  assert.equal(name({ node: "ec2-203-0-113-9.compute-1.amazonaws.com" }), "worker-1");
  assert.equal(name({ instance: "10.0.1.5:9100" }), "worker-1");
});

Deno.test("resolveAlert() takes a Node's short name in a domain only where one of its own DNS addresses is", () => {
  const i = index();
  const name = (labels: Record<string, string>) =>
    resolveAlert(alertOf(labels), i).node?.metadata.name;
  // worker-1's InternalDNS is in prod.example.com, its ExternalDNS in compute-1.amazonaws.com.
  assert.equal(name({ instance: "worker-1.prod.example.com:9100" }), "worker-1");
  assert.equal(name({ instance: "WORKER-1.Prod.Example.Com.:9100" }), "worker-1");
  assert.equal(name({ instance: "worker-1.compute-1.amazonaws.com:9100" }), "worker-1");
  assert.equal(name({ instance: "worker-1.staging.example.com:9100" }), undefined);
  assert.equal(name({ instance: "worker-1.example.com:9100" }), undefined, "a parent domain");
  assert.equal(name({ instance: "worker-1.dev.prod.example.com:9100" }), undefined, "a subdomain");
  // heal-worker's only DNS address is its one-label Hostname: it has no domain.
  assert.equal(name({ instance: "heal-worker.example.com:9100" }), undefined);
  // A domain goes with the address that gave it.
  i.upsert(node("worker-1", "2", ["InternalIP", "10.0.1.5"], ["Hostname", "worker-1"]));
  assert.equal(name({ instance: "worker-1.prod.example.com:9100" }), undefined);
  assert.equal(name({ instance: "worker-1:9100" }), "worker-1");
});

Deno.test("resolveAlert() leaves every hostile value of issue 26 unknown", () => {
  const i = index();
  const hostile: Record<string, string>[] = [
    { instance: "heal-worker.other-cluster.example:9100" },
    { node: "heal-worker.staging" },
    { instance: "HEAL-WORKER3.EVIL.EXAMPLE:9100" },
    { instance: "heal-worker..evil" },
    { node: "heal-wor\u212Aer" },
  ];
  i.upsert(node("heal-worker3", "1", ["InternalIP", "172.18.0.5"], ["Hostname", "heal-worker3"]));
  for (const labels of hostile) {
    const r = resolveAlert(alertOf(labels), i);
    assert.equal(r.node, undefined, JSON.stringify(labels));
    assert.equal(r.node === undefined && r.reason, "unknown", JSON.stringify(labels));
  }
  const empty = resolveAlert(alertOf({ instance: "heal-worker..evil" }), i);
  assert.equal(
    empty.node === undefined && unresolvedMessage(empty),
    'No single node matches instance="heal-worker..evil" (unknown: an empty label)',
  );
  const kelvin = resolveAlert(alertOf({ node: "heal-wor\u212Aer" }), i);
  assert.equal(
    kelvin.node === undefined && unresolvedMessage(kelvin),
    'No single node matches node="heal-wor\u212Aer" (unknown)',
  );
});

Deno.test("resolveAlert() finds a Node by its name before any Node that claims the name as an address", () => {
  const i = index();
  // A kubelet sets its Node's addresses: one claiming another Node's name does not take it over.
  i.upsert(node("rogue", "1", ["InternalIP", "10.6.6.6"], ["Hostname", "heal-worker"]));
  assert.equal(
    resolveAlert(alertOf({ node: "heal-worker" }), i).node?.metadata.name,
    "heal-worker",
  );
  assert.deepEqual(i.lookup("heal-worker").sort(), ["heal-worker", "rogue"]);
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

Deno.test("NodeIndex finds a Node by what its latest version says, addresses kept or changed", () => {
  const i = index();
  i.upsert(node("w", "1", ["InternalIP", "10.0.0.1"], ["Hostname", "w.example.com"]));
  // A new version with the same addresses (a cordon): found as before, and it is the new version.
  const cordoned = node("w", "2", ["InternalIP", "10.0.0.1"], ["Hostname", "w.example.com"]);
  i.upsert(cordoned);
  assert.deepEqual(i.lookup("10.0.0.1"), ["w"]);
  assert.equal(i.get("w"), cordoned);
  assert.equal(resolveAlert(alertOf({ instance: "w.example.com:9100" }), i).node, cordoned);
  // The same addresses in another order, then another address: the old one no longer finds it.
  i.upsert(node("w", "3", ["Hostname", "w.example.com"], ["InternalIP", "10.0.0.1"]));
  assert.deepEqual(i.lookup("10.0.0.1"), ["w"]);
  i.upsert(node("w", "4", ["InternalIP", "10.0.0.2"], ["Hostname", "w.example.com"]));
  assert.deepEqual(i.lookup("10.0.0.1"), []);
  assert.deepEqual(i.lookup("10.0.0.2"), ["w"]);
  i.upsert(node("w", "5", ["InternalIP", "10.0.0.2"]));
  assert.deepEqual(resolveAlert(alertOf({ instance: "w.example.com:9100" }), i).node, undefined);
});
