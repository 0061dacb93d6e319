// Reads: get and list, with label and field selectors, paging by `limit` and `continue`, and
// Table output.

import { ApiError, badRequest } from "../store/errors.ts";
import { type Call, getObject, type Route, type ServerContext } from "./context.ts";
import { type KubeObject, meta } from "../store/objects.ts";
import { groupVersion } from "../store/resources.ts";
import {
  checkFieldsSupported,
  type FieldSelector,
  type LabelSelector,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from "../store/selectors.ts";
import { objectKey } from "../store/store.ts";
import { includeOf, toTable, wantsTable } from "../table/table.ts";
import { json, present } from "./wire.ts";

/** Serves a get of the object the call's route names, as JSON or as a Table. */
export function serveGet(ctx: ServerContext, call: Call): Response {
  const { route, req, q } = call;
  const { type } = route;
  const obj = present(type, getObject(ctx, route));
  if (!wantsTable(req.headers.get("accept"))) return json(obj);
  const listMeta = { resourceVersion: meta(obj).resourceVersion };
  return json(toTable(type, [obj], { include: includeOf(q), now: ctx.now(), listMeta }));
}

/** Whether an object is in the namespace and name of `route` and matches the query's selectors. */
export function matcherFor(route: Route, q: URLSearchParams): (obj: KubeObject) => boolean {
  const labels: LabelSelector = parseLabelSelector(q.get("labelSelector"));
  const fields: FieldSelector = parseFieldSelector(q.get("fieldSelector"));
  checkFieldsSupported(fields, route.type.fieldNames);
  const { type, namespace } = route;
  return (obj) =>
    (namespace === "" || meta(obj).namespace === namespace) &&
    (route.name === "" || meta(obj).name === route.name) &&
    matchesLabels(labels, meta(obj).labels) &&
    (fields.length === 0 || matchesFields(fields, type.fields(obj)));
}

/** Serves a list, one page of it when `limit` is given. */
export function serveList(ctx: ServerContext, call: Call): Response {
  const { route, req, q } = call;
  const { type } = route;
  const match = matcherFor(route, q);
  let items = ctx.store.list(type.storage, route.namespace || undefined).filter(match);
  let rv = String(ctx.store.resourceVersion);
  const asked = q.get("resourceVersion") ?? "";
  if (/^\d+$/.test(asked) && Number(asked) > ctx.store.resourceVersion) {
    throw new ApiError(
      `Too large resource version: ${asked}, current: ${ctx.store.resourceVersion}`,
      {
        code: 504,
        reason: "Timeout",
        details: {
          causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
          retryAfterSeconds: 1,
        },
      },
    );
  }
  const token = q.get("continue");
  if (token) {
    const decoded = decodeContinue(token);
    rv = decoded.rv;
    items = items.filter((o) => objectKey(meta(o).namespace, meta(o).name!) > decoded.key);
  }
  const limit = Number(q.get("limit") ?? 0);
  if (!Number.isInteger(limit) || limit < 0) {
    throw badRequest(`invalid limit "${q.get("limit")}": must be a non-negative integer`);
  }
  const listMeta: Record<string, unknown> = { resourceVersion: rv };
  if (limit > 0 && items.length > limit) {
    const last = items[limit - 1];
    listMeta.continue = encodeContinue(rv, objectKey(meta(last).namespace, meta(last).name!));
    // The real server can count what remains only when nothing is filtered.
    if (!q.get("labelSelector") && !q.get("fieldSelector")) {
      listMeta.remainingItemCount = items.length - limit;
    }
    items = items.slice(0, limit);
  }
  if (wantsTable(req.headers.get("accept"))) {
    const shown = items.map((o) => present(type, o));
    return json(toTable(type, shown, { include: includeOf(q), now: ctx.now(), listMeta }));
  }
  return json({
    kind: `${type.kind}List`,
    apiVersion: groupVersion(type),
    metadata: listMeta,
    items: items.map((o) => {
      const { kind: _k, apiVersion: _a, ...rest } = type.fromStorage(o);
      return rest;
    }),
  });
}

/** A continue token: the list's resourceVersion and the key of the last object sent. */
function encodeContinue(rv: string, key: string): string {
  return btoa(JSON.stringify({ rv, start: key })).replaceAll("=", "");
}

function decodeContinue(token: string): { rv: string; key: string } {
  try {
    const padded = token + "=".repeat((4 - token.length % 4) % 4);
    const parsed = JSON.parse(atob(padded));
    if (typeof parsed.rv === "string" && typeof parsed.start === "string") {
      return { rv: parsed.rv, key: parsed.start };
    }
  } catch {
    // Falls through to the error below.
  }
  throw badRequest(`invalid continue token "${token}"`);
}
