// `POST /webhook`: Alertmanager's notification read within its limits, run through the pipeline,
// and answered so that Alertmanager retries what may succeed later (5xx) and nothing else.
import { ALERT_STATUSES, parseNotification, PayloadError } from "../intake/alertmanager.ts";
import type { Notification } from "../intake/alertmanager.ts";
import { log } from "../base/log.ts";
import type { Logger } from "@logtape/logtape";
import { untilAborted } from "../base/timing.ts";
import type { NotificationResult } from "../pipeline/pipeline.ts";
import type { Metrics } from "../report/metrics.ts";
import { allow, json, requireCredentials } from "./answers.ts";
import type { Credentials } from "./auth.ts";
import { readBody } from "./body.ts";
import { HttpError } from "./http_error.ts";
import { RequestClock } from "./request_clock.ts";

/** A notification's status as counted (`nodeheal_alertmanager_notifications_total{status}`): `unknown` when unread. */
export const NOTIFICATION_STATUSES = [...ALERT_STATUSES, "unknown"] as const;

type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/** What the webhook route works with, its limits resolved. */
export interface WebhookDeps {
  handle(notification: Notification): Promise<NotificationResult>;
  metrics: Metrics;
  ready(): boolean;
  closing?: AbortSignal;
  credentials?: Credentials;
  /** Largest accepted body, in bytes. */
  limit: number;
  timeoutMs: number;
  maxInFlight: number;
  /** The answer to an error, logged as a rejection when it is one. */
  refuse(req: Request, err: unknown): Response;
}

/** The webhook route: each request answered, counted, and timed. */
export function webhookRoute(deps: WebhookDeps): (req: Request) => Promise<Response> {
  let inFlight = 0;
  const logger = log("server");
  const clock = new RequestClock(deps.timeoutMs, deps.closing);
  return async (req) => {
    allow(req, ["POST"]);
    const started = performance.now();
    let status: NotificationStatus = "unknown";
    let response: Response;
    const signals = clock.start();
    inFlight++;
    try {
      if (inFlight > deps.maxInFlight) throw busy(deps.maxInFlight);
      await requireCredentials(req, deps.credentials, "this webhook");
      checkContentType(req);
      const text = await readBody(req, { limit: deps.limit, signal: signals.reading });
      signals.bodyRead();
      const notification = await parseBody(text);
      status = notification.status;
      logger.debug("Received {alerts} alerts ({status}) from {receiver}", () => ({
        alerts: notification.alerts.length,
        status: notification.status,
        receiver: notification.receiver,
      }));
      if (!deps.ready()) {
        throw new HttpError(503, "Not ready: the node index has not synced with the cluster yet", {
          "retry-after": "5",
        });
      }
      const result = await beforeDeadline(
        deps.handle(notification),
        signals.deadline,
        deps.timeoutMs,
      );
      response = answer(result);
      logOutcomes(logger, result);
    } catch (err) {
      response = deps.refuse(req, err);
    } finally {
      inFlight--;
      signals.end();
    }
    const code = String(response.status);
    deps.metrics.notifications.inc({ status, code });
    deps.metrics.webhookSeconds.observe({ code }, (performance.now() - started) / 1000);
    return response;
  };
}

function busy(maxInFlight: number): HttpError {
  return new HttpError(
    503,
    `Busy: ${maxInFlight} webhook requests are being handled already; retry later`,
    { "retry-after": "5" },
  );
}

/** Throws a 415 unless the body is said to be JSON. */
function checkContentType(req: Request): void {
  const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(
      415,
      `Unsupported content type "${type || "(none)"}": send application/json, as Alertmanager does`,
    );
  }
}

/** The notification in a body, or a 400 that says why not. */
async function parseBody(text: string): Promise<Notification> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `Cannot parse payload: body is not JSON: ${(err as Error).message}`);
  }
  try {
    return await parseNotification(body);
  } catch (err) {
    if (err instanceof PayloadError) throw new HttpError(400, err.message);
    throw err;
  }
}

/** The handling's result, or a 503 once the request's deadline passes (the handling goes on). */
function beforeDeadline<T>(work: Promise<T>, deadline: AbortSignal, timeoutMs: number): Promise<T> {
  const late = () =>
    new HttpError(503, `Not handled within ${timeoutMs} ms; it goes on, retry later`, {
      "retry-after": "10",
    });
  return untilAborted(work, deadline, late);
}

/** 200 with the outcomes, or 503 when what was asked should be sent again. */
function answer(result: NotificationResult): Response {
  if (!result.retry) return json({ status: "ok", ...result });
  return json({ status: "retry", ...result }, 503, {
    "retry-after": "10",
    // Not the leader: the client is told not to keep the connection, so that its retry,
    // through the Service, may reach another replica instead of this one again.
    ...(result.notLeader ? { connection: "close" } : {}),
  });
}

function logOutcomes(logger: Logger, result: NotificationResult): void {
  for (const a of result.alerts) {
    logger.debug(
      "Alert {alertname} ({fingerprint}) on {node}: {outcome}: {message}",
      () => ({
        ...a,
        node: a.node || "(no node)",
        dryRun: result.dryRun,
      }),
    );
  }
}
