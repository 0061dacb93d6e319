import * as k8s from "@kubernetes/client-node";
import type { NodeWatchHandlers, Stoppable } from "../kube_types.ts";
import { timeBound } from "./time_bound.ts";
import { toKubeError, toNode } from "./convert.ts";

/**
 * Lists and watches Nodes with the client library's informer, telling `handlers` of every
 * change, and starts the informer again after a failure.
 */
export async function watchNodes(
  kc: k8s.KubeConfig,
  options: { timeoutMs: number },
  handlers: NodeWatchHandlers,
): Promise<Stoppable> {
  // The informer stops after an error other than 410; it is started again, with a delay that
  // doubles up to 30 s and goes back to 0.5 s only once a list has succeeded.
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let delay = 500;
  const informer = k8s.makeInformer(
    kc,
    "/api/v1/nodes",
    async () => {
      const list = await timeBound(core.listNode(), options.timeoutMs * 6, "list nodes");
      delay = 500;
      handlers.listed(list.items.map(toNode));
      return list;
    },
  );
  informer.on("add", (n) => handlers.upsert(toNode(n)));
  informer.on("update", (n) => handlers.upsert(toNode(n)));
  informer.on("delete", (n) => handlers.remove(n.metadata?.name ?? ""));
  let stopped = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const restart = () => {
    if (stopped || retry) return;
    const wait = delay;
    delay = Math.min(delay * 2, 30_000);
    retry = setTimeout(async () => {
      retry = undefined;
      if (stopped) return;
      try {
        failed = false;
        await informer.start();
        if (!failed && !stopped) handlers.recovered();
      } catch (err) {
        handlers.error(toKubeError(err, "watch nodes"));
        restart();
      }
    }, wait);
  };
  let failed = false;
  informer.on("error", (err) => {
    failed = true;
    handlers.error(toKubeError(err, "watch nodes"));
    restart();
  });
  try {
    await informer.start();
  } catch (err) {
    handlers.error(toKubeError(err, "list nodes"));
    restart();
  }
  return {
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      await informer.stop();
    },
  };
}
