// A pipeline over the in-memory client, as the service composes one (an index fed by the client's
// watch, metrics, Events), for unit tests of the pipeline and of what drives it.
import { Pipeline, type PipelineDeps } from "../../lib/pipeline/pipeline.ts";
import { EventRecorder } from "../../lib/report/events.ts";
import { Metrics } from "../../lib/report/metrics.ts";
import { type FakeClient, watchedIndex } from "../fakes/fake_client.ts";

/** The pipeline over `client`; `deps` adds to or replaces what the service would give it. */
export function pipelineOver(
  client: FakeClient,
  deps: Omit<PipelineDeps, "client" | "index" | "metrics" | "events">,
) {
  const index = watchedIndex(client);
  const metrics = new Metrics();
  const events = new EventRecorder(client, metrics);
  const pipeline = new Pipeline({ client, index, metrics, events, ...deps });
  return { index, metrics, events, pipeline };
}
