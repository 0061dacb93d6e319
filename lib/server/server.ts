import { type Credentials, hasCredentials } from "./auth.ts";
import { RejectionLog } from "./rejections.ts";
import { SERVER_DEFAULTS } from "./limits.ts";
import { HttpError } from "./http_error.ts";
import { uiResponse } from "./ui/page.ts";
import { allow, errorResponse, json, requireCredentials } from "./answers.ts";
import { webhookRoute } from "./webhook.ts";
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

/** A route: the answer to a request for its path. */
type Route = (req: Request, path: string) => Response | Promise<Response>;

/**
 * The HTTP edge of node-heal: `POST /webhook` for Alertmanager, `/healthz`, `/readyz`,
 * `/status`, the status page (`/`) and `/metrics`. Knows nothing of Kubernetes; maps errors to status codes.
 */
export function createHandler(deps: ServerDeps): (req: Request) => Promise<Response> {
  const credentials = hasCredentials(deps.credentials) ? deps.credentials : undefined;
  const rejections = new RejectionLog();
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
  const routes = routesOf(deps, credentials, refuse);
  return async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    try {
      const route = routes.get(path);
      if (!route) throw new HttpError(404, `Not found: ${path}`);
      return await route(req, path);
    } catch (err) {
      return refuse(req, err);
    }
  };
}

/** Each path's route. */
function routesOf(
  deps: ServerDeps,
  credentials: Credentials | undefined,
  refuse: (req: Request, err: unknown) => Response,
): Map<string, Route> {
  const webhook = webhookRoute({
    handle: (n) => deps.handle(n),
    metrics: deps.metrics,
    ready: () => deps.ready(),
    closing: deps.closing,
    credentials,
    limit: deps.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes,
    timeoutMs: deps.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs,
    maxInFlight: deps.maxInFlight ?? SERVER_DEFAULTS.maxInFlight,
    refuse,
  });
  const ui = uiRoute(deps, credentials);
  return new Map<string, Route>([
    ["/webhook", webhook],
    ["/healthz", healthz],
    ["/readyz", readyzRoute(deps)],
    ["/status", statusRoute(deps, credentials)],
    ["/", ui],
    ["/ui", ui],
    ["/ui.js", ui],
    ["/ui.css", ui],
    ["/metrics", metricsRoute(deps)],
  ]);
}

/** `/healthz`: the process answers. */
function healthz(req: Request): Response {
  allow(req, ["GET", "HEAD"]);
  return new Response("ok\n", { headers: { "content-type": "text/plain" } });
}

/** `/readyz`: the node index has synced. */
function readyzRoute(deps: ServerDeps): Route {
  return (req) => {
    allow(req, ["GET", "HEAD"]);
    return deps.ready()
      ? new Response("ok\n", { headers: { "content-type": "text/plain" } })
      : new Response("not ready: the node index has not synced\n", {
        status: 503,
        headers: { "content-type": "text/plain" },
      });
  };
}

/** `/status`: what node-heal holds and decided, as JSON; behind the credentials with `--status-auth`. */
function statusRoute(deps: ServerDeps, credentials: Credentials | undefined): Route {
  return async (req) => {
    allow(req, ["GET"]);
    if (deps.statusAuth) await requireCredentials(req, credentials, "/status");
    return json(deps.status?.() ?? {});
  };
}

/** The status page: `/` (or `/ui`), its script and its stylesheet. */
function uiRoute(deps: ServerDeps, credentials: Credentials | undefined): Route {
  return async (req, path) => {
    allow(req, ["GET", "HEAD"]);
    // The script and stylesheet hold no data; the page asks for credentials so that a
    // browser prompts (basic auth) before its script fetches /status.
    if (deps.statusAuth && !path.startsWith("/ui.")) {
      await requireCredentials(req, credentials, path);
    }
    return uiResponse(path)!;
  };
}

/** `/metrics`: the Prometheus exposition. */
function metricsRoute(deps: ServerDeps): Route {
  return async (req) => {
    allow(req, ["GET"]);
    const { body, contentType } = await deps.metrics.render();
    return new Response(body, { headers: { "content-type": contentType } });
  };
}
