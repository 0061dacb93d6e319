// The gcp-mig provider: a Node's VM is recreated by its managed instance group (same name, a
// new VM from the group's template). The group is the one that created the VM (its `created-by`
// metadata item) unless the rule names one. The recreate's zone operation is done as soon as the
// recreation is scheduled, so progress follows the group's own view of the instance
// (listManagedInstances' currentAction) until it is NONE and RUNNING again. Plain REST calls with
// fetch; tokens from Application Default Credentials (./gcp_auth.ts).
import { readCapped, whyUnreadable } from "../../base/bounded_read.ts";
import type { ReplaceOptions } from "../../decide/replace_policy.ts";
import { isFenced } from "../fence.ts";
import { adcTokens, type TokenSource } from "./gcp_auth.ts";
import {
  type Operation,
  type Progress,
  type ProviderDeps,
  type ReplaceProvider,
  ReplaceRefused,
  type ReplaceTarget,
} from "./provider.ts";
import {
  createdByOf,
  type GceRef,
  gceRefOf,
  type ManagedInstance,
  managedProgress,
  operationProgress,
  UNDER_WAY,
} from "./gcp_mig_parts.ts";

/** Compute Engine v1's public address. */
export const COMPUTE_ENDPOINT = "https://compute.googleapis.com/compute/v1/";

/**
 * What node-heal reads of one Compute Engine answer: a VM, an operation, or a page of a group's
 * instances (500 by default, about 200 KB) are far below; past it the call fails, unread, and is
 * tried again as any failure that may pass. Parsed, 4 MiB of JSON costs several times that of a
 * heap of 192 MB.
 */
export const MAX_COMPUTE_ANSWER_BYTES = 4 * 1024 * 1024;

/** The id of a recreation found under way, whose operation's name is not known. */
const ALREADY = "already-recreating:";

/** What gcp-mig is made with beyond {@link ProviderDeps}: tests' own token source. */
export interface GcpMigDeps extends ProviderDeps {
  tokens?: TokenSource;
}

/** A failed call to the API: refused when no retry mends it (400, 403, 404), else passing. */
class ComputeError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Where a Node's VM and its group are (`project`: the rule's, else the providerID's). */
interface Location extends GceRef {
  group: string;
  groupZone: string;
}

