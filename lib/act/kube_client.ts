// The one module that imports the Kubernetes client library: every read and write of the
// cluster goes through the KubeClient interface (kube_types.ts), so dry-run swaps only this
// boundary.
import * as k8s from "@kubernetes/client-node";
import type { Node } from "../node.ts";
import type { Pod } from "../pod.ts";
import { deadline } from "../timing.ts";
import {
  type EventBody,
  type KubeClient,
  KubeError,
  type NodeWatchHandlers,
  type Stoppable,
} from "./kube_types.ts";

export { KubeError };
export type { EventBody, KubeClient, NodeWatchHandlers, Stoppable };

function statusMessage(body: unknown): string | undefined {
  try {
    const parsed = typeof body === "string" ? JSON.parse(body) : body;
    return typeof parsed?.message === "string" ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}

function toKubeError(err: unknown, what: string): KubeError {
  if (err instanceof KubeError) return err;
  const e = err as { code?: unknown; body?: unknown; message?: string };
  if (typeof e?.code === "number") {
    return new KubeError(
      `Cannot ${what}: the API server answered ${e.code}${
        statusMessage(e.body) ? `: ${statusMessage(e.body)}` : ""
      }`,
      e.code,
    );
  }
  return new KubeError(`Cannot ${what}: ${e?.message ?? String(err)}`);
}

/** Converts the client library's Pod into the plain form a drain reads. */
function toPod(p: k8s.V1Pod): Pod {
  return {
    metadata: {
      name: p.metadata?.name ?? "",
      namespace: p.metadata?.namespace ?? "",
      uid: p.metadata?.uid,
      annotations: p.metadata?.annotations,
      ownerReferences: p.metadata?.ownerReferences?.map((o) => ({
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: o.name,
        controller: o.controller,
      })),
      deletionTimestamp: p.metadata?.deletionTimestamp?.toISOString(),
    },
    spec: {
      nodeName: p.spec?.nodeName,
      volumes: p.spec?.volumes?.map((v) => ({ name: v.name, emptyDir: v.emptyDir })),
    },
    status: { phase: p.status?.phase },
  };
}

/** Converts the client library's Node into the plain form node-heal reads. */
function toNode(n: k8s.V1Node): Node {
  return {
    metadata: {
      name: n.metadata?.name ?? "",
      uid: n.metadata?.uid,
      resourceVersion: n.metadata?.resourceVersion,
      labels: n.metadata?.labels,
      annotations: n.metadata?.annotations,
    },
    spec: {
      unschedulable: n.spec?.unschedulable,
      taints: n.spec?.taints?.map((t) => ({ key: t.key, value: t.value, effect: t.effect })),
    },
    status: {
      addresses: n.status?.addresses?.map((a) => ({ type: a.type, address: a.address })),
      conditions: n.status?.conditions?.map((c) => ({
        type: c.type,
        status: c.status,
        reason: c.reason,
      })),
    },
  };
}

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
}

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

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
  const kc = new k8s.KubeConfig();
  let source: KubeconfigSource;
  try {
    if (options.kubeconfigYaml !== undefined) {
      kc.loadFromString(options.kubeconfigYaml);
      source = "embedded";
    } else if (options.kubeconfigPath) {
      kc.loadFromFile(options.kubeconfigPath);
      source = "flag";
    } else if (env("KUBERNETES_SERVICE_HOST") && exists(SERVICE_ACCOUNT_TOKEN)) {
      kc.loadFromCluster();
      source = "in-cluster";
    } else if (env("KUBECONFIG")) {
      kc.loadFromFile(env("KUBECONFIG")!.split(":")[0]);
      source = "KUBECONFIG";
    } else if (env("HOME") && exists(`${env("HOME")}/.kube/config`)) {
      kc.loadFromFile(`${env("HOME")}/.kube/config`);
      source = "home";
    } else {
      throw new Error(
        "no --kubeconfig, no in-cluster service account (KUBERNETES_SERVICE_HOST and " +
          `${SERVICE_ACCOUNT_TOKEN}), no $KUBECONFIG and no ~/.kube/config`,
      );
    }
  } catch (err) {
    throw new Error(`Cannot load a kubeconfig: ${(err as Error).message}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new Error(`Cannot load a kubeconfig: its current context names no cluster`);
  }
  const client = new LibraryClient(kc, cluster.server, {
    dryRun: options.dryRun ?? false,
    timeoutMs: options.timeoutMs ?? 10_000,
  });
  return { client, source };
}

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

/** Fails `call` as a timeout after `ms`; the request itself is left to finish on its own. */
function timeBound<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  return deadline(
    call,
    ms,
    () => new KubeError(`Cannot ${what}: the API server did not answer within ${ms} ms`),
  );
}

class LibraryClient implements KubeClient {
  readonly server: string;
  readonly dryRun: boolean;
  #kc: k8s.KubeConfig;
  #core: k8s.CoreV1Api;
  #apps: k8s.AppsV1Api;
  #timeoutMs: number;

  constructor(
    kc: k8s.KubeConfig,
    server: string,
    options: { dryRun: boolean; timeoutMs: number },
  ) {
    this.#kc = kc;
    this.#core = kc.makeApiClient(k8s.CoreV1Api);
    this.#apps = kc.makeApiClient(k8s.AppsV1Api);
    this.server = server;
    this.dryRun = options.dryRun;
    this.#timeoutMs = options.timeoutMs;
  }

  get #dry(): string | undefined {
    return this.dryRun ? "All" : undefined;
  }

  /**
   * One API call within the time limit: a failure becomes a {@link KubeError} that says what
   * failed, and a status named in `answers` becomes that answer instead (404: gone, say).
   */
  async #call<T, U = never>(
    what: string,
    call: () => Promise<T>,
    answers: Record<number, U> = {},
  ): Promise<T | U> {
    try {
      return await timeBound(call(), this.#timeoutMs, what);
    } catch (err) {
      const e = toKubeError(err, what);
      if (e.status !== undefined && Object.hasOwn(answers, e.status)) return answers[e.status];
      throw e;
    }
  }

  async getNode(name: string): Promise<Node | undefined> {
    const node = await this.#call(`read node "${name}"`, () => this.#core.readNode({ name }), {
      404: undefined,
    });
    return node && toNode(node);
  }

  async patchNode(name: string, patch: unknown): Promise<Node> {
    return toNode(
      await this.#call(
        `patch node "${name}"`,
        () => this.#core.patchNode({ name, body: patch, dryRun: this.#dry }, mergePatch),
      ),
    );
  }

  async createEvent(event: EventBody): Promise<boolean> {
    return await this.#call(`create event "${event.metadata.name}"`, async () => {
      await this.#core.createNamespacedEvent({
        namespace: event.metadata.namespace,
        // The client library serializes its own model classes; timestamps must be Dates.
        body: {
          ...event,
          firstTimestamp: new Date(event.firstTimestamp),
          lastTimestamp: new Date(event.lastTimestamp),
        },
        dryRun: this.#dry,
      });
      return true;
    }, { 409: false });
  }

  async bumpEvent(namespace: string, name: string, lastTimestamp: string): Promise<void> {
    const current = await this.#call(
      `update event "${name}"`,
      () => this.#core.readNamespacedEvent({ name, namespace }),
    );
    await this.#call(`update event "${name}"`, () =>
      this.#core.patchNamespacedEvent({
        name,
        namespace,
        body: {
          metadata: { resourceVersion: current.metadata?.resourceVersion },
          count: (current.count ?? 1) + 1,
          lastTimestamp,
        },
        dryRun: this.#dry,
      }, mergePatch));
  }

  async listPodsOnNode(node: string): Promise<Pod[]> {
    const list = await this.#call(
      `list the pods of node "${node}"`,
      () => this.#core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }),
    );
    return list.items.map(toPod);
  }

  async getPod(namespace: string, name: string): Promise<Pod | undefined> {
    const pod = await this.#call(
      `read pod "${namespace}/${name}"`,
      () => this.#core.readNamespacedPod({ name, namespace }),
      { 404: undefined },
    );
    return pod && toPod(pod);
  }

  async daemonSetExists(namespace: string, name: string): Promise<boolean> {
    return await this.#call(`read daemonset "${namespace}/${name}"`, async () => {
      await this.#apps.readNamespacedDaemonSet({ name, namespace });
      return true;
    }, { 404: false });
  }

  async evictPod(
    namespace: string,
    name: string,
    gracePeriodSeconds?: number,
  ): Promise<{ result: "evicted" | "gone" } | { result: "blocked"; message: string }> {
    try {
      const call = this.#core.createNamespacedPodEviction({
        name,
        namespace,
        body: {
          apiVersion: "policy/v1",
          kind: "Eviction",
          metadata: { name, namespace },
          ...(gracePeriodSeconds !== undefined || this.dryRun
            ? {
              deleteOptions: {
                ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
                ...(this.dryRun ? { dryRun: ["All"] } : {}),
              },
            }
            : {}),
        },
      });
      await timeBound(call, this.#timeoutMs, `evict pod "${namespace}/${name}"`);
      return { result: "evicted" };
    } catch (err) {
      const e = err as { code?: number; body?: unknown };
      if (e?.code === 429) {
        const causes = (() => {
          try {
            const body = typeof e.body === "string" ? JSON.parse(e.body) : e.body;
            return (body?.details?.causes ?? []).map((c: { message?: string }) => c.message)
              .filter(Boolean).join("; ") || body?.message;
          } catch {
            return undefined;
          }
        })();
        return { result: "blocked", message: causes ?? "a disruption budget forbids it" };
      }
      const ke = toKubeError(err, `evict pod "${namespace}/${name}"`);
      if (ke.status === 404) return { result: "gone" };
      throw ke;
    }
  }

  async namespacePaused(name: string): Promise<boolean> {
    const ns = await this.#call(
      `read namespace "${name}"`,
      () => this.#core.readNamespace({ name }),
      { 404: undefined },
    );
    return ns?.metadata?.annotations?.["node-heal.io/paused"] === "true";
  }

  async watchNodes(handlers: NodeWatchHandlers): Promise<Stoppable> {
    // The informer stops after an error other than 410; it is started again, with a delay that
    // doubles up to 30 s and goes back to 0.5 s only once a list has succeeded.
    let delay = 500;
    const informer = k8s.makeInformer(
      this.#kc,
      "/api/v1/nodes",
      async () => {
        const list = await timeBound(this.#core.listNode(), this.#timeoutMs * 6, "list nodes");
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
}
