// The chaos harness: `deno task cluster`'s entry point as a process, and three `main.ts serve`
// replicas with leader election, each with the permissions of `deno task serve` and each talking
// to the cluster through its own fault-injecting, request-logging proxy (proxy.ts). A test starts
// it with `await using chaos = await startChaos({ policy })`; the disposal stops every process
// (a paused one is continued first) whether the test passed or not.
import { kubeconfigFor } from "../../lib/embedded/cluster.ts";
import { notification } from "../support/alerts.ts";
import { waitFor } from "../support/wait.ts";
import { assertNoUnhandled, clusterModeArgs } from "../support/processes.ts";
import { ChaosProxy, merged, type ProxyEntry, type RequestKind } from "./proxy.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** The webhook token every replica wants. */
const TOKEN = "chaos-token";

/** Leader election's durations, as `serve`'s flags take them. */
export interface ElectionFlags {
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
}

/** Short durations, so that a hand-over takes seconds: lease 3 s, renew deadline 2 s, retry 0.5 s. */
export const SHORT_ELECTION: ElectionFlags = {
  leaseDuration: "3s",
  renewDeadline: "2s",
  retryPeriod: "500ms",
};

/** A gate set that lets every take-out through, for policies that test something else. */
export const PERMISSIVE_GATES =
  "{ minHealthy: 0, maxConcurrent: 20, rate: { max: 10000, window: 1h }, cooldown: 0s }";

/**
 * Whether the run measures the code before issue 25's fixes: then flags the fixed service adds
 * (`--watch-failure-timeout`, `--watch-timeout`) are not passed, as the unfixed `serve` refuses
 * them (exit code 2).
 */
export const BEFORE = (Deno.env.get("NODE_HEAL_CHAOS_BEFORE") ?? "") !== "";

/** Options of {@link startChaos}. */
export interface ChaosOptions {
  /** The policy file (YAML) every replica reads with `--config`; {@link Chaos.setPolicy} edits it. */
  policy: string;
  /** Workers of the embedded cluster (default 3). */
  workers?: number;
  /** Replicas (default 3: r1, r2, r3). */
  replicas?: number;
  /** Leader election (default {@link SHORT_ELECTION}). */
  election?: ElectionFlags;
  /** More `serve` flags for every replica. */
  serveArgs?: string[];
  /** Runs against the cluster before any replica starts (a ghost Lease, labels). */
  beforeReplicas?: (api: ClusterApi) => Promise<void>;
}

/** A process and its output as it comes. */
interface Proc {
  child: Deno.ChildProcess;
  /** Its JSON log lines (others are kept as `{ message: line }`). */
  records: Record<string, unknown>[];
  stderr: string[];
  done: Promise<void>;
}

function spawn(args: string[]): Proc {
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .spawn();
  const records: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const lines = async (stream: ReadableStream<Uint8Array>, each: (line: string) => void) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const line of parts) if (line.trim()) each(line);
    }
    if (rest.trim()) each(rest);
  };
  const done = Promise.all([
    lines(child.stdout, (line) => {
      try {
        records.push(JSON.parse(line));
      } catch {
        records.push({ message: line });
      }
    }),
    lines(child.stderr, (line) => stderr.push(line)),
  ]).then(() => {});
  return { child, records, stderr, done };
}

/** Waits for a log line of `proc` that `match` accepts; fails at once if the process exits. */
async function logLine(
  proc: Proc,
  what: string,
  match: (r: Record<string, unknown>) => boolean,
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  let exited: Deno.CommandStatus | undefined;
  proc.child.status.then((s) => exited = s);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = proc.records.find(match);
    if (found) return found;
    if (exited) {
      await proc.done;
      throw new Error(
        `Cannot start: waiting for ${what}, it exited with code ${exited.code}: ${
          proc.stderr.join("\n").slice(-2000)
        }`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Stops a process: SIGCONT (it may be paused), SIGTERM, then SIGKILL after `graceMs`. */
async function stopProc(proc: Proc, graceMs = 10_000): Promise<number> {
  for (const signal of ["SIGCONT", "SIGTERM"] as const) {
    try {
      proc.child.kill(signal);
    } catch {
      // It has exited already.
    }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      try {
        proc.child.kill("SIGKILL");
      } catch {
        // It has exited meanwhile.
      }
      resolve();
    }, graceMs);
  });
  const status = await Promise.race([proc.child.status, killed.then(() => proc.child.status)]);
  clearTimeout(timer);
  await proc.done;
  return status.code;
}

