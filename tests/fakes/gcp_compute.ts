// A fake of the Compute Engine REST API v1 on loopback, for what a node replacement through a
// managed instance group needs: instances.get (whose metadata `created-by` names the group),
// instanceGroupManagers.recreateInstances, zoneOperations.get and
// instanceGroupManagers.listManagedInstances. It checks what the real API checks: a bearer token
// (401 UNAUTHENTICATED otherwise), the resources named in the path (404 notFound), the request
// body (400), and answers with the real JSON shapes. Time is the fake's clock (`now`), read when a
// request comes: a recreated instance is RECREATING for `recreateMs`, then NONE with a new id;
// the operation is RUNNING until then, DONE after. No timers, so tests' sanitizers stay quiet.
// It also serves the token exchange of Workload Identity Federation (tests/fakes/gcp_sts.ts), so
// Application Default Credentials reach it through an `external_account` credentials file; and
// the metadata server's token (GKE Workload Identity), for GCE_METADATA_HOST=127.0.0.1:PORT.
import { exchangeToken, grantJwt, type ServiceAccountKey, stsAudience } from "./gcp_sts.ts";

export { externalAccountCredentials } from "./gcp_sts.ts";

export const SELF_LINK_BASE = "https://www.googleapis.com/compute/v1/";

export interface FakeGceInstance {
  name: string;
  zone: string;
  id: string;
  creationTimestamp: string;
  status: string;
  /** The group that manages it, if any. */
  group?: string;
  /** While recreating: when the recreation ends (fake clock, ms). */
  recreatingUntil?: number;
}

export interface FakeGceOperation {
  name: string;
  zone: string;
  id: string;
  targetLink: string;
  targetId: string;
  operationType: string;
  insertTime: string;
  instances: string[];
  doneAt: number;
}

export interface FakeGceCall {
  method: string;
  path: string;
  body?: unknown;
  status: number;
}

export interface GcpComputeFakeOptions {
  project?: string;
  projectNumber?: string;
  /** The bearer token the fake accepts. */
  token?: string;
  groups: { name: string; zone: string; instances: string[] }[];
  /** Instances in no group. */
  standalone?: { name: string; zone: string }[];
  /** How long a recreation takes on the fake's clock (default 0). */
  recreateMs?: number;
  /**
   * When a recreate's operation is DONE (default: with the recreation). The real one is done once
   * the recreation is scheduled, well before the VM runs again.
   */
  operationMs?: number;
  /** The fake's clock in ms (default Date.now). */
  now?: () => number;
  /** The subject token the token exchange accepts (default "fake-subject-token"). */
  subjectToken?: string;
  /** Told of each accepted recreate (a whole-ladder test removes the Node). */
  onRecreate?: (instance: string, zone: string, group: string) => void;
  /** Told when a recreated instance runs again, with its new id (its Node may come up). */
  onRecreated?: (instance: string, zone: string, id: string) => void;
}

