// The composition root: it makes node-heal's parts and wires them, in the order each needs the
// last; what each part does lives in its own module.
import { connect, type KubeconfigSource } from "../act/kube/client.ts";
import type { KubeClient } from "../act/kube/types.ts";
import type { Background } from "../base/background.ts";
import { log } from "../base/log.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import { EventRecorder } from "../report/events.ts";
import { Metrics } from "../report/metrics.ts";
import { countRepeatOffenders } from "../report/repeat_offenders.ts";
import { NodeIndex } from "../resolve/node_index.ts";
import { DEFAULT_POLICY, withClusterName } from "../decide/policy.ts";
import { PolicyParts, type PolicyWatch, watchPolicy } from "./policy_reload.ts";
import { ClusterPause, Pauses } from "./pause.ts";
import { systemClock } from "../base/clock.ts";
import { Fence } from "../act/fence.ts";
import { Untrusted } from "../report/untrusted.ts";
import { StateSeal } from "../decide/seal.ts";
import { loadStateKey } from "../act/state_key.ts";
import { StateAdmission } from "../decide/admission.ts";
import { hasCredentials } from "../server/auth.ts";
import { checkExposure, type ServiceConfig } from "./service_config.ts";
import { startNodeWatch, type WatchHealth } from "./service_watch.ts";
import { Leadership } from "./leadership.ts";
import { startSweep } from "./sweep.ts";
import { statusReader } from "./service_status.ts";
import { startHttp } from "./service_http.ts";

export { checkExposure, isLoopback } from "./service_config.ts";
export type { Election, ServiceConfig } from "./service_config.ts";

/** A running node-heal. */
export interface Service {
  /** Webhook base URL, such as `http://127.0.0.1:8000`. */
  url: string;
  /** The HTTP server behind the connection guard, on loopback: for the bench (`noop_relay_cost`). */
  innerUrl: string;
  metrics: Metrics;
  index: NodeIndex;
  kubeconfigSource: KubeconfigSource;
  /** Resolves once the node index has synced (ready). */
  synced: Promise<void>;
  /** Stops accepting, lets in-flight requests finish, stops drains and the watch. */
  close(): Promise<void>;
}

/** Starts node-heal: the cluster connection, the node watch, the pipeline and the HTTP server. */
export async function startService(config: ServiceConfig): Promise<Service> {
  checkStart(config);
  const made = await makeParts(config);
  const { metrics, background, client, index, health, leadership, pipeline } = made;
  const watch = startNodeWatch(client, { index, metrics, pipeline, health });
  const stopSweep = startSweep({
    pipeline,
    index,
    health,
    background,
    holdTtlMs: config.holdTtlMs,
  });
  leadership.start(pipeline, index);
  metrics.countRepeatOffenders = () => countRepeatOffenders(index.nodes(), systemClock());
  const policyWatch = await watchPolicyFile(config, made);
  policyWatch?.start();
  const http = await startHttp(config, {
    handle: (n) => pipeline.handle(n),
    metrics,
    background,
    // Every replica is ready once its watch is: readiness does not follow leadership, or a
    // rolling update of two replicas would wait forever for a new pod that cannot lead.
    ready: () => index.synced && health.healthy,
    status: statusReader({ ...made, config }),
  });
  return {
    url: http.url,
    innerUrl: http.innerUrl,
    metrics,
    index,
    kubeconfigSource: made.source,
    synced: watch.synced,
    async close() {
      await policyWatch?.stop();
      stopSweep();
      made.clusterPause.stop();
      await http.close();
      // Running drains stop; their claims stay on the Nodes for the next process to resume.
      await pipeline.stopDrains();
      // Then the Lease is released, so a successor takes over at its next try.
      await leadership.stop();
      // What waits to be told is delivered, within a bound.
      await made.parts.close();
      await made.events.flush();
      await watch.stop();
      await client.close?.();
    },
  };
}

/** node-heal's parts, made and wired; of them only the cluster pause runs yet (it was read once). */
interface ServiceParts {
  metrics: Metrics;
  background: Background;
  client: KubeClient;
  source: KubeconfigSource;
  /** The policy's providers and sinks, remade on a reload. */
  parts: PolicyParts;
  events: EventRecorder;
  namespace: string;
  index: NodeIndex;
  clusterPause: ClusterPause;
  pauses: Pauses;
  health: WatchHealth;
  leadership: Leadership;
  pipeline: Pipeline;
}

