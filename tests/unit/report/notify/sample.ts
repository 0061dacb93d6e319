// Sample notification events for the sink and queue tests.
import type { NotifyEvent, NotifyKind } from "../../../../lib/report/notify/types.ts";

let seq = 0;

/** An event of `kind` for `node`, each with its own id; `extra` overrides any field. */
export function event(
  kind: NotifyKind = "cordoned",
  node = "node-1",
  extra: Partial<NotifyEvent> = {},
): NotifyEvent {
  return {
    id: `ev-${++seq}`,
    kind,
    node,
    message: `${node} ${kind}`,
    episode: `${node}@2024-05-01T10:00:00Z`,
    replica: "node-heal-0",
    at: "2024-05-01T10:00:00.000Z",
    dryRun: false,
    ...extra,
  };
}
