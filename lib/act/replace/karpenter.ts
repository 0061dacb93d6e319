// The karpenter provider: delete the `karpenter.sh/v1` NodeClaim whose `status.nodeName` is the
// Node, as Karpenter's own node repair does. Karpenter's termination finalizer then drains and
// deletes the Node and its instance, and Karpenter provisions a successor for the pods left
// pending.
import type { KubeObject, ObjectKind } from "../kube_types.ts";
import {
  type Operation,
  type ProviderDeps,
  type ProviderModule,
  type ReplaceProvider,
  ReplaceRefused,
  type ReplaceTarget,
} from "./provider.ts";

/** Karpenter's NodeClaims. */
export const NODE_CLAIMS: ObjectKind = {
  group: "karpenter.sh",
  version: "v1",
  plural: "nodeclaims",
};

/** Makes the karpenter provider (it takes no options of its own). */
export const create: ProviderModule["create"] = (_options, deps) =>
  Promise.resolve(new KarpenterProvider(deps));

class KarpenterProvider implements ReplaceProvider {
  readonly name = "karpenter" as const;
  #deps: ProviderDeps;

  constructor(deps: ProviderDeps) {
    this.#deps = deps;
  }

  async start(target: ReplaceTarget): Promise<Operation> {
    const { client } = this.#deps;
    const claims = await client.listObjects(NODE_CLAIMS);
    const claim = claims.find((c) => nodeNameOf(c) === target.node) ??
      claims.find((c) => target.providerID && providerIDOf(c) === target.providerID);
    if (!claim) {
      if (!target.uid || !(await client.getNode(target.node))) {
        // Asked before a restart: the claim and its Node are gone already.
        return { id: `gone:${target.node}`, message: `The NodeClaim of ${target.node} is gone` };
      }
      throw new ReplaceRefused(
        `no karpenter.sh/v1 NodeClaim has status.nodeName ${target.node}: Karpenter does not manage it`,
      );
    }
    const name = claim.metadata.name;
    const uid = claim.metadata.uid ?? name;
    const message = `Deleted NodeClaim ${name} (NodePool ${
      claim.metadata.labels?.["karpenter.sh/nodepool"] ?? "unknown"
    }) of ${target.node}; Karpenter terminates it and provisions a successor`;
    // Deleting already (asked before a restart): not asked again.
    if (claim.metadata.deletionTimestamp) return { id: uid, message };
    const deleted = await client.deleteObject(NODE_CLAIMS, name, { uid: claim.metadata.uid });
    return { id: deleted?.metadata.uid ?? uid, message };
  }
}

function nodeNameOf(claim: KubeObject): string | undefined {
  const name = claim.status?.nodeName;
  return typeof name === "string" ? name : undefined;
}

function providerIDOf(claim: KubeObject): string | undefined {
  const id = claim.status?.providerID;
  return typeof id === "string" ? id : undefined;
}
