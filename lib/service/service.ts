import { connect, type KubeconfigSource, type Stoppable } from "../act/kube/client.ts";
import { log } from "../base/log.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import { EventRecorder } from "../report/events.ts";
import { Metrics } from "../report/metrics.ts";
import { NodeIndex } from "../resolve/node_index.ts";
import { createHandler } from "../server/server.ts";
import { startGuard } from "../server/guard.ts";
import { GUARD_DEFAULTS, SERVER_DEFAULTS } from "../server/limits.ts";
import { sweepIntervalMs } from "../decide/reconcile.ts";
import type { Node } from "../base/node.ts";
import { DEFAULT_POLICY, withClusterName } from "../decide/policy.ts";
import { PolicyParts, watchPolicy } from "./policy_reload.ts";
import { ClusterPause } from "./pause.ts";
import { systemClock } from "../base/clock.ts";
import { LeaderElector } from "../act/elector.ts";
import { Fence } from "../act/fence.ts";
import { statusOf } from "../report/status.ts";
import { Untrusted } from "../report/untrusted.ts";
import { StateSeal } from "../decide/seal.ts";
import { loadStateKey } from "../act/state_key.ts";
import { StateAdmission } from "../decide/admission.ts";
import { hasCredentials } from "../server/auth.ts";
import { checkExposure, type ServiceConfig } from "./service_config.ts";
import { nodeWatchHandlers, reconcileAll, type WatchHealth } from "./service_watch.ts";

export { checkExposure, isLoopback } from "./service_config.ts";
export type { Election, ServiceConfig } from "./service_config.ts";

/** A running node-heal. */
export interface Service {
  /** Webhook base URL, such as `http://127.0.0.1:8000`. */
  url: string;
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
  checkExposure(config);
  if (config.statusAuth && !hasCredentials(config.credentials)) {
    throw new Error(
      "Cannot use --status-auth without credentials: give --auth-token-file (or " +
        "NODE_HEAL_AUTH_TOKEN) or --basic-auth-file",
    );
  }
  const metrics = new Metrics();
  // Every background task ends in its handler: a throw is logged and counted, never a crash.
  const { background } = metrics;
  // Every write that takes something away is checked immediately before it is sent.
  const fence = new Fence();
  const { client, source } = connect({
    kubeconfigPath: config.kubeconfig,
    kubeconfigYaml: config.kubeconfigYaml,
    dryRun: config.dryRun,
    timeoutMs: config.apiTimeoutMs,
    fence,
    watch: { watchTimeoutMs: config.watchTimeoutMs, background },
  });
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
  // node-heal's state on Nodes counts only as node-heal sealed it, with the key in its namespace.
  const seal = new StateSeal(await loadStateKey(client, namespace));
  const admission = new StateAdmission({
    seal,
    report: (finding) => untrusted.report(finding),
    now: systemClock,
  });
  const index = new NodeIndex({ admit: (node) => admission.admit(node) });
  // The pause an operator sets with kubectl: an annotation on node-heal's namespace.
  const clusterPause = new ClusterPause(client, namespace, { background });
  await clusterPause.start(config.pausePollMs ?? 5000);
  const paused = () =>
    (config.paused ?? false) || pipeline.policy.gates.paused || clusterPause.paused;
  // With leader election, only the holder of the Lease acts; the others answer 503 with
  // `connection: close`, so that Alertmanager's retry may reach the leader through the Service.
  const elector = config.election
    ? new LeaderElector({
      client,
      namespace,
      name: "node-heal",
      identity: config.instance,
      ...config.election,
      // A replica whose Node watch fails, or has not synced, never takes the Lease; a leader whose
      // watch fails for --watch-failure-timeout releases it for a healthy replica.
      watchUnhealthySince: () => health.unhealthySince,
      background,
      malformed: (fields) =>
        untrusted.report({
          kind: "lease",
          object: `${namespace}/node-heal`,
          reason: "schema",
          message: `The Lease ${namespace}/node-heal has fields node-heal cannot take (${
            fields.join(", ")
          }): read as harmless values (a holder as someone's, a count as 0)`,
        }),
      leading: background.guard("leading", (leading, stepDown) => {
        metrics.leader.set(leading ? 1 : 0);
        if (leading) {
          metrics.leaderTransitions.inc();
          log("main").info("Leading as {instance}: acting on alerts", {
            instance: config.instance,
          });
          // Pick up what the last leader left: replacements to follow, drains to resume, holds
          // to expire, claims to drop.
          background.run("resume-replacements", () => pipeline.resumeReplacements());
          if (index.synced) reconcileEach(index.nodes());
        } else {
          if (stepDown) metrics.leaderStepdowns.inc({ reason: stepDown.reason });
          log("main").warn("No longer leading as {instance} ({why}): acting on nothing", {
            instance: config.instance,
            why: stepDown?.message ?? "stopping",
            reason: stepDown?.reason ?? "stop",
          });
          // Its drains stop; their claims stay for the new leader to resume.
          background.run("leading", () => pipeline.stopDrains());
        }
      }),
    })
    : undefined;
  const leading = () => elector?.leading ?? true;
  if (!elector) metrics.leader.set(1);
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
  const pipeline = new Pipeline({
    client,
    index,
    metrics,
    events,
    holdTtlMs: config.holdTtlMs,
    policy,
    paused,
    instance: config.instance,
    drainRetryMs: config.drainRetryMs,
    leading,
    providers,
    namespace,
    replacePollMs: config.replacePollMs,
    notifier,
    untrusted,
    seal,
  });
  const reconcileEach = (nodes: Iterable<Node>) => reconcileAll(pipeline, background, nodes);
  const { promise: synced, resolve: markSynced } = Promise.withResolvers<void>();
  const health: WatchHealth = { healthy: false, unhealthySince: performance.now() };
  let watch: Stoppable | undefined;
  const watchReady = client.watchNodes(
    nodeWatchHandlers({ index, metrics, pipeline, health, synced: markSynced }),
  ).then((w) => watch = w);