/** Makes the gcp-mig provider; see the module comment. */
export function create(
  options: ReplaceOptions,
  deps: GcpMigDeps,
  field: string,
): Promise<ReplaceProvider> {
  const env = deps.env ?? ((name: string) => Deno.env.get(name));
  const keyFile = env("GOOGLE_APPLICATION_CREDENTIALS") || undefined;
  if (keyFile && !deps.tokens) {
    try {
      Deno.statSync(keyFile);
    } catch (e) {
      return Promise.reject(
        new Error(
          `Cannot use provider "gcp-mig" (${field}): GOOGLE_APPLICATION_CREDENTIALS names ` +
            `"${keyFile}", which cannot be read: ${whyUnreadable(e)}`,
        ),
      );
    }
  }
  const tokens = deps.tokens ?? adcTokens(keyFile);
  const base = (options.endpoint ?? COMPUTE_ENDPOINT).replace(/\/?$/, "/");

  /** One call; `beforeSend` (the fence) is asked once the token is at hand, before it is sent. */
  async function api<T>(
    method: string,
    path: string,
    body?: unknown,
    beforeSend?: () => void,
  ): Promise<T> {
    const token = await tokens.token().catch((e) => {
      throw new Error(`Cannot get a Google access token: ${(e as Error).message}`, { cause: e });
    });
    beforeSend?.();
    const res = await fetch(new URL(path, base), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    // Bounded as it arrives: an answer past the bound throws AnswerTooLarge, which may pass.
    const text = await readCapped(res, MAX_COMPUTE_ANSWER_BYTES, `The answer to ${method} ${path}`);
    if (!res.ok) {
      let message = text.slice(0, 200);
      try {
        const said = JSON.parse(text).error?.message;
        if (typeof said === "string") message = said.slice(0, 200);
      } catch { /* not JSON: Google's front end answers HTML for an unknown method */ }
      throw new ComputeError(res.status, `${method} ${path}: ${res.status} ${message}`);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      // V8's message would quote the answer; the first characters say enough.
      throw new Error(
        `${method} ${path}: ${res.status} answered what is not JSON: ${
          JSON.stringify(text.slice(0, 80))
        }`,
      );
    }
  }

  /** Runs a call; 400, 403 and 404 are refusals, anything else may pass. */
  async function call<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (e) {
      if (isFenced(e)) throw e;
      const text = `${what}: ${(e as Error).message}`;
      if (e instanceof ComputeError && [400, 403, 404].includes(e.status)) {
        throw new ReplaceRefused(text);
      }
      throw new Error(text, { cause: e });
    }
  }

  const located = new Map<string, Location>();

  async function locate(target: ReplaceTarget): Promise<Location> {
    const ref = gceRefOf(target.providerID);
    if (!ref) {
      throw new ReplaceRefused(
        `Cannot replace Node "${target.node}" through a managed instance group: its providerID ` +
          `"${target.providerID ?? ""}" is not a GCE VM's such as "gce://project/zone/name"`,
      );
    }
    const known = located.get(target.providerID!);
    if (known) return known;
    const project = options.project ?? ref.project;
    let group = options.group;
    let groupZone = options.zone ?? ref.zone;
    if (!group) {
      const vm = await call(
        `Cannot read VM "${ref.name}" of Node "${target.node}"`,
        () =>
          api<{ metadata?: { items?: { key: string; value?: string }[] } }>(
            "GET",
            `projects/${project}/zones/${ref.zone}/instances/${ref.name}`,
          ),
      );
      const createdBy = createdByOf(vm.metadata?.items);
      if (!createdBy || createdBy.kind !== "zonal") {
        throw new ReplaceRefused(
          createdBy
            ? `Cannot replace Node "${target.node}": VM "${ref.name}" belongs to regional group ` +
              `"${createdBy.group}", which gcp-mig does not handle`
            : `Cannot replace Node "${target.node}": VM "${ref.name}" is in no managed instance ` +
              "group (no created-by metadata) and the rule names none",
        );
      }
      group = createdBy.group;
      groupZone = options.zone ?? createdBy.zone;
    }
    const location = { ...ref, project, group, groupZone };
    located.set(target.providerID!, location);
    return location;
  }

  const groupPath = (l: Location) =>
    `projects/${l.project}/zones/${l.groupZone}/instanceGroupManagers/${l.group}`;

  /** The group's view of the VM, or undefined when it is no member. */
  async function managed(l: Location): Promise<ManagedInstance | undefined> {
    const suffix = `/zones/${l.zone}/instances/${l.name}`;
    let page = "";
    do {
      const out = await call(
        `Cannot list the instances of managed instance group "${l.group}"`,
        () =>
          api<{ managedInstances?: ManagedInstance[]; nextPageToken?: string }>(
            "POST",
            `${groupPath(l)}/listManagedInstances${page ? `?pageToken=${page}` : ""}`,
          ),
      );
      const found = out.managedInstances?.find((m) => m.instance?.endsWith(suffix));
      if (found) return found;
      page = out.nextPageToken ?? "";
    } while (page);
    return undefined;
  }

  async function start(target: ReplaceTarget): Promise<Operation> {
    const l = await locate(target);
    const member = await managed(l);
    if (!member) {
      throw new ReplaceRefused(
        `Cannot replace Node "${target.node}": VM "${l.name}" is no member of managed instance ` +
          `group "${l.group}" in ${l.groupZone}`,
      );
    }
    const action = member.currentAction ?? "NONE";
    if (UNDER_WAY.has(action)) {
      return {
        id: `${ALREADY}${l.name}`,
        message: `VM ${l.name} of managed instance group ${l.group} is already ${action}`,
      };
    }
    if (action === "DELETING" || action === "ABANDONING") {
      throw new ReplaceRefused(
        `Cannot replace Node "${target.node}": managed instance group "${l.group}" is ${action} ` +
          `VM "${l.name}"`,
      );
    }
    if (action !== "NONE") {
      throw new Error(
        `Cannot recreate VM "${l.name}" now: managed instance group "${l.group}" is ${action} it`,
      );
    }
    const op = await call(
      `Cannot recreate VM "${l.name}" in managed instance group "${l.group}"`,
      () =>
        api<{ name: string }>(
          "POST",
          `${groupPath(l)}/recreateInstances`,
          { instances: [`zones/${l.zone}/instances/${l.name}`] },
          // The fence, immediately before the machine is taken away, its token at hand.
          () => deps.fence?.check("cloud", `VM "${l.name}"`),
        ),
    );
    return {
      id: op.name,
      message: `Asked managed instance group ${l.group} to recreate VM ${l.name}`,
    };
  }

  async function progress(target: ReplaceTarget, operation: string): Promise<Progress> {
    const l = await locate(target);
    if (!operation.startsWith(ALREADY)) {
      const op = await call(
        `Cannot read operation "${operation}"`,
        () =>
          api<Parameters<typeof operationProgress>[0]>(
            "GET",
            `projects/${l.project}/zones/${l.groupZone}/operations/${operation}`,
          ),
      );
      const state = operationProgress(op);
      if (state.state !== "done") return state;
    }
    const member = await managed(l);
    if (!member) {
      return {
        state: "failed",
        message: `VM "${l.name}" left managed instance group "${l.group}"`,
      };
    }
    return managedProgress(member);
  }

  return Promise.resolve({ name: "gcp-mig", start, progress, inPlace: true });
}
