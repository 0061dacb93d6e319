// Connects to the cluster. The client library is imported under kube/ only: every read and
// write of the cluster goes through the KubeClient interface (kube_types.ts), so dry-run and
// tests swap only this boundary. The kubeconfig is read by node-heal's own reader
// (kubeconfig.ts); the library itself loads only for a kubeconfig that reader does not serve.
import { LibraryClient } from "./library_client.ts";
import {
  type Kubeconfig,
  kubeconfigFromFile,
  kubeconfigFromString,
  kubeconfigInCluster,
  SERVICE_ACCOUNT_ROOT,
} from "./kubeconfig.ts";
import type { NodeWatchOptions } from "./node_watch.ts";
import type { Fence } from "../fence.ts";
import {
  type EventBody,
  type KubeClient,
  KubeError,
  type NodeWatchHandlers,
  type Stoppable,
} from "./types.ts";
import { whyUnreadable } from "../../base/bounded_read.ts";

export { KubeError };
export type { EventBody, KubeClient, NodeWatchHandlers, Stoppable };

/** Where a kubeconfig was found. */
export type KubeconfigSource = "flag" | "in-cluster" | "KUBECONFIG" | "home" | "embedded";

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** `--kubeconfig`: a path that must exist. */
  kubeconfigPath?: string;
  /** A kubeconfig given as YAML text (the embedded cluster's). */
  kubeconfigYaml?: string;
  dryRun?: boolean;
  /** How long one API call may take before it fails as a timeout (default 10 s). */
  timeoutMs?: number;
  /** Environment lookups, for tests; defaults to `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** Checks every write that takes something away immediately before it is sent (fence.ts). */
  fence?: Fence;
  /** The Node watch's bounds (`--watch-timeout`; the others for tests); production's by default. */
  watch?: Omit<NodeWatchOptions, "timeoutMs">;
}

const SERVICE_ACCOUNT_TOKEN = `${SERVICE_ACCOUNT_ROOT}/token`;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads a kubeconfig in the documented order: `--kubeconfig`, then the in-cluster service
 * account, then `$KUBECONFIG`, then `~/.kube/config`; throws naming what was tried when none works.
 */
export function connect(
  options: ConnectOptions,
): { client: KubeClient; source: KubeconfigSource } {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  let kc: Kubeconfig;
  let source: KubeconfigSource;
  try {
    if (options.kubeconfigYaml !== undefined) {
      kc = kubeconfigFromString(options.kubeconfigYaml);
      source = "embedded";
    } else if (options.kubeconfigPath) {
      kc = kubeconfigFromFile(options.kubeconfigPath);
      source = "flag";
    } else if (env("KUBERNETES_SERVICE_HOST") && exists(SERVICE_ACCOUNT_TOKEN)) {
      kc = kubeconfigInCluster(env);
      source = "in-cluster";
    } else if (env("KUBECONFIG")) {
      kc = kubeconfigFromFile(env("KUBECONFIG")!.split(":")[0]);
      source = "KUBECONFIG";
    } else if (env("HOME") && exists(`${env("HOME")}/.kube/config`)) {
      kc = kubeconfigFromFile(`${env("HOME")}/.kube/config`);
      source = "home";
    } else {
      throw new Error(
        "no --kubeconfig, no in-cluster service account (KUBERNETES_SERVICE_HOST and " +
          `${SERVICE_ACCOUNT_TOKEN}), no $KUBECONFIG and no ~/.kube/config`,
      );
    }
  } catch (err) {
    throw new Error(`Cannot load a kubeconfig: ${whyUnreadable(err)}`);
  }
  const client = new LibraryClient(kc, kc.server, {
    dryRun: options.dryRun ?? false,
    timeoutMs: options.timeoutMs ?? 10_000,
    fence: options.fence,
    watch: options.watch,
  });
  return { client, source };
}
