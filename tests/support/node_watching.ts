// node-heal's own Node watch as tests drive it: every call of its handlers recorded with its time,
// and a worker touched as someone else would touch it.
import * as k8s from "@kubernetes/client-node";
import { watchNodes } from "../../lib/act/kube/node_watch.ts";
import type { NodeWatchOptions } from "../../lib/act/kube/node_watch.ts";
import { kubeconfigFromString } from "../../lib/act/kube/kubeconfig.ts";
import { closeNative } from "../../lib/act/kube/raw.ts";
import { kubeconfigFor } from "../../lib/embedded/cluster.ts";
import { workerName } from "../../lib/embedded/seed/topology.ts";
import type { Node } from "../../lib/base/node.ts";

/** Every call of a watch's handlers, with its time (performance.now). */
export function recorder() {
  const calls: { t: number; call: string }[] = [];
  const push = (call: string) => void calls.push({ t: performance.now(), call });
  return {
    calls,
    handlers: {
      upsert: (n: Node) => push(`upsert ${n.metadata.name} ${n.metadata.labels?.touched ?? ""}`),
      remove: (name: string) => push(`remove ${name}`),
      listed: (nodes: Node[]) => push(`listed ${nodes.length}`),
      recovered: () => push("recovered"),
      error: (e: unknown) => push(`error ${(e as Error).message}`),
    },
    /** Calls since `t` that start with `prefix`. */
    since(t: number, prefix: string) {
      return calls.filter((c) => c.t >= t && c.call.startsWith(prefix));
    },
    text: () => calls.map((c) => c.call).join("\n"),
  };
}

/** node-heal's Node watch against `url`, with `options`; stop it (and its client) with dispose. */
export async function watching(url: string, options: Partial<NodeWatchOptions> = {}) {
  const kc = kubeconfigFromString(kubeconfigFor(url));
  const r = recorder();
  const watch = await watchNodes(kc, { timeoutMs: 1000, ...options }, r.handlers);
  return {
    ...r,
    async [Symbol.asyncDispose]() {
      await watch.stop();
      await closeNative(kc);
    },
  };
}

/** Patches a label on a worker, as someone else would. */
export async function touch(url: string, value: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(kubeconfigFor(url));
  await kc.makeApiClient(k8s.CoreV1Api).patchNode(
    { name: workerName(1), body: { metadata: { labels: { touched: value } } } },
    k8s.setHeaderOptions("Content-Type", "application/merge-patch+json"),
  );
}
