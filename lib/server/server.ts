import { ALERT_STATUSES, parseNotification, PayloadError } from "../intake/alertmanager.ts";
import { authorized, challenge, type Credentials, hasCredentials } from "./auth.ts";
import { log } from "../base/log.ts";
import { readBody } from "./body.ts";
import { RejectionLog } from "./rejections.ts";
import { HttpError } from "./http_error.ts";
import { untilAborted } from "../base/timing.ts";
import { uiResponse } from "./ui/page.ts";
import type { NotificationResult } from "../pipeline/pipeline.ts";
import type { Metrics } from "../report/metrics.ts";
import type { Notification } from "../intake/alertmanager.ts";

export { HttpError };

/** What the HTTP server needs from the rest of node-heal. */
export interface ServerDeps {
  /** Runs the pipeline on one notification. */
  handle(notification: Notification): Promise<NotificationResult>;
  metrics: Metrics;
  /** Whether node-heal can act: the node index has synced. */
  ready(): boolean;
  /** What `GET /status` shows (JSON). */
  status?(): unknown;
  /** Largest accepted webhook body, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** When set, every webhook request must carry one of these credentials (401 otherwise). */
  credentials?: Credentials;
  /** Whether `/status` and the status page need the webhook's credentials too (`--status-auth`). */
  statusAuth?: boolean;
  /**
   * How long one webhook request may take from its arrival, body included (default 30 s): a
   * body still arriving then, or handling still going on, is answered 503.
   */
  requestTimeoutMs?: number;
  /** Webhook requests handled at once (default 32); more are answered 503 with Retry-After. */
  maxInFlight?: number;
  /** Aborted when node-heal shuts down: bodies still arriving are answered 503 at once. */
  closing?: AbortSignal;
}

/** Defaults of the webhook's limits; `docs/limits.md` lists them with their flags. */
export const SERVER_DEFAULTS = {
  maxBodyBytes: 1024 * 1024,
  requestTimeoutMs: 30_000,
  maxInFlight: 32,
} as const;

/** A JSON answer, ending with a newline as text answers do (curl's prompt starts on its own line). */
/** A notification's status as counted (`nodeheal_alertmanager_notifications_total{status}`): `unknown` when unread. */
export const NOTIFICATION_STATUSES = [...ALERT_STATUSES, "unknown"] as const;

