// The karpenter provider: delete the `karpenter.sh/v1` NodeClaim of the Node, as Karpenter's own
// node repair does. Karpenter's termination finalizer then drains and deletes the Node and its
// instance, and Karpenter provisions a successor for the pods left pending. The claim is the one
// carrying the Node's providerID (Karpenter terminates the instance a claim names, whatever Node
// it says it is for), and naming the Node, if it names one (./identity.ts); it is deleted with its
// uid and resourceVersion as read as preconditions, so a claim changed since is not.
import type { KubeClient, ObjectKind } from "../kube/types.ts";
import { claimsOf, type Distrusted, type Identity, type NodeClaim } from "./identity.ts";
import {
  type Operation,
  ReplaceRefused,
  type ReplaceTarget,
  type StartContext,
  throughApi,
} from "./provider.ts";

/** Karpenter's NodeClaims. */
export const NODE_CLAIMS: ObjectKind = {
  group: "karpenter.sh",
  version: "v1",
  plural: "nodeclaims",
};

/** Makes the karpenter provider (it takes no options of its own). */
export const create = throughApi((client) => ({
  name: "karpenter",
  start: (target, context) => deleteClaim(client, target, context),
}));

/** Deletes the NodeClaim that is the target's; see the module comment. */
async function deleteClaim(
  client: KubeClient,
  target: ReplaceTarget,
  context: StartContext = {},
): Promise<Operation> {
  const id = identityOf(target);
  const { matches, distrusted } = claimsOf(id, await client.listObjects(NODE_CLAIMS));
  for (const d of distrusted) {
    context.untrusted?.report({ kind: "nodeclaim", ...d, node: target.node });
  }
  if (matches.length > 1) {
    throw new ReplaceRefused(
      `NodeClaims ${
        matches.map((c) => `"${c.metadata.name}"`).join(", ")
      } all carry ${target.node}'s providerID ${id.providerID}: which is its own cannot be told`,
    );
  }
  const [claim] = matches;
  if (!claim) return await none(client, id, distrusted);
  const name = claim.metadata.name;
  const message = `Deleted NodeClaim ${name} (NodePool ${
    claim.metadata.labels?.["karpenter.sh/nodepool"] ?? "unknown"
  }) of ${target.node}; Karpenter terminates it and provisions a successor`;
  // Deleting already (asked before a restart): not asked again.
  if (claim.metadata.deletionTimestamp) return { id: claim.metadata.uid, message };
  const deleted = await client.deleteObject(NODE_CLAIMS, name, preconditions(claim));
  return { id: deleted?.metadata.uid ?? claim.metadata.uid, message };
}

/** No claim is the Node's: gone with its Node (asked before a restart), or refused. */
async function none(
  client: KubeClient,
  id: Identity,
  distrusted: Distrusted[],
): Promise<Operation> {
  const node = await client.getNode(id.node);
  if (!node || node.metadata.uid !== id.uid) {
    // Asked before a restart: the claim and its Node are gone already.
    return { id: `gone:${id.node}`, message: `The NodeClaim of ${id.node} is gone` };
  }
  const mismatch = distrusted.find((d) => d.reason === "identity");
  throw new ReplaceRefused(
    mismatch?.message ??
      `no karpenter.sh/v1 NodeClaim carries providerID ${id.providerID} of ${id.node}: ` +
        "Karpenter does not manage it",
  );
}

/** The target's identity; refused without a uid or a providerID (no claim can be matched). */
function identityOf(target: ReplaceTarget): Identity {
  if (!target.providerID || !target.uid) {
    throw new ReplaceRefused(
      `Cannot replace Node "${target.node}" through Karpenter: it has no ${
        target.providerID ? "uid" : "spec.providerID"
      } recorded, so no NodeClaim can be matched to it`,
    );
  }
  return { node: target.node, uid: target.uid, providerID: target.providerID };
}

/** The delete's preconditions: the claim as read and matched, not one changed since. */
function preconditions(claim: NodeClaim): { uid: string; resourceVersion: string } {
  return { uid: claim.metadata.uid, resourceVersion: claim.metadata.resourceVersion };
}
