// The answers every route gives the same way: JSON, a refused method, a missing credential, an
// error turned into its status code at the edge.
import { authorized, challenge, type Credentials } from "./auth.ts";
import { HttpError } from "./http_error.ts";
import { log } from "../base/log.ts";

/** A JSON answer, ending with a newline as text answers do (curl's prompt starts on its own line). */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(`${JSON.stringify(body)}\n`, {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** Throws a 405 unless the request's method is one of `methods`. */
export function allow(req: Request, methods: string[]): void {
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

/** Throws a 401 unless the request carries the credentials (when any are configured). */
export async function requireCredentials(
  req: Request,
  credentials: Credentials | undefined,
  what: string,
): Promise<void> {
  if (credentials && !(await authorized(req.headers.get("authorization"), credentials))) {
    throw new HttpError(401, `Unauthorized: ${what} needs the webhook's credentials`, {
      "www-authenticate": challenge(credentials),
    });
  }
}

/** The answer to an error: its own status for an HttpError, else a 500 that is logged. */
export function errorResponse(err: unknown): Response {
  if (err instanceof HttpError) {
    return json({ status: "error", error: err.message }, err.status, err.headers);
  }
  log("server").error("Internal error: {error}", { error: String((err as Error)?.stack ?? err) });
  return json({ status: "error", error: `Internal error: ${(err as Error)?.message ?? err}` }, 500);
}