export interface GcpComputeFake {
  /** http://127.0.0.1:PORT; the API is under /compute/v1/. */
  url: string;
  project: string;
  projectNumber: string;
  token: string;
  instances: FakeGceInstance[];
  operations: FakeGceOperation[];
  calls: FakeGceCall[];
  /** Makes the fake's OAuth endpoint (`/token`) grant tokens to this key's account. */
  trust(key: ServiceAccountKey): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

class GceError extends Error {
  constructor(readonly status: number, readonly body: unknown, readonly headers: HeadersInit = {}) {
    super(`${status}`);
  }
}

/** The error shape of Compute Engine: code, message and errors[] (domain global, reason). */
function computeError(code: number, message: string, reason: string): GceError {
  return new GceError(code, {
    error: { code, message, errors: [{ message, domain: "global", reason }] },
  });
}

function notFound(resource: string): GceError {
  return computeError(404, `The resource '${resource}' was not found`, "notFound");
}

function invalid(message: string): GceError {
  return computeError(400, message, "invalid");
}

/** The Google front end's answer to a request without valid credentials. */
function unauthenticated(missing: boolean): GceError {
  const message = missing
    ? "Request is missing required authentication credential. Expected OAuth 2 access token, " +
      "login cookie or other valid authentication credential. See " +
      "https://developers.google.com/identity/sign-in/web/devconsole-project."
    : "Request had invalid authentication credentials. Expected OAuth 2 access token, login " +
      "cookie or other valid authentication credential. See " +
      "https://developers.google.com/identity/sign-in/web/devconsole-project.";
  return new GceError(
    401,
    {
      error: {
        code: 401,
        message,
        errors: [{
          message: missing ? "Login Required." : "Invalid Credentials",
          domain: "global",
          reason: missing ? "required" : "authError",
          location: "Authorization",
          locationType: "header",
        }],
        status: "UNAUTHENTICATED",
      },
    },
    {
      "www-authenticate": missing
        ? 'Bearer realm="https://accounts.google.com/"'
        : 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
    },
  );
}

/** A uint64 as Compute writes ids: a decimal string. */
function randomId(): string {
  const [a, b] = crypto.getRandomValues(new Uint32Array(2));
  return (BigInt(a % 0x7fffffff) * 4294967296n + BigInt(b)).toString();
}

const HTML_404 = "<!DOCTYPE html>\n<html lang=en>\n  <title>Error 404 (Not Found)!!1</title>\n" +
  "  <p><b>404.</b> <ins>That’s an error.</ins>\n";

export function startGcpComputeFake(options: GcpComputeFakeOptions): GcpComputeFake {
  const project = options.project ?? "heal-project";
  const projectNumber = options.projectNumber ?? "123456789012";
  const token = options.token ?? "ya29.fake-token";
  const now = options.now ?? (() => Date.now());
  const recreateMs = options.recreateMs ?? 0;
  const stamp = () => new Date(now()).toISOString();
  const instances: FakeGceInstance[] = [
    ...options.groups.flatMap((g) =>
      g.instances.map((name) => ({ name, zone: g.zone, group: g.name }))
    ),
    ...(options.standalone ?? []),
  ].map((i) => ({ ...i, id: randomId(), creationTimestamp: stamp(), status: "RUNNING" }));
  const groups = options.groups.map((g) => ({ ...g, id: randomId() }));
  const operations: FakeGceOperation[] = [];
  const calls: FakeGceCall[] = [];

  const zoneLink = (zone: string) => `${SELF_LINK_BASE}projects/${project}/zones/${zone}`;
  const instanceLink = (i: { zone: string; name: string }) =>
    `${zoneLink(i.zone)}/instances/${i.name}`;
  const groupLink = (zone: string, name: string) =>
    `${zoneLink(zone)}/instanceGroupManagers/${name}`;

  /** Ends the recreations whose time has come: the VM is new (another id, creation time). */
  function settle() {
    const t = now();
    for (const i of instances) {
      if (i.recreatingUntil !== undefined && i.recreatingUntil <= t) {
        i.recreatingUntil = undefined;
        i.id = randomId();
        i.creationTimestamp = new Date(t).toISOString();
        i.status = "RUNNING";
        options.onRecreated?.(i.name, i.zone, i.id);
      }
    }
  }

  function instanceJson(i: FakeGceInstance) {
    const items = [];
    if (i.group) {
      items.push(
        {
          key: "instance-template",
          value: `projects/${projectNumber}/global/instanceTemplates/${i.group}-template`,
        },
        {
          key: "created-by",
          value: `projects/${projectNumber}/zones/${i.zone}/instanceGroupManagers/${i.group}`,
        },
      );
    }
    return {
      kind: "compute#instance",
      id: i.id,
      creationTimestamp: i.creationTimestamp,
      name: i.name,
      machineType: `${zoneLink(i.zone)}/machineTypes/e2-standard-4`,
      status: i.status,
      zone: zoneLink(i.zone),
      metadata: { kind: "compute#metadata", fingerprint: "m8K6aMZ3pTk=", items },
      selfLink: instanceLink(i),
    };
  }

  function operationJson(op: FakeGceOperation) {
    const done = now() >= op.doneAt;
    return {
      kind: "compute#operation",
      id: op.id,
      name: op.name,
      zone: zoneLink(op.zone),
      operationType: op.operationType,
      targetLink: op.targetLink,
      targetId: op.targetId,
      status: done ? "DONE" : "RUNNING",
      user: "node-heal@heal-project.iam.gserviceaccount.com",
      progress: done ? 100 : 0,
      insertTime: op.insertTime,
      startTime: op.insertTime,
      ...(done ? { endTime: new Date(op.doneAt).toISOString() } : {}),
      selfLink: `${zoneLink(op.zone)}/operations/${op.name}`,
    };
  }

  function findGroup(zone: string, name: string) {
    const g = groups.find((x) => x.zone === zone && x.name === name);
    if (!g) throw notFound(`projects/${project}/zones/${zone}/instanceGroupManagers/${name}`);
    return g;
  }

  /** "zones/Z/instances/N", "projects/P/zones/Z/instances/N" or a full URL → zone and name. */
  function parseInstanceRef(ref: string): { zone: string; name: string } | undefined {
    const m =
      /^(?:https:\/\/(?:www|compute)\.googleapis\.com\/compute\/v1\/)?(?:projects\/([^/]+)\/)?zones\/([^/]+)\/instances\/([^/]+)$/
        .exec(ref);
    if (!m || (m[1] !== undefined && m[1] !== project)) return undefined;
    return { zone: m[2], name: m[3] };
  }

  function recreate(zone: string, groupName: string, body: unknown) {
    const group = findGroup(zone, groupName);
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw invalid("Invalid JSON payload received. Expected an object.");
    }
    for (const key of Object.keys(body)) {
      if (key !== "instances") {
        throw new GceError(400, {
          error: {
            code: 400,
            message: `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`,
            errors: [{
              message: `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`,
              reason: "invalid",
            }],
            status: "INVALID_ARGUMENT",
          },
        });
      }
    }
    const refs = (body as { instances?: unknown }).instances;
    if (!Array.isArray(refs) || refs.length === 0 || refs.some((r) => typeof r !== "string")) {
      throw invalid(
        "Invalid value for field 'resource.instances': ''. At least one instance must be given.",
      );
    }
    const targets = (refs as string[]).map((ref) => {
      const parsed = parseInstanceRef(ref);
      if (!parsed) throw invalid(`Invalid value for field 'resource.instances': '${ref}'.`);
      const i = instances.find((x) => x.zone === parsed.zone && x.name === parsed.name);
      if (!i) throw notFound(`projects/${project}/zones/${parsed.zone}/instances/${parsed.name}`);
      if (i.group !== group.name || i.zone !== zone) {
        throw invalid(
          `Instance '${instanceLink(i)}' is not a member of the instance group manager ` +
            `'${groupLink(zone, group.name)}'.`,
        );
      }
      return i;
    });
    const t = now();
    for (const i of targets) {
      i.recreatingUntil = t + recreateMs;
      i.status = "STOPPING";
    }
    const op: FakeGceOperation = {
      name: `operation-${t}-${crypto.randomUUID().slice(0, 13)}-${crypto.randomUUID().slice(0, 8)}`,
      zone,
      id: randomId(),
      targetLink: groupLink(zone, group.name),
      targetId: group.id,
      operationType: "compute.instanceGroupManagers.recreateInstances",
      insertTime: new Date(t).toISOString(),
      instances: targets.map((i) => i.name),
      doneAt: t + (options.operationMs ?? recreateMs),
    };
    operations.push(op);
    for (const i of targets) options.onRecreate?.(i.name, i.zone, group.name);
    return operationJson(op);
  }

