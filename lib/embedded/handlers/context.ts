// The state the parts of the API server share, given to each request handler.

import { notFound } from "../store/errors.ts";
import { type KubeObject } from "../store/objects.ts";
import type { ResourceType } from "../store/resources.ts";
import { objectKey } from "../store/store.ts";
import type { KarpenterContext } from "../controllers/karpenter.ts";
import type { ClusterApiContext } from "../controllers/cluster_api.ts";

/** One open watch stream. */
export interface WatchStream {
  close(): void;
}

/**
 * What the request handlers of the API server share: what the node managers read and change
 * (store, clock, random source, timers, their states), and the watches' settings.
 */
export interface ServerContext extends KarpenterContext, ClusterApiContext {
  /** How often an open watch that asked for bookmarks gets one. */
  readonly bookmarkIntervalMs: number;
  /** Deleted pods stay Terminating for their grace period times this (0: deleted at once). */
  readonly podGraceScale: number;
  /** The watch streams open now. */
  readonly watches: Set<WatchStream>;
}

/** What a request path names (http/routing.ts reads it from the path). */
export interface Route {
  type: ResourceType;
  namespace: string;
  name: string;
  subresource: string;
  watchPath: boolean;
}

/**
 * What a handler writes in its request's traffic record (http/traffic.ts keeps the whole record): the
 * bytes of the response body, which a watch adds to while it is open.
 */
export interface CallRecord {
  bytesOut: number;
}

/** One request to a resource as the server sees it once routed, given to its handler. */
export interface Call {
  /** What the request path names. */
  readonly route: Route;
  /** The HTTP request, for its headers (`Accept`, `Content-Type`). */
  readonly req: Request;
  /** The query parameters. */
  readonly q: URLSearchParams;
  /** The request body, read ("" for a GET). */
  readonly body: string;
  /** Whether the request is a dry run (by the query or by its DeleteOptions). */
  readonly dryRun: boolean;
  /** The traffic record of the request, which a watch adds the bytes it sends to. */
  readonly record: CallRecord;
}

/** The stored object `route` names; 404 when there is none. */
export function getObject(ctx: ServerContext, route: Route): KubeObject {
  const { type, namespace, name } = route;
  const obj = ctx.store.get(type.storage, objectKey(namespace || undefined, name));
  if (!obj) throw notFound({ resource: type.resource, group: type.group, name });
  return obj;
}
