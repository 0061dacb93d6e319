// What `GET /status` and the status page show, read from the running service's parts.
import { systemClock } from "../base/clock.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import { statusOf } from "../report/status.ts";
import type { NodeIndex } from "../resolve/node_index.ts";
import type { Leadership } from "./leadership.ts";
import type { Pauses } from "./pause.ts";
import type { ServiceConfig } from "./service_config.ts";

/** The parts `/status` reads. */
export interface StatusParts {
  index: NodeIndex;
  pipeline: Pipeline;
  leadership: Leadership;
  pauses: Pauses;
  config: Pick<ServiceConfig, "instance" | "holdTtlMs" | "dryRun">;
}

/** The `/status` reader of a running service: each call reads the parts as they are now. */
export function statusReader(parts: StatusParts): () => unknown {
  const { index, pipeline, leadership, pauses, config } = parts;
  return () =>
    statusOf(index, {
      policy: pipeline.policy,
      decisions: pipeline.recentDecisions(),
      replacements: pipeline.replacements(),
      leadership: {
        leader: leadership.leader,
        thisReplica: config.instance,
        leading: leadership.leading,
        elected: leadership.elected,
      },
      now: systemClock(),
      holdTtlMs: config.holdTtlMs,
      paused: pauses.paused,
      dryRun: config.dryRun,
      pauses: pauses.each,
      breakers: pipeline.breakers.states(),
      breakerView: pipeline.breakers.view(),
    });
}
