// Discovery: the API groups, versions and resources the server lists at /api, /apis and below.

import type { KubeObject } from "../store/objects.ts";
import { groupVersion, RESOURCES } from "../store/resources.ts";

/** The group versions served, in the order discovery lists them (core first). */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of RESOURCES) seen.set(groupVersion(r), { group: r.group, version: r.version });
  return [...seen.values()];
}

const ALL_VERBS = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];
/** Namespaces cannot be deleted as a collection. */
const NAMESPACE_VERBS = ALL_VERBS.filter((v) => v !== "deletecollection");

/** The APIResourceList that `/api/v1` or `/apis/GROUP/VERSION` serves. */
export function apiResourceList(group: string, version: string): KubeObject {
  const resources: Record<string, unknown>[] = [];
  for (const r of RESOURCES.filter((t) => t.group === group && t.version === version)) {
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.resource === "namespaces" ? NAMESPACE_VERBS : ALL_VERBS,
      ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length > 0 ? { categories: r.categories } : {}),
    });
    for (const sub of r.subresources) {
      if (sub === "eviction") {
        resources.push({
          name: `${r.resource}/eviction`,
          singularName: "",
          namespaced: r.namespaced,
          group: "policy",
          version: "v1",
          kind: "Eviction",
          verbs: ["create"],
        });
      } else {
        resources.push({
          name: `${r.resource}/${sub}`,
          singularName: "",
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ["get", "patch", "update"],
        });
      }
    }
  }
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: groupVersion({ group, version }),
    resources,
  };
}

/** The APIGroupList that `/apis` serves. */
export function apiGroupList(): KubeObject {
  return { kind: "APIGroupList", apiVersion: "v1", groups: apiGroups() };
}

/** Every named API group with its versions, as `/apis` lists them. */
export function apiGroups(): Record<string, unknown>[] {
  const groups = new Map<string, string[]>();
  for (const gv of groupVersions()) {
    if (gv.group === "") continue;
    groups.set(gv.group, [...(groups.get(gv.group) ?? []), gv.version]);
  }
  return [...groups.entries()].map(([name, versions]) => {
    const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { name, versions: list, preferredVersion: list[0] };
  });
}
