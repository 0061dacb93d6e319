// The state the parts of the API server share, given to each request handler.

import { notFound } from "./errors.ts";
import { type KubeObject } from "./objects.ts";
import type { Route } from "./routing.ts";
import { objectKey, type Store } from "./store.ts";

/** One open watch stream. */
export interface WatchStream {
  close(): void;
}

/** What the request handlers of the API server share. */
export interface ServerContext {
  readonly store: Store;
  /** Clock, for creation timestamps and ages. */
  readonly now: () => number;
  /** Random source for generated names. */
  readonly random: () => number;
  /** How often an open watch that asked for bookmarks gets one. */
  readonly bookmarkIntervalMs: number;
  /** Deleted pods stay Terminating for their grace period times this (0: deleted at once). */
  readonly podGraceScale: number;
  /** The watch streams open now. */
  readonly watches: Set<WatchStream>;
}

/** The stored object `route` names; 404 when there is none. */
export function getObject(ctx: ServerContext, route: Route): KubeObject {
  const { type, namespace, name } = route;
  const obj = ctx.store.get(type.storage, objectKey(namespace || undefined, name));
  if (!obj) throw notFound(type.resource, type.group, name);
  return obj;
}
