import { ApiServer, type ApiServerOptions } from "./http/api_server.ts";
import { defaultTopology } from "./seed/topology.ts";
import type { KubeObject } from "./store/objects.ts";
import type { NodeCloud, NodeManager } from "./nodes/clouds.ts";

/** Options of {@link startEmbeddedCluster}. */
export interface EmbeddedClusterOptions extends ApiServerOptions {
  /** Address to listen on; loopback by default. */
  hostname?: string;
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Objects to start with; by default the kind-like {@link defaultTopology} with `workers` workers. */
  objects?: KubeObject[];
  /** Workers of the default topology (default 3); ignored when `objects` is given. */
  workers?: number;
  /**
   * Who made the default topology's workers and replaces them: `karpenter` (the default) or
   * `cluster-api` (see seed/topology.ts `TopologyOptions.nodeManager`); ignored when `objects` is given.
   */
  nodeManager?: NodeManager;
  /**
   * Whose Nodes the default topology's are (`aws`, the default, `gcp`, `azure`, `kind`: their
   * labels and providerIDs); ignored when `objects` is given.
   */
  cloud?: NodeCloud;
}

/** A running embedded API server: its HTTP address, its state, and a kubeconfig for it. */
export interface EmbeddedCluster {
  /** The API server itself: store, request record, faults. */
  readonly api: ApiServer;
  /** Base URL such as `http://127.0.0.1:6443`. */
  readonly url: string;
  readonly port: number;
  /** A kubeconfig (YAML) whose current context points at this server. */
  kubeconfig(): string;
  /** Closes open watches, stops the controllers' timers and stops serving. */
  close(): Promise<void>;
  /** The same as {@link EmbeddedCluster.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts an in-memory Kubernetes API server on loopback HTTP, seeded with a kind-like cluster. */
export async function startEmbeddedCluster(
  options: EmbeddedClusterOptions = {},
): Promise<EmbeddedCluster> {
  const api = new ApiServer(options);
  const { workers, nodeManager, cloud } = options;
  api.seed(
    options.objects ?? defaultTopology({ workers, nodeManager, cloud, now: options.now?.() }),
  );
  const hostname = options.hostname ?? "127.0.0.1";
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname,
    port: options.port ?? 0,
    onListen: (addr) => resolve(addr as Deno.NetAddr),
  }, api.handler);
  const addr = await listening;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `http://${host}:${addr.port}`;
  const close = async () => {
    api.close();
    await server.shutdown();
  };
  return {
    api,
    url,
    port: addr.port,
    kubeconfig: () => kubeconfigFor(url),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A kubeconfig (YAML) for an embedded API server at `url`, context `node-heal-embedded`. */
export function kubeconfigFor(url: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: node-heal-embedded",
    "  cluster:",
    `    server: ${url}`,
    // Plain HTTP on loopback; the client library refuses http:// without this flag.
    "    insecure-skip-tls-verify: true",
    "contexts:",
    "- name: node-heal-embedded",
    "  context:",
    "    cluster: node-heal-embedded",
    "    user: node-heal-embedded",
    "    namespace: default",
    "current-context: node-heal-embedded",
    "users:",
    "- name: node-heal-embedded",
    "  user:",
    "    token: embedded-cluster-has-no-auth",
    "preferences: {}",
    "",
  ].join("\n");
}
