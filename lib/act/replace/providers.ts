// The replacement providers of a policy, each loaded only when a rule names it: an SDK costs no
// memory (and no start-up) unless the policy uses it.
import type { Policy } from "../../decide/policy.ts";
import type { ProviderName } from "../../decide/replace_policy.ts";
import type { ProviderDeps, ProviderModule, ReplaceProvider } from "./provider.ts";

/** Each provider's module, imported on first use. */
const MODULES: Record<ProviderName, () => Promise<ProviderModule>> = {
  "karpenter": () => import("./karpenter.ts"),
  "delete-node": () => import("./delete_node.ts"),
  "cluster-api": () => import("./cluster_api.ts"),
  "aws-asg": () => import("./aws_asg.ts"),
  "gcp-mig": () => import("./gcp_mig.ts"),
};

/**
 * The provider of every rule that replaces, by rule name, each made (and its options checked)
 * now: a policy whose provider cannot work fails at start-up, naming the field.
 */
export async function loadProviders(
  policy: Policy,
  deps: ProviderDeps,
): Promise<Map<string, ReplaceProvider>> {
  const providers = new Map<string, ReplaceProvider>();
  for (const [i, rule] of policy.rules.entries()) {
    if (!rule.replace) continue;
    const module = await MODULES[rule.replace.provider]();
    providers.set(rule.name, await module.create(rule.replace, deps, `rules[${i}].replace`));
  }
  return providers;
}
