// Least privilege, proved: node-heal's RBAC grants exactly the requests it makes. The embedded
// cluster records every request; this one serves node-heal alone (the test reads state without
// HTTP), through every path that talks to the cluster.
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { manifest, notification, waitFor, withService } from "../../support/helpers.ts";

function alert(ip: string, fingerprint: string, extra: Record<string, string> = {}) {
  return {
    labels: { alertname: "NodeHighCPU", heal: "true", instance: `${ip}:9100`, ...extra },
    fingerprint,
  };
}

Deno.test(
  "the ClusterRole and Role grant exactly the verbs and resources node-heal uses",
  async () => {
    await using cluster = await startEmbeddedCluster();
    const dir = await Deno.makeTempDir({ prefix: "node-heal-rbac-" });
    await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
    {
      await using f = await withService({
        kubeconfig: `${dir}/kubeconfig`,
        cluster,
        policy: parsePolicy("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }"),
        // Leader election: create the Lease, then read and renew it.
        election: { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 50 },
      });
      const send = async (status: "firing" | "resolved", a: ReturnType<typeof alert>) =>
        await (await f.post(notification(status, [a]))).body?.cancel();
      await send("firing", alert("172.18.0.3", "cordon")); // patch nodes, create events
      await send("firing", alert("172.18.0.2", "cp")); // NodeHealSkipped
      await send("firing", alert("172.18.0.2", "cp")); // the same Event again: patch it
      // Another writer counted it meanwhile (409): get it and patch it again.
      f.cluster.api.injectFault({ verb: "patch", resource: "events", status: 409, times: 1 });
      await send("firing", alert("172.18.0.2", "cp"));
      await send("resolved", alert("172.18.0.5", "nothing")); // a fresh read: get nodes
      await send("firing", alert("172.18.0.4", "drain", { heal_action: "drain" })); // the drain
      await waitFor(
        "the drain",
        () =>
          cluster.api.read("Node", "heal-worker2")?.metadata?.annotations?.["node-heal.io/step"] ===
            "drained",
      );
    }
    const used = new Set<string>();
    for (const r of cluster.api.traffic.requests) {
      if (r.verb === "discovery") {
        continue;
      }
      used.add(`${r.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ""}`);
      if (r.resource === "leases") {
        assert.equal(r.namespace, "node-heal", "the Lease only in node-heal's namespace");
        if (r.verb !== "create") assert.equal(r.name, "node-heal", "only the Lease node-heal");
      }
      if (r.resource === "secrets") {
        assert.equal(r.namespace, "node-heal", "Secrets only in node-heal's namespace");
        if (r.verb !== "create") assert.equal(r.name, "node-heal-state-key", "only the state key");
      }
      if (r.resource === "events") {
        assert.equal(
          r.namespace,
          "default",
          "Events only where the Role is",
        );
      }
    }
    const docs = await manifest("webhook-deployment.yaml");
    type Rule = { resources: string[]; verbs: string[] };
    const granted = new Set(
      docs.filter((d) => d.kind === "ClusterRole" || d.kind === "Role").flatMap((d) =>
        (d.rules as Rule[]).flatMap((r) =>
          r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${res}`))
        )
      ),
    );
    assert.deepEqual([...used].sort(), [...granted].sort());
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "a policy that replaces through Karpenter uses exactly the ledger's Role and the karpenter ClusterRole beside the default rights",
  async () => {
    await using cluster = await startEmbeddedCluster({
      replaceDelayMs: 200,
      nodeClaimTerminationMs: 50,
    });
    const dir = await Deno.makeTempDir({ prefix: "node-heal-rbac-" });
    await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
    {
      await using f = await withService({
        kubeconfig: `${dir}/kubeconfig`,
        cluster,
        policy: parsePolicy(`
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { provider: karpenter }
acknowledge: [minHealthyZero]
gates: { minHealthy: 0 }
`),
      });
      await (await f.post(
        notification("firing", [alert("172.18.0.3", "r", { heal_action: "replace" })]),
      )).body?.cancel();
      await waitFor("the replacement", () => {
        const cm = cluster.api.read("ConfigMap", "node-heal-replacements", "node-heal");
        return (cm?.data as Record<string, string> | undefined)?.["replacements.json"]?.includes(
          '"phase":"replaced"',
        );
      }, 15_000);
    }
    const docs = await manifest("replace-rbac.yaml");
    type Rule = { resources: string[]; verbs: string[]; resourceNames?: string[] };
    const roles = (names: string[]) =>
      new Set(
        docs.filter((d) =>
          (d.kind === "Role" || d.kind === "ClusterRole") &&
          names.includes((d.metadata as { name: string }).name)
        ).flatMap((d) =>
          (d.rules as Rule[]).flatMap((r) =>
            r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${res}`))
          )
        ),
      );
    const replacing = roles(["node-heal-replacements", "node-heal-replace-karpenter"]);
    const base = await manifest("webhook-deployment.yaml");
    const granted = new Set(
      base.filter((d) => d.kind === "ClusterRole" || d.kind === "Role").flatMap((d) =>
        (d.rules as Rule[]).flatMap((r) =>
          r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${res}`))
        )
      ),
    );
    const used = new Set<string>();
    for (const r of cluster.api.traffic.requests) {
      if (r.verb === "discovery") continue;
      const key = `${r.verb === "update" ? "update" : r.verb} ${r.resource}${
        r.subresource ? `/${r.subresource}` : ""
      }`;
      used.add(key);
      if (r.resource === "configmaps") {
        assert.equal(r.namespace, "node-heal", "the ledger only in node-heal's namespace");
        if (r.verb !== "create") assert.equal(r.name, "node-heal-replacements");
      }
    }
    for (const u of used) {
      assert.ok(granted.has(u) || replacing.has(u), `${u} is granted`);
    }
    assert.deepEqual(
      [...replacing].sort(),
      [...used].filter((u) => replacing.has(u)).sort(),
      "every right of the ledger's Role and the karpenter ClusterRole is used",
    );
    await Deno.remove(dir, { recursive: true });
  },
);
