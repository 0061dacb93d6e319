import * as k8s from "@kubernetes/client-node";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { type EmbeddedCluster, startEmbeddedCluster } from "../../lib/embedded/cluster.ts";
import type { EmbeddedClusterOptions } from "../../lib/embedded/cluster.ts";
import { type Service, type ServiceConfig, startService } from "../../lib/service/service.ts";
import type { Policy } from "../../lib/decide/policy.ts";
import type { Credentials } from "../../lib/server/auth.ts";
import { waitFor } from "./wait.ts";

export { alertOf, notification } from "./alerts.ts";
export { waitFor };

/** An embedded cluster with a KubeConfig of the real client library pointed at it. */
export interface ClusterFixture {
  cluster: EmbeddedCluster;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts an embedded cluster on a free loopback port and a client for it; dispose to stop it. */
export async function withCluster(options: EmbeddedClusterOptions = {}): Promise<ClusterFixture> {
  const cluster = await startEmbeddedCluster(options);
  const kc = new k8s.KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  return {
    cluster,
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    [Symbol.asyncDispose]: () => cluster.close(),
  };
}

/** The HTTP status code carried by an error from the client library. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: number; statusCode?: number };
  return e?.code ?? e?.statusCode;
}

/** Runs `fn`, expecting it to fail with HTTP `status`; returns the parsed Status body. */
export async function expectStatus(
  status: number,
  fn: () => Promise<unknown>,
): Promise<Record<string, unknown>> {
  try {
    await fn();
  } catch (err) {
    const code = statusOf(err);
    if (code !== status) {
      throw new Error(`Expected HTTP ${status}, got ${code}: ${(err as Error).message}`);
    }
    const body = (err as { body?: unknown }).body;
    return typeof body === "string" ? JSON.parse(body) : (body as Record<string, unknown>) ?? {};
  }
  throw new Error(`Expected HTTP ${status}, but the call succeeded`);
}

/** A running node-heal on an embedded cluster, with a client of the real library for the cluster. */
export interface ServiceFixture extends ClusterFixture {
  service: Service;
  /** POSTs a body (object as JSON, or a string as it is) to the webhook. */
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts node-heal with an embedded cluster on free loopback ports and waits until it is ready. */
export async function withService(
  options: {
    workers?: number;
    dryRun?: boolean;
    holdTtlMs?: number;
    apiTimeoutMs?: number;
    policy?: Policy;
    /** `--cluster-name`: the cluster alerts must say they are from, when the policy says none. */
    clusterName?: string;
    paused?: boolean;
    kubeconfig?: string;
    /**
     * An embedded cluster started elsewhere, to outlive the service (`kubeconfig`, if given,
     * points at it; else its own kubeconfig is used).
     */
    cluster?: EmbeddedCluster;
    /**
     * Environment variables set while the service runs (a cloud provider's credentials, read
     * through the SDKs' default chains), restored when it is disposed.
     */
    env?: Record<string, string>;
    credentials?: Credentials;
    /** Whether `/status` and the status page need the credentials too. */
    statusAuth?: boolean;
    tls?: { cert: string; key: string };
    /** Leader election (one replica: it leads once a new install's lease duration has passed). */
    election?: ServiceConfig["election"];
    /** The policy's file, read again every `policyPollMs` (a reload test). */
    policyFile?: string;
    policyPollMs?: number;
    /** The embedded cluster's options (its Karpenter's timings, say), when the fixture starts it. */
    clusterOptions?: EmbeddedClusterOptions;
    /** The webhook's and the connections' limits (defaults when absent). */
    limits?: Pick<
      ServiceConfig,
      | "requestTimeoutMs"
      | "maxBodyBytes"
      | "maxInFlight"
      | "headerTimeoutMs"
      | "idleTimeoutMs"
      | "maxConnections"
      | "maxConnectionsPerClient"
    >;
  } = {},
): Promise<ServiceFixture> {
  // Its own embedded cluster, unless the test started one to outlive the service.
  const own = options.kubeconfig || options.cluster
    ? undefined
    : await startEmbeddedCluster({ workers: options.workers ?? 3, ...options.clusterOptions });
  const restoreEnv = setEnv(options.env ?? {});
  const service = await startService({
    listen: { hostname: "127.0.0.1", port: 0 },
    kubeconfigYaml: options.kubeconfig ? undefined : (own ?? options.cluster)?.kubeconfig(),
    kubeconfig: options.kubeconfig,
    pausePollMs: 100,
    drainRetryMs: 100,
    replacePollMs: 100,
    policyFile: options.policyFile,
    policyPollMs: options.policyPollMs,
    credentials: options.credentials,
    statusAuth: options.statusAuth,
    tls: options.tls,
    dryRun: options.dryRun ?? false,
    instance: "node-heal-test",
    eventNamespace: "default",
    holdTtlMs: options.holdTtlMs ?? 4 * 3_600_000,
    apiTimeoutMs: options.apiTimeoutMs ?? 10_000,
    policy: options.policy,
    clusterName: options.clusterName,
    paused: options.paused,
    election: options.election,
    ...options.limits,
  }).catch(async (err) => {
    restoreEnv();
    await own?.close();
    throw err;
  });
  await service.synced;
  if (options.election) {
    // No Lease yet: the replica makes it a lease duration after it found none.
    await waitFor(
      "the replica to lead",
      () => leads(service.url),
      options.election.leaseDurationMs + 10_000,
    );
  }
  const cluster = own ?? options.cluster!;
  const kc = new k8s.KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  return {
    service,
    cluster,
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    post: (body, headers = {}) =>
      fetch(`${service.url}/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    [Symbol.asyncDispose]: async () => {
      await service.close();
      restoreEnv();
      await own?.close();
    },
  };
}

/** Sets environment variables; returns what restores them as they were. */
function setEnv(vars: Record<string, string>): () => void {
  const saved = Object.keys(vars).map((k) => [k, Deno.env.get(k)] as const);
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  return () => {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  };
}

/** Parses every YAML document of a file under manifests/. */
export async function manifest(name: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(new URL(`../../manifests/${name}`, import.meta.url));
  return parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>);
}

/** Helm's merge of values: maps merge key by key, anything else (lists too) is replaced. */
export function helmMerge(base: unknown, over: unknown): unknown {
  const isMap = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isMap(base) || !isMap(over)) return structuredClone(over);
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = k in out ? helmMerge(out[k], v) : structuredClone(v);
  }
  return out;
}

/**
 * The Alertmanager configuration kube-prometheus-stack renders with
 * manifests/kube-prometheus-stack-values.yaml: the values' alertmanager.config merged, as Helm
 * does, onto the chart's default (tests/fixtures/kube-prometheus-stack-alertmanager-config.yaml).
 */
// deno-lint-ignore no-explicit-any
export async function helmAlertmanagerConfig(): Promise<any> {
  const read = (path: string) => Deno.readTextFile(new URL(path, import.meta.url));
  const chart = parseYaml(await read("../fixtures/kube-prometheus-stack-alertmanager-config.yaml"));
  const values = parseYaml(await read("../../manifests/kube-prometheus-stack-values.yaml"));
  return helmMerge(chart, values.alertmanager.config);
}

/**
 * The Alertmanager configuration of manifests/kube-prometheus-stack-values.yaml (as Helm renders
 * it) with only the webhook URL pointed at a local node-heal, the token file at a local one, and
 * the grouping delays shortened for tests. Its templates glob, a directory of the chart's pod,
 * is dropped.
 */
export async function alertmanagerConfig(webhook: string): Promise<Record<string, unknown>> {
  const config = await helmAlertmanagerConfig();
  delete config.templates;
  // The token file is mounted from a Secret in a cluster; here it is a file of the test's.
  const tokenFile = await Deno.makeTempFile({ prefix: "node-heal-token-" });
  await Deno.writeTextFile(tokenFile, "test-token");
  for (const receiver of config.receivers) {
    for (const hook of receiver.webhook_configs ?? []) {
      hook.url = webhook;
      if (hook.http_config?.authorization?.credentials_file) {
        hook.http_config.authorization.credentials_file = tokenFile;
      }
    }
  }
  const shorten = (route: Record<string, unknown>) => {
    if ("group_wait" in route) route.group_wait = "0s";
    if ("group_interval" in route) route.group_interval = "1s";
    for (const r of (route.routes ?? []) as Record<string, unknown>[]) shorten(r);
  };
  shorten(config.route);
  return config;
}

/** The kubectl the tests run: `$KUBECTL`, or `kubectl` on PATH. */
export const KUBECTL = Deno.env.get("KUBECTL") ?? "kubectl";

/** kubectl's client version, or undefined when it is not installed (its tests are then skipped). */
export async function kubectlVersion(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(KUBECTL, {
      args: ["version", "--client", "-o", "json"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return undefined;
    return JSON.parse(new TextDecoder().decode(out.stdout)).clientVersion?.gitVersion;
  } catch {
    return undefined;
  }
}

/** A kubectl bound to one cluster, with its own kubeconfig, `--cache-dir` and HOME in a temp folder. */
export async function kubectlFor(kubeconfig: string) {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-kubectl-" });
  const path = `${dir}/kubeconfig`;
  await Deno.writeTextFile(path, kubeconfig);
  /** Runs kubectl; fails with its output unless it succeeds. */
  const output = async (...args: string[]) => {
    const out = await new Deno.Command(KUBECTL, {
      args: ["--kubeconfig", path, "--cache-dir", `${dir}/cache`, ...args],
      stdout: "piped",
      stderr: "piped",
      env: { HOME: dir },
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    if (!out.success) {
      throw new Error(`kubectl ${args.join(" ")} failed (${out.code}): ${stderr}${stdout}`);
    }
    return { stdout, stderr };
  };
  return {
    dir,
    output,
    /** Runs kubectl and returns its standard output. */
    run: async (...args: string[]) => (await output(...args)).stdout,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Whether the replica at `url` says, on /status, that it leads. */
export async function leads(url: string): Promise<boolean> {
  const res = await fetch(`${url}/status`);
  return (await res.json() as { leadership: { leading: boolean } }).leadership.leading;
}
