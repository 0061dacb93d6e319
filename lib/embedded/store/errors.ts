import type { KubeObject } from "./objects.ts";

/** One entry of `Status.details.causes`. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** What the `details` of an {@link ApiError}'s Status name. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** Options of an {@link ApiError}: the HTTP status code, and the reason and details of its Status. */
export interface ApiErrorOptions {
  code: number;
  reason: string;
  details?: StatusDetails;
}

/** An error the API server answers with a `Status` object and an HTTP status code. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails;

  constructor(message: string, options: ApiErrorOptions) {
    super(message);
    this.code = options.code;
    this.reason = options.reason;
    this.details = options.details ?? {};
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

/** An object as Status errors name it: by resource, API group ("" for the core group) and name. */
export interface ObjectRef {
  resource: string;
  group: string;
  name: string;
}

/** The Status details naming an object. */
function detailsOf(ref: ObjectRef): StatusDetails {
  return { name: ref.name, group: ref.group || undefined, kind: ref.resource };
}

/** 404 NotFound for `resource` named `name`. */
export function notFound(ref: ObjectRef): ApiError {
  return new ApiError(`${qualified(ref.resource, ref.group)} "${ref.name}" not found`, {
    code: 404,
    reason: "NotFound",
    details: detailsOf(ref),
  });
}

/** 409 AlreadyExists for a create of an existing object. */
export function alreadyExists(ref: ObjectRef): ApiError {
  return new ApiError(`${qualified(ref.resource, ref.group)} "${ref.name}" already exists`, {
    code: 409,
    reason: "AlreadyExists",
    details: detailsOf(ref),
  });
}

/**
 * 409 Conflict for a write with a stale resourceVersion (the default `why`) or a failed
 * precondition.
 */
export function conflict(ref: ObjectRef & { why?: string }): ApiError {
  const why = ref.why ??
    "the object has been modified; please apply your changes to the latest version and try again";
  return new ApiError(
    `Operation cannot be fulfilled on ${qualified(ref.resource, ref.group)} "${ref.name}": ${why}`,
    { code: 409, reason: "Conflict", details: detailsOf(ref) },
  );
}

/** 422 Invalid of the object `kind` (in `group`) named `name`, with one cause a field. */
export function invalid(
  options: { kind: string; group: string; name: string; causes: StatusCause[] },
): ApiError {
  const { kind, group, name, causes } = options;
  const summary = causes.map((c) => c.message).join(", ");
  const prefix = group === "" ? kind : `${kind}.${group}`;
  return new ApiError(`${prefix} "${name}" is invalid: ${summary}`, {
    code: 422,
    reason: "Invalid",
    details: {
      name,
      group: group || undefined,
      kind,
      causes,
    },
  });
}

/** 400 BadRequest. */
export function badRequest(message: string): ApiError {
  return new ApiError(message, { code: 400, reason: "BadRequest" });
}

/** 410 Gone (reason Expired), for a resourceVersion or continue token that is too old. */
export function expired(message: string): ApiError {
  return new ApiError(message, { code: 410, reason: "Expired" });
}

/** 405 MethodNotAllowed for a verb the resource does not serve. */
export function methodNotAllowed(verb: string, resource: string): ApiError {
  return new ApiError(`the server does not allow this method on the requested resource`, {
    code: 405,
    reason: "MethodNotAllowed",
    details: {
      kind: resource,
      causes: [{ reason: "MethodNotAllowed", message: `verb "${verb}"` }],
    },
  });
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
