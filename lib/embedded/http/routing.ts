// Routing: which resource, namespace, name and subresource a request path names, and which verb
// its method and query ask for; the discovery and health paths are answered here.

import { ApiError, methodNotAllowed } from "../store/errors.ts";
import { apiGroupList, apiGroups, apiResourceList } from "./discovery.ts";
import { findResource, RESOURCES } from "../store/resources.ts";
import type { Route } from "../handlers/context.ts";
import { json } from "../handlers/wire.ts";

/** The Kubernetes version the embedded API server reports at `/version`. */
export const SERVER_VERSION = {
  major: "1",
  minor: "29",
  gitVersion: "v1.29.2",
  gitCommit: "4b8e819355d791d96b7e9d9efe4cbafae2311c88",
  gitTreeState: "clean",
  buildDate: "2024-02-14T10:32:40Z",
  goVersion: "go1.21.7",
  compiler: "gc",
  platform: "linux/amd64",
};

/** The route of a request path, or the response to a path that names no resource (discovery, health). */
export function routeOf(url: URL): Route | Response {
  const parts = url.pathname.split("/").filter((p) => p !== "");
  const p = parts.join("/");
  if (p === "version") return json(SERVER_VERSION);
  if (["healthz", "livez", "readyz"].includes(p)) {
    return new Response("ok", { headers: { "content-type": "text/plain" } });
  }
  if (p === "api") {
    return json({
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: url.host }],
    });
  }
  if (p === "apis") return json(apiGroupList());
  let group: string, version: string, rest: string[];
  if (parts[0] === "api" && parts.length >= 2) {
    [group, version, rest] = ["", parts[1], parts.slice(2)];
  } else if (parts[0] === "apis" && parts.length >= 2) {
    if (parts.length === 2) {
      const g = apiGroups().find((x) => x.name === parts[1]);
      if (!g) throw pathNotFound(url);
      return json({ kind: "APIGroup", apiVersion: "v1", ...g });
    }
    [group, version, rest] = [parts[1], parts[2], parts.slice(3)];
  } else {
    throw pathNotFound(url);
  }
  if (!RESOURCES.some((r) => r.group === group && r.version === version)) {
    throw pathNotFound(url);
  }
  if (rest.length === 0) return json(apiResourceList(group, version));
  let watchPath = false;
  if (rest[0] === "watch") {
    watchPath = true;
    rest = rest.slice(1);
  }
  let namespace = "";
  if (rest[0] === "namespaces" && rest.length >= 3 && findResource(group, version, rest[2])) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const type = findResource(group, version, rest[0] ?? "");
  if (!type || rest.length > 3) throw pathNotFound(url);
  if (type.namespaced === false && namespace !== "") throw pathNotFound(url);
  const subresource = rest[2] ?? "";
  if (subresource !== "" && !type.subresources.includes(subresource)) throw pathNotFound(url);
  return { type, namespace, name: rest[1] ?? "", subresource, watchPath };
}

/** The Kubernetes verb of a request to `route`. */
export function verbOf(method: string, url: URL, route: Route): string {
  const watchParam = url.searchParams.get("watch");
  const watch = route.watchPath || watchParam === "true" || watchParam === "1";
  switch (method) {
    case "GET":
      if (watch) return "watch";
      return route.name === "" ? "list" : "get";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return route.name === "" ? "deletecollection" : "delete";
    default:
      throw methodNotAllowed(method, route.type.resource);
  }
}

/** 404 for a path that names nothing served. */
function pathNotFound(url: URL): ApiError {
  return new ApiError(`the server could not find the requested resource`, {
    code: 404,
    reason: "NotFound",
    details: {
      causes: [{
        reason: "UnexpectedServerResponse",
        message: `404 page not found: ${url.pathname}`,
      }],
    },
  });
}
