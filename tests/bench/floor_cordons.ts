// The bench's floors: a bare client cordoning Nodes with node-heal's client and nothing more. The
// one-PATCH floor makes the one write a cordon needs; the requests floor makes the cluster
// requests node-heal's cordon makes: a Node watch kept as node-heal keeps one (an event of its own
// write passed over unparsed when the PATCH answer came first, as node-heal's index does; one
// alert at a time, the event mostly comes first, and both parse it), and per cordon one PATCH
// (unschedulable; node-heal's also writes its state and seal, a larger body) and one Event create.
// No guard, no policy, no state, no metrics, no logs.
import { connect } from "../../lib/act/kube/client.ts";
import type { KubeClient, Stoppable } from "../../lib/act/kube/types.ts";
import type { EmbeddedCluster } from "../../lib/embedded/cluster.ts";
import { nodeIndexOf, workerName } from "../../lib/embedded/seed/topology.ts";

/** An Alertmanager notification (the body, parsed), as much of it as a floor reads. */
interface Notification {
  alerts: { labels: { instance: string } }[];
}

/** Cordons Nodes as a floor does; `stop` ends its watch, if it keeps one. */
export interface FloorCordons extends Stoppable {
  /** Cordons the worker the notification names by its address. */
  cordon(notification: Notification): Promise<void>;
}

/** The worker the notification's first alert names by its address (`IP:9100`). */
function workerOf(notification: Notification): string {
  return workerName(nodeIndexOf(notification.alerts[0].labels.instance.split(":")[0]));
}

/** The one-PATCH floor (`requests: "patch"`) or the same-requests floor (`"same"`), with `client`. */
export async function floorCordons(
  client: KubeClient,
  requests: "patch" | "same",
): Promise<FloorCordons> {
  const patch = { metadata: {}, spec: { unschedulable: true } };
  if (requests === "patch") {
    return {
      async cordon(notification) {
        const name = workerOf(notification);
        await client.patchNode(name, patch);
      },
      stop: () => Promise.resolve(),
    };
  }
  const held = new Map<string, string>();
  const watch = await client.watchNodes({
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
  return {
    async cordon(notification) {
      const name = workerOf(notification);
      const node = await client.patchNode(name, patch);
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
    },
    stop: () => watch.stop(),
  };
}

/**
 * A floor behind a bare Deno.serve handler, on `cluster`: the one-PATCH floor, or the floor
 * making the same cluster requests as node-heal's cordon (`"same"`).
 */
export async function floorServer(
  cluster: EmbeddedCluster,
  requests: "patch" | "same" = "patch",
): Promise<{ url: string; close(): Promise<void> }> {
  const { client } = connect({ kubeconfigYaml: cluster.kubeconfig() });
  const floor = await floorCordons(client, requests);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await floor.cordon(await req.json());
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/webhook`,
    close: async () => {
      await floor.stop();
      await server.shutdown();
      await client.close?.();
    },
  };
}
