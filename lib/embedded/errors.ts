import type { KubeObject } from "./objects.ts";

/** One entry of `Status.details.causes`. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** Options of an {@link ApiError}: what the `details` of its Status name. */
export interface ApiErrorOptions {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** An error the API server answers with a `Status` object and an HTTP status code. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: ApiErrorOptions;

  constructor(code: number, reason: string, message: string, details: ApiErrorOptions = {}) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  /** The `Status` object the real API server sends for this error. */
  toStatus(): KubeObject {
    const details: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this.details)) {
      if (value !== undefined) details[key] = value;
    }
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(Object.keys(details).length > 0 ? { details } : {}),
      code: this.code,
    };
  }
}

/** Names a resource the way Status messages do: `nodes` or `deployments.apps`. */
function qualified(resource: string, group: string): string {
  return group === "" ? resource : `${resource}.${group}`;
}

/** 404 NotFound for `resource` named `name`. */
export function notFound(resource: string, group: string, name: string): ApiError {
  return new ApiError(404, "NotFound", `${qualified(resource, group)} "${name}" not found`, {
    name,
    group: group || undefined,
    kind: resource,
  });
}

/** 409 AlreadyExists for a create of an existing object. */
export function alreadyExists(resource: string, group: string, name: string): ApiError {
  return new ApiError(
    409,
    "AlreadyExists",
    `${qualified(resource, group)} "${name}" already exists`,
    { name, group: group || undefined, kind: resource },
  );
}

/** 409 Conflict for a write with a stale resourceVersion or a failed precondition. */
export function conflict(
  resource: string,
  group: string,
  name: string,
  why =
    "the object has been modified; please apply your changes to the latest version and try again",
): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": ${why}`,
    { name, group: group || undefined, kind: resource },
  );
}

/** 422 Invalid with one cause a field. */
export function invalid(
  kind: string,
  group: string,
  name: string,
  causes: StatusCause[],
): ApiError {
  const summary = causes.map((c) => c.message).join(", ");
  const prefix = group === "" ? kind : `${kind}.${group}`;
  return new ApiError(422, "Invalid", `${prefix} "${name}" is invalid: ${summary}`, {
    name,
    group: group || undefined,
    kind,
    causes,
  });
}

/** 400 BadRequest. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

/** 410 Gone (reason Expired), for a resourceVersion or continue token that is too old. */
export function expired(message: string): ApiError {
  return new ApiError(410, "Expired", message);
}

/** 405 MethodNotAllowed for a verb the resource does not serve. */
export function methodNotAllowed(verb: string, resource: string): ApiError {
  return new ApiError(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource`,
    { kind: resource, causes: [{ reason: "MethodNotAllowed", message: `verb "${verb}"` }] },
  );
}

/** Error thrown when a patch cannot be applied; `code` is the HTTP status the API server answers (400 malformed patch, 422 patch that cannot apply e.g. failed "test" op or missing path). */
export class PatchError extends Error {
  /** HTTP status code the API server answers with. */
  readonly code: 400 | 422;

  /** Creates a patch error answered with the given HTTP status. */
  constructor(message: string, code: 400 | 422) {
    super(message);
    this.name = "PatchError";
    this.code = code;
  }
}
