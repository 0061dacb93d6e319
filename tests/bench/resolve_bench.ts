// `deno bench tests/bench/resolve_bench.ts`: what resolving one alert to its Node costs, against
// an index of 1,000 cloud-style Nodes (InternalIP, ExternalIP, InternalDNS, Hostname,
// ExternalDNS), and what keeping the index costs per Node. Reported, not asserted.
import type { Alert } from "../../lib/intake/alertmanager.ts";
import type { Node } from "../../lib/base/node.ts";
import { NodeIndex, resolveAlert } from "../../lib/resolve/node_index.ts";

const NODES = 1000;

function node(i: number): Node {
  const ip = `10.0.${i >> 8}.${i & 255}`;
  return {
    metadata: { name: `worker-${i}`, resourceVersion: "1" },
    status: {
      addresses: [
        { type: "InternalIP", address: ip },
        { type: "ExternalIP", address: `203.0.${i >> 8}.${i & 255}` },
        { type: "InternalDNS", address: `ip-${ip.replaceAll(".", "-")}.prod.example.com` },
        { type: "Hostname", address: `worker-${i}` },
        { type: "ExternalDNS", address: `ec2-203-0-${i >> 8}-${i & 255}.compute-1.amazonaws.com` },
      ],
    },
  };
}

const nodes = Array.from({ length: NODES }, (_, i) => node(i));
const index = new NodeIndex();
index.replaceAll(nodes);

function alert(labels: Record<string, string>): Alert {
  return {
    fingerprint: "f",
    status: "firing",
    labels,
    annotations: {},
    startsAt: "",
    endsAt: "",
    generatorURL: "",
  };
}

const cases: [string, Alert][] = [
  ["instance IP:port", alert({ instance: "10.0.3.7:9100" })],
  ["node name", alert({ node: "worker-777" })],
  ["instance full InternalDNS:port", alert({ instance: "ip-10-0-3-7.prod.example.com:9100" })],
  ["instance short name in its domain", alert({ instance: "worker-777.prod.example.com:9100" })],
  ["instance [IPv6]:port (unknown)", alert({ instance: "[fd00::5]:9100" })],
  ["instance near name (unknown)", alert({ instance: "worker-777.other-cluster.example:9100" })],
];

for (const [name, a] of cases) {
  Deno.bench(`resolveAlert(): ${name}`, { group: "resolve" }, () => {
    resolveAlert(a, index);
  });
}

Deno.bench(`NodeIndex.replaceAll() of ${NODES} Nodes`, { group: "index" }, () => {
  new NodeIndex().replaceAll(nodes);
});