type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(`${JSON.stringify(body)}\n`, {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function allow(req: Request, methods: string[]): void {
  if (!methods.includes(req.method)) {
    throw new HttpError(
      405,
      `Method ${req.method} is not allowed here; use ${methods.join(", ")}`,
      {
        allow: methods.join(", "),
      },
    );
  }
}

/**
 * The HTTP edge of node-heal: `POST /webhook` for Alertmanager, `/healthz`, `/readyz`,
 * `/status`, the status page (`/`) and `/metrics`. Knows nothing of Kubernetes; maps errors to status codes.
 */
export function createHandler(deps: ServerDeps): (req: Request) => Promise<Response> {
  const limit = deps.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes;
  const credentials = hasCredentials(deps.credentials) ? deps.credentials : undefined;
  const timeoutMs = deps.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs;
  const maxInFlight = deps.maxInFlight ?? SERVER_DEFAULTS.maxInFlight;
  let inFlight = 0;
  const rejections = new RejectionLog();
  const logger = log("server");
  /** Throws a 401 unless the request carries the credentials (when any are configured). */
  const requireCredentials = async (req: Request, what: string): Promise<void> => {
    if (credentials && !(await authorized(req.headers.get("authorization"), credentials))) {
      throw new HttpError(401, `Unauthorized: ${what} needs the webhook's credentials`, {
        "www-authenticate": challenge(credentials),
      });
    }
  };
  /** The answer to an error; a rejection (an HttpError) is logged, rate-limited per reason. */
  const refuse = (req: Request, err: unknown): Response => {
    if (err instanceof HttpError) {
      rejections.rejected(
        { method: req.method, path: new URL(req.url).pathname },
        err.status,
        err.message,
      );
    }
    return errorResponse(err);
  };

  async function webhook(req: Request): Promise<Response> {
    allow(req, ["POST"]);
    const started = performance.now();
    let status: NotificationStatus = "unknown";
    let response: Response;
    // One deadline from the request's arrival: reading the body, parsing and handling.
    const expiry = new AbortController();
    const timer = setTimeout(() => expiry.abort(), timeoutMs);
    const deadline = expiry.signal;
    // A shutdown cuts a body still arriving (a request already read is handled to its end).
    const cut = new AbortController();
    const reading = AbortSignal.any([deadline, cut.signal]);
    const onClosing = () =>
      cut.abort(
        new HttpError(503, "Shutting down: send it again, to another replica or later", {
          "retry-after": "5",
        }),
      );
    if (deps.closing?.aborted) onClosing();
    deps.closing?.addEventListener("abort", onClosing, { once: true });
    inFlight++;
    try {
      if (inFlight > maxInFlight) {
        throw new HttpError(
          503,
          `Busy: ${maxInFlight} webhook requests are being handled already; retry later`,
          { "retry-after": "5" },
        );
      }
      await requireCredentials(req, "this webhook");
      const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
      if (type !== "application/json") {
        throw new HttpError(
          415,
          `Unsupported content type "${
            type || "(none)"
          }": send application/json, as Alertmanager does`,
        );
      }
      const text = await readBody(req, { limit, signal: reading });
      deps.closing?.removeEventListener("abort", onClosing);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new HttpError(
          400,
          `Cannot parse payload: body is not JSON: ${(err as Error).message}`,
        );
      }
      let notification: Notification;
      try {
        notification = await parseNotification(body);
      } catch (err) {
        if (err instanceof PayloadError) throw new HttpError(400, err.message);
        throw err;
      }
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
      const result = await beforeDeadline(deps.handle(notification), deadline, timeoutMs);
      response = result.retry
        ? json({ status: "retry", ...result }, 503, {
          "retry-after": "10",
          // Not the leader: the client is told not to keep the connection, so that its retry,
          // through the Service, may reach another replica instead of this one again.
          ...(result.notLeader ? { connection: "close" } : {}),
        })
        : json({ status: "ok", ...result });
      for (const a of result.alerts) {
        logger.debug("Alert {alertname} ({fingerprint}) on {node}: {outcome}: {message}", () => ({
          ...a,
          node: a.node || "(no node)",
          dryRun: result.dryRun,
        }));
      }
    } catch (err) {
      response = refuse(req, err);
    } finally {
      inFlight--;
      clearTimeout(timer);
      deps.closing?.removeEventListener("abort", onClosing);
    }
    const code = String(response.status);
    deps.metrics.notifications.inc({ status, code });
    deps.metrics.webhookSeconds.observe({ code }, (performance.now() - started) / 1000);
    return response;
  }

  return async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    try {
      switch (path) {
        case "/webhook":
          return await webhook(req);
        case "/healthz":
          allow(req, ["GET", "HEAD"]);
          return new Response("ok\n", { headers: { "content-type": "text/plain" } });
        case "/readyz":
          allow(req, ["GET", "HEAD"]);
          return deps.ready()
            ? new Response("ok\n", { headers: { "content-type": "text/plain" } })
            : new Response("not ready: the node index has not synced\n", {
              status: 503,
              headers: { "content-type": "text/plain" },
            });
        case "/status":
          allow(req, ["GET"]);
          if (deps.statusAuth) await requireCredentials(req, "/status");
          return json(deps.status?.() ?? {});
        case "/":
        case "/ui":
        case "/ui.js":
        case "/ui.css":
          allow(req, ["GET", "HEAD"]);
          // The script and stylesheet hold no data; the page asks for credentials so that a
          // browser prompts (basic auth) before its script fetches /status.
          if (deps.statusAuth && !path.startsWith("/ui.")) await requireCredentials(req, path);
          return uiResponse(path)!;
        case "/metrics": {
          allow(req, ["GET"]);
          const { body, contentType } = await deps.metrics.render();
          return new Response(body, { headers: { "content-type": contentType } });
        }
        default:
          throw new HttpError(404, `Not found: ${path}`);
      }
    } catch (err) {
      return refuse(req, err);
    }
  };
}

/** The handling's result, or a 503 once the request's deadline passes (the handling goes on). */
function beforeDeadline<T>(work: Promise<T>, deadline: AbortSignal, timeoutMs: number): Promise<T> {
  const late = () =>
    new HttpError(503, `Not handled within ${timeoutMs} ms; it goes on, retry later`, {
      "retry-after": "10",
    });
  return untilAborted(work, deadline, late);
}

function errorResponse(err: unknown): Response {
  if (err instanceof HttpError) {
    return json({ status: "error", error: err.message }, err.status, err.headers);
  }
  log("server").error("Internal error: {error}", { error: String((err as Error)?.stack ?? err) });
  return json({ status: "error", error: `Internal error: ${(err as Error)?.message ?? err}` }, 500);
}
