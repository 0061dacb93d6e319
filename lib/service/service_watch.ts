// The Node watch as the service keeps it: the index and the watch's health, and what a list or
// an uncordon asks of the pipeline, each Node reconciled as a background task of its own.
import type { KubeClient, NodeWatchHandlers, Stoppable } from "../act/kube/types.ts";
import type { Background } from "../base/background.ts";
import { readState } from "../decide/node_state.ts";
import { needsReconcile } from "../decide/reconcile.ts";
import { log } from "../base/log.ts";
import { isCordoned, type Node } from "../base/node.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import type { Metrics } from "../report/metrics.ts";
import type { NodeIndex } from "../resolve/node_index.ts";

/** Reconciles every Node of `nodes` that needs it, each on its own: one that throws fails alone. */
export function reconcileAll(
  pipeline: Pipeline,
  background: Background,
  nodes: Iterable<Node>,
): void {
  for (const node of nodes) {
    background.run("reconcile", () => {
      if (needsReconcile(node)) return pipeline.reconcile(node.metadata.name);
    });
  }
}

/**
 * Whether the index may be trusted: while the watch is healthy. After a watch error, until the
 * next list succeeds, node-heal answers 503 rather than decide on what may be stale.
 */
export interface WatchHealth {
  healthy: boolean;
  /** Since when (performance.now(), the elector's clock) the watch has failed or not yet synced. */
  unhealthySince: number | undefined;
}

/**
 * The Node watch's handlers: the index and the watch's health kept, and what a list or an
 * uncordon asks for started. Each is guarded: one that throws fails alone, logged and counted,
 * and the watch goes on, healthy.
 */
export function nodeWatchHandlers(deps: {
  index: NodeIndex;
  metrics: Metrics;
  pipeline: Pipeline;
  health: WatchHealth;
  synced: () => void;
}): NodeWatchHandlers {
  const { index, metrics, pipeline, health } = deps;
  const { background } = metrics;
  let first = true;
  return {
    listed: background.guard("node-watch", (nodes: Node[]) => {
      index.replaceAll(nodes);
      metrics.indexedNodes.set(index.size);
      health.healthy = true;
      health.unhealthySince = undefined;
      deps.synced();
      // Pick up what a previous process left: replacements to follow, drains to resume, holds
      // to expire, claims to drop.
      // The ledger is read first, so that no replacement is decided on an unread one.
      const resuming = first;
      first = false;
      background.run("resume-replacements", async () => {
        try {
          if (resuming) await pipeline.resumeReplacements();
        } finally {
          reconcileAll(pipeline, background, nodes);
        }
      });
    }),
    upsert: background.guard("node-watch", (node: Node) => {
      index.upsert(node);
      metrics.indexedNodes.set(index.size);
      // Someone uncordoned a node node-heal had cordoned: give up the claim at once, before a
      // later cordon by the same person could be mistaken for node-heal's.
      if (readState(node).owned && !isCordoned(node)) {
        background.run("reconcile", () => pipeline.reconcile(node.metadata.name));
      }
    }),
    known: (name, resourceVersion) => index.get(name)?.metadata.resourceVersion === resourceVersion,
    remove: background.guard("node-watch", (name: string) => {
      index.remove(name);
      metrics.indexedNodes.set(index.size);
    }),
    recovered: background.guard("node-watch", () => {
      health.healthy = true;
      health.unhealthySince = undefined;
      log("resolve").info("Node watch running again");
    }),
    error: background.guard("node-watch", (err: unknown) => {
      health.healthy = false;
      health.unhealthySince ??= performance.now();
      metrics.watchErrors.inc();
      log("resolve").warn("Node watch failed, retrying: {error}", {
        error: (err as Error).message,
      });
    }),
  };
}

/** A Node watch as the service runs it. */
export interface NodeWatch {
  /** Resolves once the node index has synced. */
  synced: Promise<void>;
  /** Stops the watch, once it has started. */
  stop(): Promise<void>;
}

/** Starts the Node watch that keeps `index` and `health`, and feeds the pipeline. */
export function startNodeWatch(
  client: KubeClient,
  deps: { index: NodeIndex; metrics: Metrics; pipeline: Pipeline; health: WatchHealth },
): NodeWatch {
  const { promise: synced, resolve } = Promise.withResolvers<void>();
  let watch: Stoppable | undefined;
  const watchReady = client.watchNodes(nodeWatchHandlers({ ...deps, synced: resolve }))
    .then((w) => watch = w);
  return {
    synced,
    async stop() {
      await watchReady;
      await watch?.stop();
    },
  };
}