  function listManaged(zone: string, groupName: string) {
    const group = findGroup(zone, groupName);
    return {
      managedInstances: instances.filter((i) => i.group === group.name && i.zone === zone).map(
        (i) => ({
          instance: instanceLink(i),
          id: i.id,
          ...(i.recreatingUntil === undefined ? { instanceStatus: i.status } : {}),
          currentAction: i.recreatingUntil === undefined ? "NONE" : "RECREATING",
          version: {
            instanceTemplate:
              `${SELF_LINK_BASE}projects/${project}/global/instanceTemplates/${group.name}-template`,
          },
        }),
      ),
    };
  }

  async function route(req: Request, path: string, call: FakeGceCall): Promise<unknown> {
    const prefix = `/compute/v1/projects/`;
    if (!path.startsWith(prefix)) return undefined;
    const parts = path.slice(prefix.length).split("/").map(decodeURIComponent);
    const [p, zonesWord, zone, kind, name, verb, extra] = parts;
    if (zonesWord !== "zones" || !zone || !kind || !name || extra !== undefined) return undefined;
    const auth = req.headers.get("authorization");
    if (!auth) throw unauthenticated(true);
    if (auth !== `Bearer ${token}`) throw unauthenticated(false);
    if (p !== project) throw notFound(`projects/${p}`);
    settle();
    if (kind === "instances" && verb === undefined && req.method === "GET") {
      const i = instances.find((x) => x.zone === zone && x.name === name);
      if (!i) throw notFound(`projects/${p}/zones/${zone}/instances/${name}`);
      return instanceJson(i);
    }
    if (kind === "operations" && verb === undefined && req.method === "GET") {
      const op = operations.find((x) => x.zone === zone && x.name === name);
      if (!op) throw notFound(`projects/${p}/zones/${zone}/operations/${name}`);
      return operationJson(op);
    }
    if (kind === "instanceGroupManagers" && req.method === "POST") {
      if (verb === "recreateInstances") {
        const text = await req.text();
        let body: unknown;
        try {
          body = text === "" ? {} : JSON.parse(text);
        } catch {
          throw new GceError(400, {
            error: {
              code: 400,
              message: `Invalid JSON payload received. Unexpected token.\n${text.slice(0, 40)}`,
              errors: [{
                message: `Invalid JSON payload received. Unexpected token.\n${text.slice(0, 40)}`,
                reason: "invalid",
              }],
              status: "INVALID_ARGUMENT",
            },
          });
        }
        call.body = body;
        return recreate(zone, name, body);
      }
      if (verb === "listManagedInstances") return listManaged(zone, name);
    }
    return undefined;
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const call: FakeGceCall = { method: req.method, path: url.pathname, status: 200 };
    calls.push(call);
    if (url.pathname.startsWith("/computeMetadata/v1/")) {
      // The metadata server wants its header on every request, and sends it back.
      const flavor = { "metadata-flavor": "Google" };
      if (req.headers.get("metadata-flavor") !== "Google") {
        call.status = 403;
        return new Response("Missing Metadata-Flavor:Google header.\n", { status: 403 });
      }
      if (url.pathname === "/computeMetadata/v1/instance/service-accounts/default/token") {
        return Response.json({ access_token: token, expires_in: 3599, token_type: "Bearer" }, {
          headers: flavor,
        });
      }
      return new Response("", { headers: flavor });
    }
    if (url.pathname === "/token" && req.method === "POST" && trusted) {
      const res = await grantJwt(req, {
        key: trusted,
        audience: String(trusted.file.token_uri),
        accessToken: token,
      });
      call.status = res.status;
      return res;
    }
    if (url.pathname === "/v1/token" && req.method === "POST") {
      const res = await exchangeToken(req, {
        subjectToken: options.subjectToken ?? "fake-subject-token",
        audience: stsAudience(projectNumber),
        accessToken: token,
      });
      call.status = res.status;
      return res;
    }
    try {
      const out = await route(req, url.pathname, call);
      if (out === undefined) {
        // No such method: the front end answers an HTML page, not JSON.
        await req.body?.cancel();
        call.status = 404;
        return new Response(HTML_404, {
          status: 404,
          headers: { "content-type": "text/html; charset=UTF-8" },
        });
      }
      return Response.json(out);
    } catch (e) {
      if (!(e instanceof GceError)) throw e;
      await req.body?.cancel().catch(() => {});
      call.status = e.status;
      return Response.json(e.body, { status: e.status, headers: e.headers });
    }
  }

  let trusted: ServiceAccountKey | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    project,
    projectNumber,
    token,
    instances,
    operations,
    calls,
    trust: (key) => void (trusted = key),
    close: () => server.shutdown(),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
