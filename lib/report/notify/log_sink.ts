// The log sink: what would be sent, printed as one structured line, so dev mode shows
// notifications without a Slack or PagerDuty account. It holds no secret.
import { log } from "../../base/log.ts";
import { plainText } from "./slack.ts";
import type { Attempt, NotifyEvent, Sink } from "./types.ts";

const logger = log("notify");

/** Prints each notification; never fails. */
export class LogSink implements Sink {
  readonly type = "log" as const;
  constructor(readonly name: string) {}

  deliver(event: NotifyEvent): Promise<Attempt> {
    logger.info("Notification {sink}: {text}", {
      sink: this.name,
      text: plainText(event),
      id: event.id,
      kind: event.kind,
      node: event.node,
      episode: event.episode,
      ...(event.alert ? { alert: event.alert.name } : {}),
      ...(event.gate ? { gate: event.gate } : {}),
      dryRun: event.dryRun,
    });
    return Promise.resolve({ result: "sent" });
  }
}