/** Makes node-heal's parts, each from those it needs. */
async function makeParts(config: ServiceConfig): Promise<ServiceParts> {
  const metrics = new Metrics();
  // Every background task ends in its handler: a throw is logged and counted, never a crash.
  const { background } = metrics;
  const { client, source, fence } = openCluster(config, background);
  const policy = withClusterName(config.policy ?? DEFAULT_POLICY, config.clusterName);
  // The policy's replacement providers and notification sinks, made now: one that cannot work
  // stops the start, naming the field.
  const parts = new PolicyParts({
    client,
    metrics,
    replica: config.instance,
    dryRun: config.dryRun,
    fence,
  });
  const { providers, notifier } = await parts.of(policy);
  const events = new EventRecorder(client, metrics, {
    namespace: config.eventNamespace,
    instance: config.instance,
  });
  const namespace = config.namespace ?? "node-heal";
  const untrusted = new Untrusted({ metrics, events, namespace, now: systemClock });
  const { index, seal } = await sealedIndex(client, namespace, untrusted);
  // The pause an operator sets with kubectl: an annotation on node-heal's namespace.
  const clusterPause = new ClusterPause(client, namespace, { background });
  await clusterPause.start(config.pausePollMs ?? 5000);
  const pauses = new Pauses(config.paused ?? false, clusterPause, policy);
  const health: WatchHealth = { healthy: false, unhealthySince: performance.now() };
  const { instance, election } = config;
  const leadership = new Leadership({
    client,
    namespace,
    instance,
    election,
    metrics,
    untrusted,
    background,
    health,
  });
  const leading = () => leadership.leading;
  bindFence(fence, leading, metrics);
  const pipeline = new Pipeline({
    holdTtlMs: config.holdTtlMs,
    instance,
    drainRetryMs: config.drainRetryMs,
    replacePollMs: config.replacePollMs,
    client,
    index,
    metrics,
    events,
    policy,
    paused: () => pauses.paused,
    leading,
    providers,
    namespace,
    notifier,
    untrusted,
    seal,
  });
  pauses.follow(pipeline);
  return {
    metrics,
    background,
    client,
    source,
    parts,
    events,
    namespace,
    index,
    clusterPause,
    pauses,
    health,
    leadership,
    pipeline,
  };
}

/** Every write that takes something away is checked by the fence immediately before it is sent. */
function openCluster(
  config: ServiceConfig,
  background: Background,
): { client: KubeClient; source: KubeconfigSource; fence: Fence } {
  const fence = new Fence();
  const { client, source } = connect({
    kubeconfigPath: config.kubeconfig,
    kubeconfigYaml: config.kubeconfigYaml,
    dryRun: config.dryRun,
    timeoutMs: config.apiTimeoutMs,
    fence,
    watch: { watchTimeoutMs: config.watchTimeoutMs, background },
  });
  return { client, source, fence };
}

/** Throws when the configuration cannot start: exposed without credentials, or asks for them without any. */
function checkStart(config: ServiceConfig): void {
  checkExposure(config);
  if (config.statusAuth && !hasCredentials(config.credentials)) {
    throw new Error(
      "Cannot use --status-auth without credentials: give --auth-token-file (or " +
        "NODE_HEAL_AUTH_TOKEN) or --basic-auth-file",
    );
  }
}

/**
 * The Node index, admitting node-heal's state on a Node only as node-heal sealed it, with the key
 * in its namespace; what fails the seal is reported as untrusted.
 */
async function sealedIndex(
  client: KubeClient,
  namespace: string,
  untrusted: Untrusted,
): Promise<{ index: NodeIndex; seal: StateSeal }> {
  const seal = new StateSeal(await loadStateKey(client, namespace));
  const admission = new StateAdmission({
    seal,
    report: (finding) => untrusted.report(finding),
    now: systemClock,
  });
  const index = new NodeIndex({ admit: (node) => admission.admit(node) });
  return { index, seal };
}

/** Fences every write that takes something away on this replica still leading; a refusal is counted. */
function bindFence(fence: Fence, leading: () => boolean, metrics: Metrics): void {
  fence.bind({
    leading,
    refused: (write, target) => {
      metrics.fencedWrites.inc({ write });
      log("act").warn("Refused to send {write} of {target}: this replica no longer leads", {
        write,
        target,
      });
    },
  });
}

/**
 * With `--policy-file`, the watch that puts an edited policy file (a ConfigMap's symlink swap) in
 * force whole, or refuses it; each result counted and told as an Event on node-heal's namespace.
 */
function watchPolicyFile(
  config: ServiceConfig,
  deps: Pick<ServiceParts, "parts" | "pipeline" | "events" | "namespace" | "metrics">,
): Promise<PolicyWatch> | undefined {
  if (!config.policyFile) return undefined;
  const { parts, pipeline, events, namespace, metrics } = deps;
  const { background } = metrics;
  return watchPolicy({
    path: config.policyFile,
    pollMs: config.policyPollMs ?? 5000,
    clusterName: config.clusterName,
    parts,
    apply: (next) => pipeline.applyPolicy(next),
    background,
    told: (result, message) => {
      metrics.policyReloads.inc({ result });
      events.record(namespace, {
        reason: result === "applied" ? "NodeHealPolicyReloaded" : "NodeHealPolicyRefused",
        type: result === "applied" ? "Normal" : "Warning",
        message,
      }, { at: systemClock(), kind: "Namespace" });
    },
  });
}
