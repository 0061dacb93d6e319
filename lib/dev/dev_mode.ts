// Dev mode's entry point (`deno task dev`): node-heal against an embedded Kubernetes API server
// with a kind-like cluster, no setup. The production entry point (main.ts) never imports this.
import { parseConfig, usage } from "../service/config.ts";
import { startEmbeddedCluster } from "../embedded/cluster.ts";
import { log } from "../base/log.ts";
import { runService } from "../service/run.ts";
import { writeKubeconfig } from "./kubeconfig_out.ts";
import { parsePolicy } from "../decide/policy.ts";
import { bound, checkFree } from "../service/listen_check.ts";
import { asksVersion, versionLine } from "../base/version.ts";
import { errorLine, exitCodeOf } from "../base/usage_error.ts";

/**
 * Dev mode's policy when no --config is given: the default, with the whole ladder allowed
 * (`heal_action="replace"` replaces through the embedded Karpenter) and room for two workers out
 * at once, so that the replacement gates can be seen at work (docs/replacement.md); and a `log`
 * sink that prints every notification node-heal would send (docs/notifications.md).
 */
export const DEV_POLICY_YAML = `rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { provider: karpenter, timeout: 5m }
gates:
  minHealthy: 1
  maxReplacing: 1
notify:
  - { name: dev-log, type: log }
`;

const USAGE = `node-heal dev: node-heal against an embedded cluster, no setup

Usage:
  deno task dev [flags]

An embedded Kubernetes API server on 127.0.0.1:6443 with a kind-like cluster, its kubeconfig in
.dev/kubeconfig, the webhook on 127.0.0.1:8000, pretty logs. Every usage error is one line on
stderr and exit code 2.

Flags:
${usage("dev")}
`;

/** Runs dev mode with these arguments; resolves with the exit code. */
export async function runDev(args: string[]): Promise<number> {
  if (asksVersion(args)) {
    console.log(versionLine());
    return 0;
  }
  try {
    const config = parseConfig(args, "dev");
    if (config.help) {
      console.log(USAGE);
      return 0;
    }
    if (!config.embedded) return await runService(config, { mode: "dev" });
    const { listen, workers, kubeconfigOut } = config.embedded;
    // Bind first, then write: a second dev mode on busy ports fails before it could rewrite the
    // kubeconfig of the one already running (written below once both ports are bound).
    await checkFree({ addr: config.listen, flag: "listen", holder: "another deno task dev" });
    const cluster = await bound(() => startEmbeddedCluster({ ...listen, workers }), {
      addr: listen,
      flag: "embedded-api-listen",
      holder: "another deno task dev or cluster",
    });
    const policy = config.policy ?? parsePolicy(DEV_POLICY_YAML, "dev mode's policy");
    return await runService({ ...config, policy, kubeconfigYaml: cluster.kubeconfig() }, {
      mode: "dev",
      ...(config.policy
        ? {}
        : { policySource: "dev mode's (replace through the embedded Karpenter)" }),
      extra: {
        embeddedCluster: { url: cluster.url, workers },
        embeddedKubeconfig: kubeconfigOut,
      },
      started: async () => {
        if (!kubeconfigOut) return;
        await writeKubeconfig(kubeconfigOut, cluster.kubeconfig());
        log("main").info(
          "Embedded Kubernetes API server on {api}; try: kubectl --kubeconfig {kubeconfig} get nodes",
          { api: cluster.url, kubeconfig: kubeconfigOut },
        );
      },
      close: () => cluster.close(),
    });
  } catch (err) {
    // A usage error (a bad flag, a policy refused, a busy address): one line, exit code 2.
    console.error(errorLine("node-heal", err));
    return exitCodeOf(err);
  }
}

if (import.meta.main) {
  Deno.exit(await runDev(Deno.args));
}