/** The API server read and written directly, past every proxy (fetch, JSON). */
export class ClusterApi {
  constructor(readonly url: string) {}

  /** Sends a request; resolves with the status and the parsed body (undefined when not JSON). */
  async request(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
    const res = await fetch(this.url + path, {
      method,
      headers: body === undefined ? {} : { "content-type": contentType },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed };
  }

  /** Sends a request that must succeed (2xx); resolves with the body. */
  async must(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<Record<string, unknown>> {
    const r = await this.request(method, path, body, contentType);
    if (r.status < 200 || r.status > 299) {
      throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
    }
    return r.body ?? {};
  }

  /** GETs an object; undefined when it does not exist. */
  async get<T = KubeObject>(path: string): Promise<T | undefined> {
    const r = await this.request("GET", path);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}`);
    return r.body as T;
  }

  /** The items of a list. */
  async list(path: string): Promise<KubeObject[]> {
    const body = await this.must("GET", path);
    return (body.items ?? []) as KubeObject[];
  }

  node(name: string): Promise<KubeObject | undefined> {
    return this.get(`/api/v1/nodes/${name}`);
  }

  /** Whether a Node is cordoned. */
  async cordoned(name: string): Promise<boolean> {
    const node = await this.node(name);
    return (node?.spec as { unschedulable?: boolean } | undefined)?.unschedulable === true;
  }

  /** A Node's InternalIP. */
  async internalIP(name: string): Promise<string> {
    const node = await this.node(name);
    const addresses = (node?.status as { addresses?: { type: string; address: string }[] })
      ?.addresses ?? [];
    const ip = addresses.find((a) => a.type === "InternalIP")?.address;
    if (!ip) throw new Error(`Node ${name} has no InternalIP`);
    return ip;
  }

  /** Merge-patches a Node (labels, annotations). */
  patchNode(name: string, patch: unknown): Promise<Record<string, unknown>> {
    return this.must("PATCH", `/api/v1/nodes/${name}`, patch, "application/merge-patch+json");
  }

  /** The pods bound to a Node. */
  pods(node: string): Promise<KubeObject[]> {
    return this.list(`/api/v1/pods?fieldSelector=spec.nodeName%3D${node}`);
  }

  /** The Events about an object by name, in the events namespace (default `default`). */
  events(name: string, namespace = "default"): Promise<KubeObject[]> {
    return this.list(
      `/api/v1/namespaces/${namespace}/events?fieldSelector=involvedObject.name%3D${name}`,
    );
  }

  /** The Lease `node-heal` in namespace `node-heal`. */
  lease(): Promise<KubeObject | undefined> {
    return this.get("/apis/coordination.k8s.io/v1/namespaces/node-heal/leases/node-heal");
  }

  /** Creates the Lease `node-heal` with this spec. */
  createLease(spec: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.must("POST", "/apis/coordination.k8s.io/v1/namespaces/node-heal/leases", {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "node-heal", namespace: "node-heal" },
      spec,
    });
  }

  /** Deletes the Lease `node-heal`. */
  deleteLease(): Promise<Record<string, unknown>> {
    return this.must(
      "DELETE",
      "/apis/coordination.k8s.io/v1/namespaces/node-heal/leases/node-heal",
    );
  }

  /** Sets (a string) or removes (null) an annotation of a Namespace. */
  annotateNamespace(
    namespace: string,
    key: string,
    value: string | null,
  ): Promise<Record<string, unknown>> {
    return this.must(
      "PATCH",
      `/api/v1/namespaces/${namespace}`,
      { metadata: { annotations: { [key]: value } } },
      "application/merge-patch+json",
    );
  }

  /** Adds labels to a pod. */
  labelPod(
    namespace: string,
    name: string,
    labels: Record<string, string>,
  ): Promise<Record<string, unknown>> {
    return this.must(
      "PATCH",
      `/api/v1/namespaces/${namespace}/pods/${name}`,
      { metadata: { labels } },
      "application/merge-patch+json",
    );
  }

  /**
   * Blocks the eviction of the Deployment pod on `node` (the `web` pod of the default topology):
   * labels it, and makes a PodDisruptionBudget with maxUnavailable 0 selecting it alone. Resolves
   * with the pod's and the budget's names.
   */
  async blockEviction(node: string): Promise<{ pod: string; budget: string }> {
    const pods = await this.pods(node);
    const web = pods.find((p) => p.metadata.labels?.app === "web");
    if (!web) throw new Error(`No web pod on ${node}`);
    const budget = `chaos-block-${node}`;
    await this.labelPod("default", web.metadata.name, { "chaos-block": node });
    await this.must("POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets", {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: budget, namespace: "default" },
      spec: { maxUnavailable: 0, selector: { matchLabels: { "chaos-block": node } } },
    });
    return { pod: web.metadata.name, budget };
  }

  /** Deletes a budget {@link blockEviction} made. */
  unblockEviction(budget: string): Promise<Record<string, unknown>> {
    return this.must("DELETE", `/apis/policy/v1/namespaces/default/poddisruptionbudgets/${budget}`);
  }

  /** Karpenter's NodeClaims by the name of their Node. */
  async nodeClaims(): Promise<Map<string, string>> {
    const claims = await this.list("/apis/karpenter.sh/v1/nodeclaims");
    return new Map(
      claims.map((c) => [String((c.status as { nodeName?: string })?.nodeName), c.metadata.name]),
    );
  }
}

/** The parts of an object the harness reads. */
export interface KubeObject {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
  };
  spec?: unknown;
  status?: unknown;
  data?: Record<string, string>;
  reason?: string;
  message?: string;
  reportingInstance?: string;
  [key: string]: unknown;
}

/** One `main.ts serve` replica behind its proxy. */
export class Replica {
  readonly name: string;
  readonly proxy: ChaosProxy;
  /** Its webhook base URL. */
  url = "";
  /** Whether the harness sent it SIGSTOP and no SIGCONT since. */
  paused = false;
  readonly #proc: Proc;

  constructor(name: string, proxy: ChaosProxy, proc: Proc) {
    this.name = name;
    this.proxy = proxy;
    this.#proc = proc;
  }

  get pid(): number {
    return this.#proc.child.pid;
  }

  /** Its JSON log lines so far. */
  get logs(): readonly Record<string, unknown>[] {
    return this.#proc.records;
  }

  /** Its stderr so far. */
  get stderr(): string {
    return this.#proc.stderr.join("\n");
  }

  /** @internal */
  get proc(): Proc {
    return this.#proc;
  }

  /** Its `/status` (undefined when it does not answer within `timeoutMs`, as a paused one). */
  async status(timeoutMs = 1000): Promise<Record<string, unknown> | undefined> {
    try {
      const res = await fetch(`${this.url}/status`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      return await res.json();
    } catch {
      return undefined;
    }
  }

  /** Whether it says it leads (undefined when it does not answer). */
  async leading(timeoutMs = 1000): Promise<boolean | undefined> {
    const s = await this.status(timeoutMs);
    return s ? (s.leadership as { leading: boolean }).leading : undefined;
  }

  /** POSTs a notification to its webhook with the token; its status and parsed answer. */
  async post(body: unknown): Promise<{ status: number; answer: Record<string, unknown> }> {
    const res = await fetch(`${this.url}/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let answer: Record<string, unknown> = {};
    try {
      answer = JSON.parse(text);
    } catch {
      answer = { text };
    }
    return { status: res.status, answer };
  }

  /** Stops it (SIGTERM, as Kubernetes stops a pod: it releases the Lease); its exit code. */
  stop(): Promise<number> {
    this.paused = false;
    return stopProc(this.#proc);
  }

  /** SIGSTOP: the process freezes, timers and sockets included. */
  pause(): void {
    Deno.kill(this.pid, "SIGSTOP");
    this.paused = true;
  }

  /** SIGCONT: the process goes on from where it froze. */
  resume(): void {
    Deno.kill(this.pid, "SIGCONT");
    this.paused = false;
  }
}

/** An alert about a worker, as Alertmanager labels it (`instance` is `IP:9100`). */
export interface AlertSpec {
  labels: Record<string, string>;
  fingerprint: string;
}

/** A running cluster, its replicas and their proxies; dispose to stop them all. */
export class Chaos implements AsyncDisposable {
  readonly api: ClusterApi;
  readonly replicas: Replica[];
  /** Where the kubeconfigs, the policy and the token live. */
  readonly dir: string;
  readonly #cluster: Proc;
  #closed = false;

  constructor(init: { api: ClusterApi; replicas: Replica[]; dir: string; cluster: Proc }) {
    this.api = init.api;
    this.replicas = init.replicas;
    this.dir = init.dir;
    this.#cluster = init.cluster;
  }

  /** The policy file's path. */
  get policyPath(): string {
    return `${this.dir}/policy.yaml`;
  }

  /** Replaces the policy file whole (written aside, then renamed, as a ConfigMap's swap). */
  async setPolicy(yaml: string): Promise<void> {
    const tmp = `${this.dir}/.policy.yaml.tmp`;
    await Deno.writeTextFile(tmp, yaml);
    await Deno.rename(tmp, this.policyPath);
  }

  replica(name: string): Replica {
    const r = this.replicas.find((r) => r.name === name);
    if (!r) throw new Error(`No replica ${name}`);
    return r;
  }

  /** What each replica says of leading now (undefined for one that does not answer). */
  leadingNow(timeoutMs = 1000): Promise<(boolean | undefined)[]> {
    return Promise.all(this.replicas.map((r) => r.leading(timeoutMs)));
  }

  /** Waits until exactly one replica (among `among`, default all) says it leads; returns it. */
  async waitLeader(
    options: { among?: Replica[]; timeoutMs?: number; what?: string } = {},
  ): Promise<Replica> {
    const among = options.among ?? this.replicas;
    return await waitFor(options.what ?? "one replica to lead", async () => {
      const l = await Promise.all(among.map((r) => r.paused ? false : r.leading()));
      return l.filter((x) => x === true).length === 1 ? among[l.indexOf(true)] : undefined;
    }, options.timeoutMs ?? 20_000);
  }

  /** An alert labelled as Alertmanager would send it about Node `node` (`heal="true"`). */
  async alert(
    node: string,
    options: { alertname?: string; fingerprint?: string; labels?: Record<string, string> } = {},
  ): Promise<AlertSpec> {
    const ip = await this.api.internalIP(node);
    const alertname = options.alertname ?? "NodeDown";
    return {
      labels: { alertname, heal: "true", instance: `${ip}:9100`, ...options.labels },
      fingerprint: options.fingerprint ?? `${alertname}-${node}`,
    };
  }

  /** POSTs a firing notification of these alerts to `replica`. */
  fire(replica: Replica, ...alerts: AlertSpec[]) {
    return replica.post(notification("firing", alerts));
  }

  /** POSTs a resolved notification of these alerts to `replica`. */
  resolve(replica: Replica, ...alerts: AlertSpec[]) {
    return replica.post(notification("resolved", alerts));
  }

  /** Every proxy's entries of these kinds, merged in arrival order. */
  entries(kinds?: readonly RequestKind[]): ProxyEntry[] {
    return merged(this.replicas.map((r) => r.proxy), kinds);
  }

  /**
   * Stops every replica (SIGCONT first if paused), every proxy and the cluster; then fails if a
   * replica logged an unhandled rejection or error (a bug, even where it went on).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.replicas.map((r) => stopProc(r.proc)));
    await Promise.all(this.replicas.map((r) => r.proxy.close()));
    await stopProc(this.#cluster);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    for (const r of this.replicas) assertNoUnhandled(r.proc.records, r.stderr);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts the embedded cluster alone (`deno task cluster`'s entry point, with that task's
 * permissions), then the replicas r1, r2, ... (`main.ts serve` with `deno task serve`'s V8 flags
 * and permissions, reading only the harness's directory as the image reads only its mounts), each
 * with `--kubeconfig` pointing at its own proxy, `--leader-elect`, JSON logs, the webhook token and
 * the policy file; waits until every replica is ready. A failed start stops what had started.
 */
export async function startChaos(options: ChaosOptions): Promise<Chaos> {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-chaos-" });
  const cleanup: (() => Promise<unknown>)[] = [() => Deno.remove(dir, { recursive: true })];
  try {
    const kubeconfig = `${dir}/cluster.kubeconfig`;
    const cluster = spawn(clusterModeArgs(dir, [
      "--embedded-api-listen=127.0.0.1:0",
      `--embedded-kubeconfig-out=${kubeconfig}`,
      `--embedded-workers=${options.workers ?? 3}`,
      "--log-format=json",
    ]));
    cleanup.unshift(() => stopProc(cluster));
    const started = await logLine(
      cluster,
      "the cluster's start-up line",
      (r) => String(r.message).startsWith("Embedded Kubernetes"),
    );
    const url = (started.properties as { api: string }).api;
    const api = new ClusterApi(url);
    await options.beforeReplicas?.(api);

    await Deno.writeTextFile(`${dir}/policy.yaml`, options.policy);
    await Deno.writeTextFile(`${dir}/token`, TOKEN);
    const election = options.election ?? SHORT_ELECTION;
    const replicas: Replica[] = [];
    for (let i = 1; i <= (options.replicas ?? 3); i++) {
      const name = `r${i}`;
      const proxy = await ChaosProxy.start({ upstream: url, replica: name });
      cleanup.unshift(() => proxy.close());
      const config = `${dir}/${name}.kubeconfig`;
      await Deno.writeTextFile(config, kubeconfigFor(proxy.url));
      const proc = spawn([
        "run",
        "--v8-flags=--max-semi-space-size=2,--max-old-space-size=192",
        "--allow-net",
        `--allow-read=${dir}`,
        "--allow-env",
        MAIN,
        "serve",
        `--kubeconfig=${config}`,
        "--leader-elect",
        `--instance=${name}`,
        "--listen=127.0.0.1:0",
        "--log-format=json",
        `--lease-duration=${election.leaseDuration}`,
        `--renew-deadline=${election.renewDeadline}`,
        `--retry-period=${election.retryPeriod}`,
        `--auth-token-file=${dir}/token`,
        `--config=${dir}/policy.yaml`,
        ...(options.serveArgs ?? []),
      ]);
      cleanup.unshift(() => stopProc(proc));
      replicas.push(new Replica(name, proxy, proc));
    }
    await Promise.all(replicas.map(async (r) => {
      const line = await logLine(
        r.proc,
        `${r.name}'s start-up line`,
        (l) => String(l.message).includes("listening on"),
      );
      r.url = (line.properties as { url: string }).url;
      await waitFor(`${r.name} to be ready`, async () => {
        const res = await fetch(`${r.url}/readyz`);
        await res.body?.cancel();
        return res.ok;
      }, 20_000);
    }));
    return new Chaos({ api, replicas, dir, cluster });
  } catch (err) {
    for (const c of cleanup) await c().catch(() => {});
    throw err;
  }
}

/** Prints one line of figures, prefixed `chaos:`, for the before/after record. */
export function figure(line: string): void {
  console.log(`chaos: ${line}`);
}

/** Waits `ms` (an observation window, where a test proves that something does NOT happen). */
export function observe(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Seconds with one decimal, for figures. */
export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
