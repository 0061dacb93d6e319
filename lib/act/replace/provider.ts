// What every replacement provider is: it asks its system (Karpenter, Cluster API, an AWS Auto
// Scaling group, a GCP managed instance group, or the API server itself) to replace one Node,
// and says where that request stands. Whether a successor came up is seen on the Nodes, by the
// replacer; a provider only starts and follows its own operation.
import type { KubeClient } from "../kube/types.ts";
import type { Fence } from "../fence.ts";
import type { ProviderName, ReplaceOptions } from "../../decide/replace_policy.ts";

/** The Node a replacement is about, as it was when the replacement began. */
export interface ReplaceTarget {
  node: string;
  uid?: string;
  /**
   * `aws:///us-east-1a/i-0abc...`, `gce://project/zone/name`, ...: the machine. The follower asks
   * a provider only while the Node still has it; a NodeClaim or Machine is deleted only if it
   * carries it.
   */
  providerID?: string;
  /** The Node's labels node-heal keeps (its pool's). */
  labels: Record<string, string>;
  /** The Node's `cluster.x-k8s.io/` annotations (which Machine it is). */
  annotations: Record<string, string>;
}

/** What a provider's request came to: the id to record, so a restart follows it instead of asking again. */
export interface Operation {
  /** The provider's own id: an ASG activity id, a GCP operation name, a deleted object's uid. */
  id: string;
  /** One sentence for the Event and the log: what was asked of whom. */
  message: string;
}

/** Where a provider's operation stands. */
export type Progress =
  | { state: "running"; message?: string }
  | { state: "done" }
  | { state: "failed"; message: string };

/** A replacement refused for good (not in a group, no owning MachineSet): it fails at once. */
export class ReplaceRefused extends Error {}

/**
 * Where a reader tells of state others wrote that it did not trust (a NodeClaim or Machine that
 * does not match its Node, a ledger entry that fails its schema): ignored for decisions, told
 * once per object and reason. report/untrusted.ts's `Untrusted` is one.
 */
export interface UntrustedSink {
  report(finding: {
    kind: "ledger" | "nodeclaim" | "machine";
    /** The object: a NodeClaim's name, a Machine's `namespace/name`, the ledger's. */
    object: string;
    /** A short fixed word for the metric: `identity`, `schema`, ... */
    reason: string;
    /** One sentence, never the value whole. */
    message: string;
    /** The Node it is about, for the Event. */
    node?: string;
  }): void;
}

/** What a provider's start is told beside its target. */
export interface StartContext {
  /** Told of the objects a provider read and would not trust. */
  untrusted?: UntrustedSink;
}

/** One way to replace Nodes; see the module comment. */
export interface ReplaceProvider {
  readonly name: ProviderName;
  /**
   * Asks for the replacement of `target`. Idempotent: when one is already under way (a restart
   * after the request, before its id was recorded), resolves with that one instead of asking
   * again. Throws {@link ReplaceRefused} when it cannot be done, any other error when it may
   * pass (the replacer tries again).
   */
  start(target: ReplaceTarget, context?: StartContext): Promise<Operation>;
  /**
   * Where operation `operation` stands, for providers whose operation ends after their call
   * returns (a GCP recreate is only scheduled when its operation is done). Without it, the
   * replacer only watches the Nodes.
   */
  progress?(target: ReplaceTarget, operation: string): Promise<Progress>;
  /**
   * Whether the provider rebuilds the machine under the same Node object (a GCP recreate keeps
   * the VM's name): then, once {@link progress} says done, that Node Ready again is the successor.
   * Otherwise (an ASG terminate is done when the instance is gone, its Node lingering a while
   * yet) only another Node object is.
   */
  readonly inPlace?: boolean;
}

/** What a provider is made with. */
export interface ProviderDeps {
  /** The Kubernetes API (for the providers that act through it). */
  client: KubeClient;
  /** Environment variables (credentials, region); `Deno.env` by default. */
  env?: (name: string) => string | undefined;
  /**
   * Checked immediately before a cloud call that takes a machine away (a terminate, a
   * recreate): it throws when this replica may no longer act (act/fence.ts). The providers that
   * act through the Kubernetes API are fenced by the client.
   */
  fence?: Pick<Fence, "check">;
}

/** A provider's module: it checks its options and makes the provider. */
export interface ProviderModule {
  /**
   * Makes the provider for a rule's `replace:` options; throws an Error naming the field
   * (`rules[0].replace.region`) when they cannot work, at start-up. `field` is the options' path.
   */
  create(options: ReplaceOptions, deps: ProviderDeps, field: string): Promise<ReplaceProvider>;
}

/**
 * The `create` of a provider that acts through the API server and takes no options of its own
 * (karpenter, delete-node, cluster-api): it is made from the client alone.
 */
export function throughApi(
  make: (client: KubeClient) => ReplaceProvider,
): ProviderModule["create"] {
  return (_options, deps) => Promise.resolve(make(deps.client));
}
