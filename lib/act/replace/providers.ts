// The replacement providers of a policy, each loaded only when a rule names it: an SDK costs no
// memory (and no start-up) unless the policy uses it.
import type { Policy } from "../../decide/policy.ts";
import type { ProviderName } from "../../decide/replace_policy.ts";
import type { ProviderDeps, ProviderModule, ReplaceProvider } from "./provider.ts";
import { log } from "../../base/log.ts";

/**
 * Says so at start-up when a cloud endpoint is plain HTTP to another machine: its credentials
 * (a signature, a bearer token) would cross the network unencrypted. Loopback (an emulator, a
 * local proxy) is fine.
 */
function warnPlainHttp(endpoint: string | undefined, field: string): void {
  if (!endpoint?.startsWith("http://")) return;
  const host = new URL(endpoint).hostname;
  if (host === "localhost" || host === "[::1]" || /^127\./.test(host)) return;
  log("main").warn(
    "{field} is plain HTTP to {host}: the provider's credentials cross the network unencrypted; use https://",
    { field, host },
  );
}

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
    warnPlainHttp(rule.replace.endpoint, `rules[${i}].replace.endpoint`);
    providers.set(rule.name, await module.create(rule.replace, deps, `rules[${i}].replace`));
  }
  return providers;
}
