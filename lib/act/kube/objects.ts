// Any object by its kind: the calls replacement makes (NodeClaims, Machines, the ledger ConfigMap,
// Nodes deleted), as plain JSON over the same bounded, timed transport as every other call.
import { eachPage, MAX_PAGE_BYTES } from "./pages.ts";
import type { KubeObject, ObjectKind } from "./types.ts";
import type { RawRequest } from "./raw.ts";

/** The path of the objects of `kind` (in `namespace`), and of one of them when `name` is given. */
export function objectPath(kind: ObjectKind, namespace?: string, name?: string): string {
  const base = kind.group === "" ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${base}${ns}/${kind.plural}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
}

/** How a call names an object in its errors: `nodeclaims "x"`, `configmaps "ns/x"`. */
function objectName(kind: ObjectKind, name: string, namespace?: string): string {
  return `${kind.plural} "${namespace ? `${namespace}/` : ""}${name}"`;
}

/** How {@link ObjectCalls} sends: one request within the client's bounds, statuses in `answers` answered. */
export interface ObjectCallsDeps {
  send<T, U = never>(
    what: string,
    request: RawRequest,
    answers?: Record<number, U>,
  ): Promise<T | U>;
  /** The query of a write: `?dryRun=All` in a dry run, else empty. */
  dryQuery: string;
}

/** The KubeClient's object calls (list, get, create, replace, delete), over plain JSON. */
export class ObjectCalls {
  #deps: ObjectCallsDeps;

  constructor(deps: ObjectCallsDeps) {
    this.#deps = deps;
  }

  async list(kind: ObjectKind, options: { namespace?: string } = {}): Promise<KubeObject[]> {
    const items: KubeObject[] = [];
    await eachPage<KubeObject>(
      (limit, token) =>
        this.#deps.send(`list ${kind.plural}`, {
          method: "GET",
          path: `${objectPath(kind, options.namespace)}?limit=${limit}${
            token ? `&continue=${encodeURIComponent(token)}` : ""
          }`,
          maxBytes: MAX_PAGE_BYTES,
        }),
      { limit: 500, each: (page) => items.push(...page) },
    );
    return items;
  }

  get(kind: ObjectKind, name: string, namespace?: string): Promise<KubeObject | undefined> {
    return this.#deps.send(
      `read ${objectName(kind, name, namespace)}`,
      {
        method: "GET",
        path: objectPath(kind, namespace, name),
      },
      { 404: undefined },
    );
  }

  create(kind: ObjectKind, object: KubeObject): Promise<KubeObject> {
    const { name, namespace } = object.metadata;
    return this.#deps.send(
      `create ${objectName(kind, name, namespace)}`,
      {
        method: "POST",
        path: `${objectPath(kind, namespace)}${this.#deps.dryQuery}`,
        body: object,
      },
    );
  }

  replace(kind: ObjectKind, object: KubeObject): Promise<KubeObject> {
    const { name, namespace } = object.metadata;
    return this.#deps.send(
      `update ${objectName(kind, name, namespace)}`,
      {
        method: "PUT",
        path: `${objectPath(kind, namespace, name)}${this.#deps.dryQuery}`,
        body: object,
      },
    );
  }

  delete(
    kind: ObjectKind,
    name: string,
    options: { namespace?: string; uid?: string; resourceVersion?: string } = {},
  ): Promise<KubeObject | undefined> {
    return this.#deps.send(
      `delete ${objectName(kind, name, options.namespace)}`,
      {
        method: "DELETE",
        path: `${objectPath(kind, options.namespace, name)}${this.#deps.dryQuery}`,
        body: {
          apiVersion: "v1",
          kind: "DeleteOptions",
          ...(options.uid || options.resourceVersion
            ? {
              preconditions: {
                ...(options.uid ? { uid: options.uid } : {}),
                ...(options.resourceVersion ? { resourceVersion: options.resourceVersion } : {}),
              },
            }
            : {}),
        },
      },
      { 404: undefined },
    );
  }
}
