// The floor of node-heal's CPU per cordon: a bare process making the cluster requests a cordon
// makes and nothing more. It keeps a Node watch as node-heal keeps one (its own writes passed over
// by their resourceVersion, the rest parsed), and per notification makes one PATCH (unschedulable;
// node-heal's also writes its state and seal, a larger body) and one Event create, with
// node-heal's client. No guard, no policy, no state, no metrics, no logs. Run by bench.ts with
// node-heal's V8 flags and permissions:
//   deno run --allow-net --allow-read --allow-env floor_process.ts KUBECONFIG PORT
import { connect } from "../../lib/act/kube/client.ts";
import { nodeIndexOf, workerName } from "../../lib/embedded/seed/topology.ts";

const [kubeconfigPath, port] = Deno.args;
const { client } = connect({ kubeconfigPath });
const held = new Map<string, string>();
await client.watchNodes({
  upsert: (n) => void held.set(n.metadata.name, n.metadata.resourceVersion ?? ""),
  known: (name, version) => held.get(name) === version,
  remove: (name) => void held.delete(name),
  listed: (nodes) => {
    held.clear();
    for (const n of nodes) held.set(n.metadata.name, n.metadata.resourceVersion ?? "");
  },
  recovered: () => {},
  error: () => {},
});

let events = 0;
Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen() {} }, async (req) => {
  if (new URL(req.url).pathname === "/readyz") return new Response("ok");
  const body = await req.json();
  const name = workerName(nodeIndexOf(body.alerts[0].labels.instance.split(":")[0]));
  const node = await client.patchNode(name, { metadata: {}, spec: { unschedulable: true } });
  held.set(name, node.metadata.resourceVersion ?? "");
  const now = new Date().toISOString();
  await client.createEvent({
    metadata: { name: `${name}.floor-${events++}`, namespace: "default" },
    involvedObject: { apiVersion: "v1", kind: "Node", name, uid: node.metadata.uid ?? "" },
    reason: "NodeHealCordoned",
    message: `Cordoned ${name}`,
    type: "Normal",
    source: { component: "node-heal-floor", host: "bench" },
    reportingComponent: "node-heal-floor",
    reportingInstance: "bench",
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  });
  return new Response("ok");
});
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