  // Holds expire when their alert has not been seen for the TTL; look a few times per TTL.
  const sweepMs = sweepIntervalMs(config.holdTtlMs);
  const sweep = setInterval(
    background.guard("sweep", () => {
      if (!health.healthy) return;
      // The ledger read again: hand edits seen, a follower that stopped started again.
      background.run("resume-replacements", () => pipeline.resumeReplacements());
      reconcileEach(index.nodes());
    }),
    sweepMs,
  );

  elector?.start();

  // An edited policy file (a ConfigMap's symlink swap) is put in force whole, or refused.
  const policyWatch = config.policyFile
    ? await watchPolicy({
      path: config.policyFile,
      pollMs: config.policyPollMs ?? 5000,
      clusterName: config.clusterName,
      parts,
      apply: (next) => pipeline.applyPolicy(next),
      background,
      told: (result, message) => {
        metrics.policyReloads.inc({ result });
        background.run("events", () =>
          events.record(namespace, {
            reason: result === "applied" ? "NodeHealPolicyReloaded" : "NodeHealPolicyRefused",
            type: result === "applied" ? "Normal" : "Warning",
            message,
          }, { at: systemClock(), kind: "Namespace" }));
      },
    })
    : undefined;
  policyWatch?.start();

  const closing = new AbortController();
  const handler = createHandler({
    closing: closing.signal,
    handle: (n) => pipeline.handle(n),
    metrics,
    credentials: config.credentials,
    statusAuth: config.statusAuth,
    requestTimeoutMs: config.requestTimeoutMs,
    maxBodyBytes: config.maxBodyBytes,
    maxInFlight: config.maxInFlight,
    // Every replica is ready once its watch is: readiness does not follow leadership, or a
    // rolling update of two replicas would wait forever for a new pod that cannot lead.
    ready: () => index.synced && health.healthy,
    status: () =>
      statusOf(index, {
        policy: pipeline.policy,
        decisions: pipeline.recentDecisions(),
        replacements: pipeline.replacements(),
        leadership: {
          leader: elector ? elector.leader : config.instance,
          thisReplica: config.instance,
          leading: leading(),
          elected: elector !== undefined,
        },
        now: systemClock(),
        holdTtlMs: config.holdTtlMs,
        paused: paused(),
        dryRun: config.dryRun,
        pauses: {
          flag: config.paused ?? false,
          policy: pipeline.policy.gates.paused,
          cluster: clusterPause.paused,
        },
      }),
  });
  // The public listener is the guard, which ends TLS; the HTTP server behind it listens on
  // loopback only.
  const guard = startGuard({
    listen: config.listen,
    tls: config.tls,
    headerTimeoutMs: config.headerTimeoutMs ?? GUARD_DEFAULTS.headerTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs ?? GUARD_DEFAULTS.idleTimeoutMs,
    maxConnections: config.maxConnections ?? GUARD_DEFAULTS.maxConnections,
    maxConnectionsPerClient: config.maxConnectionsPerClient ??
      GUARD_DEFAULTS.maxConnectionsPerClient,
    requestTimeoutMs: config.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs,
    // Twice the body limit, and room for chunk framing: the server reads bodies whole.
    maxRequestBytes: 2 * (config.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes) + 65_536,
    closed: (limit) => metrics.connectionsClosed.inc({ limit }),
    background,
  });
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => resolve(addr as Deno.NetAddr),
  }, guard.wrap(handler));
  guard.forward((await listening).port);
  const addr = guard.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `${config.tls ? "https" : "http"}://${host}:${addr.port}`,
    metrics,
    index,
    kubeconfigSource: source,
    synced,
    async close() {
      await policyWatch?.stop();
      clearInterval(sweep);
      clusterPause.stop();
      guard.stopAccepting();
      closing.abort();
      await server.shutdown();
      await guard.close();
      // Running drains stop; their claims stay on the Nodes for the next process to resume.
      await pipeline.stopDrains();
      // Then the Lease is released, so a successor takes over at its next try.
      await elector?.stop();
      // What waits to be told is delivered, within a bound.
      await parts.close();
      await events.flush();
      await watchReady;
      await watch?.stop();
      await client.close?.();
    },
  };
}
