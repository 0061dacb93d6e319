// The cluster-api provider: a Node is replaced by deleting its Machine, which its MachineSet then
// replaces (the way CAPI's MachineHealthCheck remediates). Which Machine is read from the
// annotations CAPI's Machine controller puts on the Node; only a Machine a MachineSet owns is
// deleted, since nothing would bring back another (a control plane Machine belongs to its
// KubeadmControlPlane, which node-heal leaves alone).
import type { KubeClient, KubeObject, ObjectKind } from "../kube_types.ts";
import type { ReplaceOptions } from "../../decide/replace_policy.ts";
import {
  type Operation,
  type ProviderDeps,
  type ReplaceProvider,
  ReplaceRefused,
  type ReplaceTarget,
} from "./provider.ts";

/** Cluster API's Machines, as the generic object calls name them. */
export const MACHINES: ObjectKind = {
  group: "cluster.x-k8s.io",
  version: "v1beta1",
  plural: "machines",
};

/** The Node annotation naming its Machine. */
export const MACHINE_ANNOTATION = "cluster.x-k8s.io/machine";
/** The Node annotation naming its Machine's namespace. */
export const NAMESPACE_ANNOTATION = "cluster.x-k8s.io/cluster-namespace";

/** Makes the cluster-api provider; it takes no options beyond the common ones. */
export function create(
  _options: ReplaceOptions,
  deps: ProviderDeps,
  _field: string,
): Promise<ReplaceProvider> {
  return Promise.resolve(new ClusterApiProvider(deps.client));
}

/** Replaces a Node by deleting its Machine; see the module comment. */
class ClusterApiProvider implements ReplaceProvider {
  readonly name = "cluster-api" as const;
  #client: KubeClient;
  /** The Machines this provider deleted, by `namespace/name`: their uid. */
  #asked = new Map<string, string>();

  constructor(client: KubeClient) {
    this.#client = client;
  }

  async start(target: ReplaceTarget): Promise<Operation> {
    const name = annotation(target, MACHINE_ANNOTATION);
    const namespace = annotation(target, NAMESPACE_ANNOTATION);
    const ref = `${namespace}/${name}`;
    const machine = await this.#client.getObject(MACHINES, name, namespace);
    if (!machine) {
      // Gone since this provider deleted it, or since a process before a restart did (the Node
      // went with it): the same replacement, not a refusal.
      if (this.#asked.has(ref)) return gone(ref);
      const node = await this.#client.getNode(target.node);
      if (target.uid && (!node || node.metadata.uid !== target.uid)) return gone(ref);
      throw new ReplaceRefused(
        `Cannot replace Node "${target.node}": its Machine "${ref}" does not exist`,
      );
    }
    const set = owningMachineSet(machine, target.node);
    const uid = machine.metadata.uid ?? "";
    if (machine.metadata.deletionTimestamp) {
      return { id: uid, message: `Machine ${ref} is already being deleted (MachineSet ${set})` };
    }
    this.#asked.set(ref, uid);
    const deleted = await this.#client.deleteObject(MACHINES, name, { namespace, uid });
    if (!deleted) return gone(ref);
    return { id: uid, message: `Deleted Machine ${ref} (MachineSet ${set})` };
  }
}

/** The Operation of a Machine deleted before this call could see it. */
function gone(ref: string): Operation {
  return { id: `gone:${ref}`, message: `Machine ${ref} is gone` };
}

/** Annotation `key` of the target Node; refused when it has none. */
function annotation(target: ReplaceTarget, key: string): string {
  const value = target.annotations[key];
  if (!value) {
    throw new ReplaceRefused(
      `Cannot replace Node "${target.node}" through Cluster API: it has no "${key}" annotation`,
    );
  }
  return value;
}

/**
 * The name of the MachineSet that controls `machine`; refused for a Machine no MachineSet owns
 * (a control plane's, a standalone one).
 */
function owningMachineSet(machine: KubeObject, node: string): string {
  const owners = machine.metadata.ownerReferences ?? [];
  const set = owners.find((o) =>
    o.kind === "MachineSet" && o.apiVersion.startsWith("cluster.x-k8s.io/")
  );
  if (set) return set.name;
  const ref = `${machine.metadata.namespace}/${machine.metadata.name}`;
  const controller = owners.find((o) => o.controller) ?? owners[0];
  const why = controller
    ? `it is owned by ${controller.kind} "${controller.name}", not a MachineSet`
    : "no MachineSet owns it, so nothing would replace it";
  throw new ReplaceRefused(`Cannot replace Node "${node}": its Machine "${ref}" ${why}`);
}
