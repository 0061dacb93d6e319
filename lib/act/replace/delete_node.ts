// The delete-node provider: delete the Node object, for autoscalers that replace a Node that is
// missing (a cloud's node lifecycle, Karpenter's finalizer on Nodes, Cluster API's
// MachineHealthCheck). The uid precondition keeps it from deleting a successor of the same name,
// so a target without a uid is refused; the follower has checked the Node still has the
// providerID recorded.
import type { ObjectKind } from "../kube/types.ts";
import {
  type Operation,
  type ProviderDeps,
  type ProviderModule,
  type ReplaceProvider,
  ReplaceRefused,
  type ReplaceTarget,
} from "./provider.ts";

const NODES: ObjectKind = { group: "", version: "v1", plural: "nodes" };

/** Makes the delete-node provider (it takes no options of its own). */
export const create: ProviderModule["create"] = (_options, deps) =>
  Promise.resolve(new DeleteNodeProvider(deps));

class DeleteNodeProvider implements ReplaceProvider {
  readonly name = "delete-node" as const;
  #deps: ProviderDeps;

  constructor(deps: ProviderDeps) {
    this.#deps = deps;
  }

  async start(target: ReplaceTarget): Promise<Operation> {
    const id = target.uid;
    if (!id) {
      throw new ReplaceRefused(
        `Cannot delete Node "${target.node}": no uid is recorded, so another Node of that name ` +
          "could be deleted",
      );
    }
    const message = `Deleted Node ${target.node}; its autoscaler brings up a successor`;
    const node = await this.#deps.client.getNode(target.node);
    // Gone, or another Node of that name already (asked before a restart): not asked again.
    if (!node || node.metadata.uid !== id) return { id, message };
    await this.#deps.client.deleteObject(NODES, target.node, { uid: id });
    return { id, message };
  }
}
