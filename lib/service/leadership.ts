// Who may act: with leader election, only the holder of the Lease; the others answer 503 with
// `connection: close`, so that Alertmanager's retry may reach the leader through the Service.
// Without it, this replica always leads.
import { LeaderElector, type StepDown } from "../act/elector.ts";
import type { KubeClient } from "../act/kube/types.ts";
import type { Background } from "../base/background.ts";
import { log } from "../base/log.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import type { Metrics } from "../report/metrics.ts";
import type { Untrusted } from "../report/untrusted.ts";
import type { NodeIndex } from "../resolve/node_index.ts";
import type { Election } from "./service_config.ts";
import { reconcileAll, type WatchHealth } from "./service_watch.ts";

/** What {@link Leadership} needs. */
export interface LeadershipOptions {
  client: KubeClient;
  namespace: string;
  /** This replica's name, the Lease holder's identity. */
  instance: string;
  /** Leader election's durations; none, and this replica always leads. */
  election?: Election;
  metrics: Metrics;
  untrusted: Untrusted;
  background: Background;
  /** The Node watch's health: an unhealthy replica never takes the Lease. */
  health: WatchHealth;
}

/** This replica's leadership: the elector when there is one, and what a change asks of the pipeline. */
export class Leadership {
  readonly #elector?: LeaderElector;
  readonly #options: LeadershipOptions;
  #followers?: { pipeline: Pipeline; index: NodeIndex };

  constructor(options: LeadershipOptions) {
    this.#options = options;
    this.#elector = options.election ? this.#newElector(options.election) : undefined;
    if (!this.#elector) options.metrics.leader.set(1);
  }

  /** Whether this replica may act now. */
  get leading(): boolean {
    return this.#elector?.leading ?? true;
  }

  /** The Lease's holder as last read (this replica without election). */
  get leader(): string | undefined {
    return this.#elector ? this.#elector.leader : this.#options.instance;
  }

  /** Whether leader election is on. */
  get elected(): boolean {
    return this.#elector !== undefined;
  }

  /**
   * Starts contending for the Lease. On leading, the pipeline picks up what the last leader left;
   * on stepping down, its drains stop.
   */
  start(pipeline: Pipeline, index: NodeIndex): void {
    this.#followers = { pipeline, index };
    this.#elector?.start();
  }

  /** Stops leading and releases the Lease, so a successor takes over at its next try. */
  async stop(): Promise<void> {
    await this.#elector?.stop();
  }

  #newElector(election: Election): LeaderElector {
    const { client, namespace, instance, background, untrusted } = this.#options;
    return new LeaderElector({
      client,
      namespace,
      name: "node-heal",
      identity: instance,
      ...election,
      // A replica whose Node watch fails, or has not synced, never takes the Lease; a leader whose
      // watch fails for --watch-failure-timeout releases it for a healthy replica.
      watchUnhealthySince: () => this.#options.health.unhealthySince,
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
        if (leading) this.#led();
        else this.#steppedDown(stepDown);
      }),
    });
  }

  #led(): void {
    const { metrics, background, instance } = this.#options;
    metrics.leader.set(1);
    metrics.leaderTransitions.inc();
    log("main").info("Leading as {instance}: acting on alerts", { instance });
    if (!this.#followers) return;
    const { pipeline, index } = this.#followers;
    // Pick up what the last leader left: replacements to follow, drains to resume, holds
    // to expire, claims to drop.
    background.run("resume-replacements", () => pipeline.resumeReplacements());
    if (index.synced) reconcileAll(pipeline, background, index.nodes());
  }

  #steppedDown(stepDown: StepDown | undefined): void {
    const { metrics, background, instance } = this.#options;
    metrics.leader.set(0);
    // Only the leader's breakers are in force: a replica that no longer leads shows none open.
    metrics.breakerOpen.reset();
    if (stepDown) metrics.leaderStepdowns.inc({ reason: stepDown.reason });
    log("main").warn("No longer leading as {instance} ({why}): acting on nothing", {
      instance,
      why: stepDown?.message ?? "stopping",
      reason: stepDown?.reason ?? "stop",
    });
    // Its drains stop; their claims stay for the new leader to resume.
    background.run("leading", () => this.#followers?.pipeline.stopDrains());
  }
}
