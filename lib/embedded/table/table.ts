// Table output (`kubectl get`): objects as `meta.k8s.io/v1` Tables, by the printers of printers.ts.

import type { ResourceType } from "../store/resources.ts";
import type { KubeObject } from "../store/objects.ts";
import { DEFAULT_PRINTER, PRINTERS } from "./printers.ts";
import { CRD_PRINTERS } from "./printers_crd.ts";

/** How much of each object a Table row carries (`includeObject`). */
export type IncludeObject = "None" | "Metadata" | "Object";

function rowObject(obj: KubeObject, include: IncludeObject): unknown {
  if (include === "None") return undefined;
  if (include === "Object") return obj;
  return {
    kind: "PartialObjectMetadata",
    apiVersion: "meta.k8s.io/v1",
    metadata: obj.metadata,
  };
}

/** What a request's `includeObject` asks Table rows to carry (default `Metadata`). */
export function includeOf(q: URLSearchParams): IncludeObject {
  return (q.get("includeObject") ?? "Metadata") as IncludeObject;
}

/** Options of {@link toTable}. */
export interface TableOptions {
  include: IncludeObject;
  now: number;
  listMeta: Record<string, unknown>;
  /** Whether to include the column definitions (watch events after the first omit them). */
  withColumns?: boolean;
}

/** Renders objects as the `meta.k8s.io/v1` Table that `kubectl get` asks for. */
export function toTable(
  type: ResourceType,
  objects: KubeObject[],
  options: TableOptions,
): KubeObject {
  const printer = (type.custom ? CRD_PRINTERS : PRINTERS)[type.resource] ?? DEFAULT_PRINTER;
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: options.listMeta,
    columnDefinitions: options.withColumns === false ? null : printer.columns,
    rows: objects.map((o) => {
      const row: Record<string, unknown> = { cells: printer.cells(o, options.now) };
      const object = rowObject(o, options.include);
      if (object !== undefined) row.object = object;
      return row;
    }),
  };
}

/** Whether an Accept header asks for a Table (`as=Table;g=meta.k8s.io`). */
export function wantsTable(accept: string | null): boolean {
  if (!accept) return false;
  return accept.split(",").some((part) => {
    const params = part.split(";").map((p) => p.trim());
    return params.includes("as=Table") && params.includes("g=meta.k8s.io");
  });
}
