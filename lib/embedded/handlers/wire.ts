// Wire encoding: JSON responses, Status error responses, request bodies, and objects as an API
// version shows them.

import { ApiError, badRequest, invalid } from "../store/errors.ts";
import type { KubeObject } from "../store/objects.ts";
import { groupVersion, type ResourceType } from "../store/resources.ts";

/** Headers of a JSON response. */
export const JSON_HEADERS = { "content-type": "application/json" };

/** A JSON response of already serialized `text`. */
export function jsonText(
  text: string,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(text, { status, headers: { ...JSON_HEADERS, ...headers } });
}

/** `body` as a JSON response. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return jsonText(JSON.stringify(body), status, headers);
}

/** The Status response of an error: an {@link ApiError} as it is, anything else as a 500. */
export function errorResponse(err: unknown): Response {
  const apiError = err instanceof ApiError
    ? err
    : new ApiError(`Internal error: ${(err as Error)?.message ?? err}`, {
      code: 500,
      reason: "InternalError",
    });
  const headers: Record<string, string> = {};
  if (apiError.details.retryAfterSeconds !== undefined) {
    headers["retry-after"] = String(apiError.details.retryAfterSeconds);
  }
  return json(apiError.toStatus(), apiError.code, headers);
}

/** Parses a request body as a JSON object (or, with `allowArray`, array); throws 400 otherwise. */
export function parseBody(body: string, options: { allowArray?: boolean } = {}): KubeObject {
  const allowArray = options.allowArray ?? false;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw badRequest(`Cannot parse request body as JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || (Array.isArray(value) && !allowArray)) {
    throw badRequest(
      `Cannot parse request body: expected a JSON object, got ${JSON.stringify(value)}`,
    );
  }
  return value as KubeObject;
}

/** Reads `dryRun` (query values or DeleteOptions.dryRun); only `All` is valid, as in the real server. */
export function parseDryRun(values: unknown): boolean {
  if (values === undefined || values === null) return false;
  const list = Array.isArray(values) ? values : [values];
  for (const v of list) {
    if (v !== "All") {
      throw invalid({
        kind: "DeleteOptions",
        group: "",
        name: "",
        causes: [{
          reason: "FieldValueNotSupported",
          message: `dryRun: Unsupported value: ${JSON.stringify(v)}: supported values: "All"`,
          field: "dryRun",
        }],
      });
    }
  }
  return list.length > 0;
}

/**
 * The object as the API of `type` shows it, with kind and apiVersion set, first, then metadata, as
 * the real server writes them (see the store's `stamped`).
 */
export function present(type: ResourceType, stored: KubeObject): KubeObject {
  const { metadata, kind: _kind, apiVersion: _apiVersion, ...rest } = type.fromStorage(stored);
  return { kind: type.kind, apiVersion: groupVersion(type), metadata, ...rest } as KubeObject;
}
