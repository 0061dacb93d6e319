// The cluster-api provider: a Node is replaced by deleting its Machine, which its MachineSet then
// replaces (the way CAPI's MachineHealthCheck remediates). Which Machine is read from the
// annotations CAPI's Machine controller puts on the Node; those anyone who may patch the Node
// can write (its own kubelet too), so the Machine is deleted only when it is the Node's by
// identity (./identity.ts): it carries the Node's providerID, and its `status.nodeRef`, where set,
// names the Node. Only a Machine a MachineSet owns is deleted, since nothing would bring back
// another (a control plane Machine belongs to its KubeadmControlPlane, which node-heal leaves
// alone). The delete carries the Machine's uid and resourceVersion as read as preconditions.
import type { KubeClient, ObjectKind } from "../kube/types.ts";
import { MACHINE_ANNOTATIONS } from "../../decide/replacements.ts";
import { isDistrusted, type Machine, machineOf } from "./identity.ts";
import {
  type Operation,
  type ReplaceProvider,
  ReplaceRefused,
  type ReplaceTarget,
  type StartContext,
  throughApi,
} from "./provider.ts";

/** Cluster API's Machines, as the generic object calls name them. */
export const MACHINES: ObjectKind = {
  group: "cluster.x-k8s.io",
  version: "v1beta1",
  plural: "machines",
};

/** The Node annotation naming its Machine. */
export const MACHINE_ANNOTATION = MACHINE_ANNOTATIONS.machine;
/** The Node annotation naming its Machine's namespace. */
export const NAMESPACE_ANNOTATION = MACHINE_ANNOTATIONS.namespace;

/** Makes the cluster-api provider; it takes no options beyond the common ones. */
export const create = throughApi((client) => new ClusterApiProvider(client));

/** Replaces a Node by deleting its Machine; see the module comment. */
class ClusterApiProvider implements ReplaceProvider {
  readonly name = "cluster-api" as const;
  #client: KubeClient;
  /** The Machines this provider deleted, by `namespace/name`: their uid. */
  #asked = new Map<string, string>();

  constructor(client: KubeClient) {
    this.#client = client;
  }

  async start(target: ReplaceTarget, context: StartContext = {}): Promise<Operation> {
    if (!target.providerID || !target.uid) {
      throw new ReplaceRefused(
        `Cannot replace Node "${target.node}" through Cluster API: it has no ${
          target.providerID ? "uid" : "spec.providerID"
        } recorded, so no Machine can be matched to it`,
      );
    }
    const name = annotation(target, MACHINE_ANNOTATION);
    const namespace = annotation(target, NAMESPACE_ANNOTATION);
    const ref = `${namespace}/${name}`;
    const stored = await this.#client.getObject(MACHINES, name, namespace);
    if (!stored) {
      // Gone since this provider deleted it, or since a process before a restart did (the Node
      // went with it): the same replacement, not a refusal.
      if (this.#asked.has(ref)) return gone(ref);
      const node = await this.#client.getNode(target.node);
      if (target.uid && (!node || node.metadata.uid !== target.uid)) return gone(ref);
      throw new ReplaceRefused(
        `Cannot replace Node "${target.node}": its Machine "${ref}" does not exist`,
      );
    }
    const id = { node: target.node, uid: target.uid, providerID: target.providerID };
    const machine = machineOf(id, stored);
    if (isDistrusted(machine)) {
      context.untrusted?.report({ kind: "machine", ...machine, node: target.node });
      throw new ReplaceRefused(machine.message);
    }
    const set = owningMachineSet(machine, target.node);
    const { uid, resourceVersion } = machine.metadata;
    if (machine.metadata.deletionTimestamp) {
      return { id: uid, message: `Machine ${ref} is already being deleted (MachineSet ${set})` };
    }
    this.#asked.set(ref, uid);
    const deleted = await this.#client.deleteObject(MACHINES, name, {
      namespace,
      uid,
      resourceVersion,
    });
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
function owningMachineSet(machine: Machine, node: string): string {
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
