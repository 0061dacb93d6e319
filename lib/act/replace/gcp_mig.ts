// The gcp-mig provider: a Node's VM is recreated by its managed instance group (same name, a
// new VM from the group's template). The group is the one that created the VM (its `created-by`
// metadata item) unless the rule names one. The recreate's zone operation is done as soon as the
// recreation is scheduled, so progress follows the group's own view of the instance
// (listManagedInstances' currentAction) until it is NONE and RUNNING again. Plain REST calls with
// fetch; tokens from Application Default Credentials (./gcp_auth.ts).
import { whyUnreadable } from "../../base/bounded_read.ts";
import type { ReplaceOptions } from "../../decide/replace_policy.ts";
import { adcTokens, type TokenSource } from "./gcp_auth.ts";
import { Compute } from "./gcp_compute.ts";
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

export { COMPUTE_ENDPOINT, MAX_COMPUTE_ANSWER_BYTES } from "./gcp_compute.ts";

/** The id of a recreation found under way, whose operation's name is not known. */
const ALREADY = "already-recreating:";

/** What gcp-mig is made with beyond {@link ProviderDeps}: tests' own token source. */
export interface GcpMigDeps extends ProviderDeps {
  tokens?: TokenSource;
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
  try {
    const compute = new Compute(tokensOf(deps, field), options.endpoint);
    return Promise.resolve(new GcpMigProvider(options, compute, deps));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The tests' tokens, else Application Default Credentials; a key file named must be readable. */
function tokensOf(deps: GcpMigDeps, field: string): TokenSource {
  const env = deps.env ?? ((name: string) => Deno.env.get(name));
  const keyFile = env("GOOGLE_APPLICATION_CREDENTIALS") || undefined;
  if (keyFile && !deps.tokens) {
    try {
      Deno.statSync(keyFile);
    } catch (e) {
      throw new Error(
        `Cannot use provider "gcp-mig" (${field}): GOOGLE_APPLICATION_CREDENTIALS names ` +
          `"${keyFile}", which cannot be read: ${whyUnreadable(e)}`,
      );
    }
  }
  return deps.tokens ?? adcTokens(keyFile);
}

/** Recreates a Node's VM through its managed instance group; see the module comment. */
class GcpMigProvider implements ReplaceProvider {
  readonly name = "gcp-mig" as const;
  readonly inPlace = true;
  #options: ReplaceOptions;
  #compute: Compute;
  #deps: ProviderDeps;
  #located = new Map<string, Location>();

  constructor(options: ReplaceOptions, compute: Compute, deps: ProviderDeps) {
    this.#options = options;
    this.#compute = compute;
    this.#deps = deps;
  }

  async start(target: ReplaceTarget): Promise<Operation> {
    const l = await this.#locate(target);
    const member = await this.#managed(l);
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
    return await this.#recreate(l);
  }

  async progress(target: ReplaceTarget, operation: string): Promise<Progress> {
    const l = await this.#locate(target);
    if (!operation.startsWith(ALREADY)) {
      const op = await this.#compute.call<Parameters<typeof operationProgress>[0]>(
        `Cannot read operation "${operation}"`,
        {
          method: "GET",
          path: `projects/${l.project}/zones/${l.groupZone}/operations/${operation}`,
        },
      );
      const state = operationProgress(op);
      if (state.state !== "done") return state;
    }
    const member = await this.#managed(l);
    if (!member) {
      return {
        state: "failed",
        message: `VM "${l.name}" left managed instance group "${l.group}"`,
      };
    }
    return managedProgress(member);
  }

  /** Asks the group to recreate the VM, fenced immediately before, its token at hand. */
  async #recreate(l: Location): Promise<Operation> {
    const op = await this.#compute.call<{ name: string }>(
      `Cannot recreate VM "${l.name}" in managed instance group "${l.group}"`,
      {
        method: "POST",
        path: `${groupPath(l)}/recreateInstances`,
        body: { instances: [`zones/${l.zone}/instances/${l.name}`] },
        // The fence, immediately before the machine is taken away, its token at hand.
        beforeSend: () => this.#deps.fence?.check("cloud", `VM "${l.name}"`),
      },
    );
    return {
      id: op.name,
      message: `Asked managed instance group ${l.group} to recreate VM ${l.name}`,
    };
  }

  /** Where the target's VM and its group are; read once per providerID. */
  async #locate(target: ReplaceTarget): Promise<Location> {
    const ref = gceRefOf(target.providerID);
    if (!ref) {
      throw new ReplaceRefused(
        `Cannot replace Node "${target.node}" through a managed instance group: its providerID ` +
          `"${target.providerID ?? ""}" is not a GCE VM's such as "gce://project/zone/name"`,
      );
    }
    const known = this.#located.get(target.providerID!);
    if (known) return known;
    const project = this.#options.project ?? ref.project;
    const { group, zone } = this.#options.group
      ? { group: this.#options.group, zone: ref.zone }
      : await this.#createdBy(target.node, { ...ref, project });
    const location = { ...ref, project, group, groupZone: this.#options.zone ?? zone };
    this.#located.set(target.providerID!, location);
    return location;
  }

  /** The zonal group that created the VM, from its `created-by` metadata; refused for none. */
  async #createdBy(node: string, ref: GceRef): Promise<{ group: string; zone: string }> {
    const vm = await this.#compute.call<
      { metadata?: { items?: { key: string; value?: string }[] } }
    >(`Cannot read VM "${ref.name}" of Node "${node}"`, {
      method: "GET",
      path: `projects/${ref.project}/zones/${ref.zone}/instances/${ref.name}`,
    });
    const createdBy = createdByOf(vm.metadata?.items);
    if (!createdBy || createdBy.kind !== "zonal") {
      throw new ReplaceRefused(
        createdBy
          ? `Cannot replace Node "${node}": VM "${ref.name}" belongs to regional group ` +
            `"${createdBy.group}", which gcp-mig does not handle`
          : `Cannot replace Node "${node}": VM "${ref.name}" is in no managed instance ` +
            "group (no created-by metadata) and the rule names none",
      );
    }
    return createdBy;
  }

  /** The group's view of the VM, or undefined when it is no member. */
  async #managed(l: Location): Promise<ManagedInstance | undefined> {
    const suffix = `/zones/${l.zone}/instances/${l.name}`;
    let page = "";
    do {
      const out = await this.#compute.call<
        { managedInstances?: ManagedInstance[]; nextPageToken?: string }
      >(`Cannot list the instances of managed instance group "${l.group}"`, {
        method: "POST",
        path: `${groupPath(l)}/listManagedInstances${page ? `?pageToken=${page}` : ""}`,
      });
      const found = out.managedInstances?.find((m) => m.instance?.endsWith(suffix));
      if (found) return found;
      page = out.nextPageToken ?? "";
    } while (page);
    return undefined;
  }
}

/** The group's path under the endpoint. */
function groupPath(l: Location): string {
  return `projects/${l.project}/zones/${l.groupZone}/instanceGroupManagers/${l.group}`;
}
