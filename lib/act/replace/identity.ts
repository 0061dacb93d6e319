// Which NodeClaim or Machine is a Node's, by identity, never by name alone. A Node is its
// machine's: the `spec.providerID` node-heal recorded when it decided to replace it, and its uid.
// A NodeClaim or Machine is deleted only when it carries that providerID, and, where it names its
// Node (a NodeClaim's `status.nodeName`, a Machine's `status.nodeRef`), names that Node. Both are
// written by others (a controller, or anyone who may write them, a stale copy restored from a
// backup), so each is read through a schema of the few fields used, bounded; one that fails it,
// or does not match, is never deleted and is reported. Pure: the providers act.
import { z } from "zod";
import { clip } from "../../base/clip.ts";
import type { KubeObject } from "../kube/types.ts";

/** Who a replacement is about: the Node's name, uid and providerID at decision time. */
export interface Identity {
  node: string;
  uid: string;
  providerID: string;
}

/** An object found wanting: reported untrusted, never deleted. */
export interface Distrusted {
  /** A NodeClaim's name, a Machine's `namespace/name` (clipped). */
  object: string;
  reason: "identity" | "schema";
  message: string;
}

const name = z.string().min(1).max(253);
const uid = z.string().min(1).max(128);
const providerID = z.string().min(1).max(512);
const metadata = {
  name,
  uid,
  resourceVersion: z.string().min(1).max(64),
  deletionTimestamp: z.string().max(64).optional(),
};

const claimSchema = z.object({
  metadata: z.object({
    ...metadata,
    labels: z.object({ "karpenter.sh/nodepool": z.string().max(63).optional() }).optional(),
  }),
  status: z.object({ nodeName: name.optional(), providerID: providerID.optional() }).optional(),
});

const machineSchema = z.object({
  metadata: z.object({
    ...metadata,
    namespace: name,
    ownerReferences: z.array(z.object({
      apiVersion: z.string().max(317),
      kind: z.string().max(63),
      name,
      controller: z.boolean().optional(),
    })).max(32).optional(),
  }),
  spec: z.object({ providerID: providerID.optional() }).optional(),
  status: z.object({
    nodeRef: z.object({ name: name.optional(), uid: uid.optional() }).optional(),
  }).optional(),
});

/** The fields of a NodeClaim the karpenter provider uses, read. */
export type NodeClaim = z.infer<typeof claimSchema>;

/** The fields of a Machine the cluster-api provider uses, read. */
export type Machine = z.infer<typeof machineSchema>;

/** What an object calls itself, clipped, for a message (it may be anything). */
function nameOf(obj: KubeObject): string {
  const m = obj.metadata as { name?: unknown; namespace?: unknown } | undefined;
  const n = typeof m?.name === "string" ? clip(m.name, 253) : "(unnamed)";
  return typeof m?.namespace === "string" ? `${clip(m.namespace, 63)}/${n}` : n;
}

/** Why `error` refused an object: its first issue's field and message, short. */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const field = issue.path.length ? `field "${issue.path.join(".")}"` : "the object";
  return `${field} ${clip(issue.message, 120)}`;
}

/** The NodeClaims that are `id`'s, and those found wanting, among `objects`. */
export function claimsOf(
  id: Identity,
  objects: readonly KubeObject[],
): { matches: NodeClaim[]; distrusted: Distrusted[] } {
  const matches: NodeClaim[] = [];
  const distrusted: Distrusted[] = [];
  for (const obj of objects) {
    const parsed = claimSchema.safeParse(obj);
    if (!parsed.success) {
      distrusted.push({
        object: nameOf(obj),
        reason: "schema",
        message: `NodeClaim "${nameOf(obj)}" cannot be read (${
          firstIssue(parsed.error)
        }): skipped, never deleted`,
      });
      continue;
    }
    const claim = parsed.data;
    const { nodeName, providerID } = claim.status ?? {};
    const object = claim.metadata.name;
    if (providerID === id.providerID) {
      if (nodeName === undefined || nodeName === id.node) matches.push(claim);
      else {
        distrusted.push({
          object,
          reason: "identity",
          message: `NodeClaim "${object}" carries ${id.node}'s providerID ${id.providerID} ` +
            `but names ${nodeName}`,
        });
      }
    } else if (nodeName === id.node) {
      distrusted.push({
        object,
        reason: "identity",
        message: `NodeClaim "${object}" names ${id.node} but carries ${
          providerID ? `providerID ${providerID}` : "no providerID"
        }, not the node's ${id.providerID}`,
      });
    }
  }
  return { matches, distrusted };
}

/**
 * Machine `obj` read, if it is `id`'s: it carries its providerID, and its `status.nodeRef`, where
 * set, names the same Node (name and uid). Otherwise why not, to report and to refuse with.
 */
export function machineOf(id: Identity, obj: KubeObject): Machine | Distrusted {
  const parsed = machineSchema.safeParse(obj);
  const ref = nameOf(obj);
  if (!parsed.success) {
    return {
      object: ref,
      reason: "schema",
      message: `Machine "${ref}" cannot be read (${firstIssue(parsed.error)}): never deleted`,
    };
  }
  const machine = parsed.data;
  const wanting = (message: string): Distrusted => ({ object: ref, reason: "identity", message });
  const providerID = machine.spec?.providerID;
  if (providerID !== id.providerID) {
    return wanting(
      `Machine "${ref}" carries ${
        providerID ? `providerID ${providerID}` : "no providerID"
      }, not the node's ${id.providerID}`,
    );
  }
  const nodeRef = machine.status?.nodeRef;
  if (nodeRef?.name !== undefined && nodeRef.name !== id.node) {
    return wanting(`Machine "${ref}" is Node ${nodeRef.name}'s (status.nodeRef), not ${id.node}'s`);
  }
  if (nodeRef?.uid !== undefined && nodeRef.uid !== id.uid) {
    return wanting(
      `Machine "${ref}" names a Node ${id.node} of uid ${nodeRef.uid} (status.nodeRef), not ` +
        `the node's ${id.uid}`,
    );
  }
  return machine;
}

/** Whether {@link machineOf} found the Machine wanting. */
export function isDistrusted(found: Machine | Distrusted): found is Distrusted {
  return "reason" in found;
}
