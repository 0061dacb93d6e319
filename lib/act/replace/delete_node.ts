// The delete-node provider: delete the Node object, for autoscalers that replace a Node that is
// missing (a cloud's node lifecycle, Karpenter's finalizer on Nodes, Cluster API's
// MachineHealthCheck). The uid precondition keeps it from deleting a successor of the same name,
// so a target without a uid is refused; the follower has checked the Node still has the
// providerID recorded.
import type { KubeClient, ObjectKind } from "../kube/types.ts";
import { type Operation, ReplaceRefused, type ReplaceTarget, throughApi } from "./provider.ts";

const NODES: ObjectKind = { group: "", version: "v1", plural: "nodes" };

/** Makes the delete-node provider (it takes no options of its own). */
export const create = throughApi((client) => ({
  name: "delete-node",
  start: (target) => deleteNode(client, target),
}));

/** Deletes the target's Node, unless it is gone or another Node took its name. */
async function deleteNode(client: KubeClient, target: ReplaceTarget): Promise<Operation> {
  const id = target.uid;
  if (!id) {
    throw new ReplaceRefused(
      `Cannot delete Node "${target.node}": no uid is recorded, so another Node of that name ` +
        "could be deleted",
    );
  }
  const message = `Deleted Node ${target.node}; its autoscaler brings up a successor`;
  const node = await client.getNode(target.node);
  // Gone, or another Node of that name already (asked before a restart): not asked again.
  if (!node || node.metadata.uid !== id) return { id, message };
  await client.deleteObject(NODES, target.node, { uid: id });
  return { id, message };
}
