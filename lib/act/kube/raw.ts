import * as k8s from "@kubernetes/client-node";

/** A request sent as it is and answered as plain JSON. */
export interface RawRequest {
  method: "GET" | "POST" | "PATCH";
  /** Path and query, such as `/api/v1/nodes/x?dryRun=All`. */
  path: string;
  body?: unknown;
  /** Content type of the body (default JSON; merge patches say so). */
  contentType?: string;
}

/**
 * Sends one request through the client library's transport (its credentials and pooled
 * connection) and reads the answer as plain JSON. The generated API would also build its
 * model objects from every answer (and every body from them), a second full copy of each
 * Node that node-heal projects and drops at once: on the hot paths (reading and patching a
 * Node, Events, the list) this costs a fraction of it. A status other than 2xx throws an error
 * carrying `code` and `body`, as the library's own errors do.
 */
export async function rawJson<T>(kc: k8s.KubeConfig, request: RawRequest): Promise<T> {
  const method = k8s.HttpMethod[request.method];
  const context = new k8s.RequestContext(
    `${kc.getCurrentCluster()!.server}${request.path}`,
    method,
  );
  context.setHeaderParam("Accept", "application/json");
  if (request.body !== undefined) {
    context.setHeaderParam("Content-Type", request.contentType ?? "application/json");
    context.setBody(JSON.stringify(request.body));
  }
  await kc.applySecurityAuthentication(context);
  const response = await HTTP.send(context).toPromise();
  const text = await response.body.text();
  if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
    throw Object.assign(new Error(`the API server answered ${response.httpStatusCode}`), {
      code: response.httpStatusCode,
      body: text,
    });
  }
  return JSON.parse(text) as T;
}

const HTTP = new k8s.IsomorphicFetchHttpLibrary();
