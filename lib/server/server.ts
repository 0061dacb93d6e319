import { parseNotification, PayloadError } from "../intake/alertmanager.ts";
import { authorized, challenge, type Credentials, hasCredentials } from "./auth.ts";
import { log } from "../log.ts";
import type { NotificationResult } from "../pipeline.ts";
import type { Metrics } from "../report/metrics.ts";
import type { Notification } from "../intake/alertmanager.ts";

/** An error that becomes an HTTP answer at the edge: thrown deep, turned into a Response here. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

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
  /** How long one webhook request may take before it is answered 503 (default 30 s). */
  requestTimeoutMs?: number;
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

async function readBody(req: Request, limit: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    throw new HttpError(413, `Request body too large: ${declared} bytes, the limit is ${limit}`);
  }
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw new HttpError(413, `Request body too large: more than ${limit} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.length;
  }
  return new TextDecoder().decode(all);
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
 * `/status` and `/metrics`. Knows nothing of Kubernetes; maps errors to status codes.
 */
export function createHandler(deps: ServerDeps): (req: Request) => Promise<Response> {
  const limit = deps.maxBodyBytes ?? 1024 * 1024;

  const credentials = hasCredentials(deps.credentials) ? deps.credentials : undefined;
  const timeoutMs = deps.requestTimeoutMs ?? 30_000;

  async function webhook(req: Request): Promise<Response> {
    allow(req, ["POST"]);
    const started = performance.now();
    let status = "unknown";
    let response: Response;
    try {
      if (credentials && !(await authorized(req.headers.get("authorization"), credentials))) {
        throw new HttpError(401, "Unauthorized: this webhook needs its credentials", {
          "www-authenticate": challenge(credentials),
        });
      }
      const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
      if (type !== "application/json") {
        throw new HttpError(
          415,
          `Unsupported content type "${
            type || "(none)"
          }": send application/json, as Alertmanager does`,
        );
      }
      const text = await readBody(req, limit);
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
      if (!deps.ready()) {
        throw new HttpError(503, "Not ready: the node index has not synced with the cluster yet", {
          "retry-after": "5",
        });
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        deps.handle(notification),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new HttpError(503, `Not handled within ${timeoutMs} ms; it goes on, retry later`, {
                  "retry-after": "10",
                }),
              ),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      response = result.retry
        ? json({ status: "retry", ...result }, 503, { "retry-after": "10" })
        : json({ status: "ok", ...result });
    } catch (err) {
      response = errorResponse(err);
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
          return json(deps.status?.() ?? {});
        case "/metrics": {
          allow(req, ["GET"]);
          const { body, contentType } = await deps.metrics.render();
          return new Response(body, { headers: { "content-type": contentType } });
        }
        default:
          throw new HttpError(404, `Not found: ${path}`);
      }
    } catch (err) {
      return errorResponse(err);
    }
  };
}

function errorResponse(err: unknown): Response {
  if (err instanceof HttpError) {
    return json({ status: "error", error: err.message }, err.status, err.headers);
  }
  log("server").error("Internal error: {error}", { error: String((err as Error)?.stack ?? err) });
  return json({ status: "error", error: `Internal error: ${(err as Error)?.message ?? err}` }, 500);
}
