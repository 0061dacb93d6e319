// The Kubernetes objects of manifests/: what kubectl kustomize builds, their schemas, the RBAC,
// the Deployment's hardening, the policy it mounts and its memory. The Alertmanager forms are in
// alertmanager_forms_test.ts, the alert rules in alert_rules_test.ts.
import assert from "node:assert/strict";
import * as apps from "kubernetes-models/apps/v1";
import * as core from "kubernetes-models/v1";
import * as policy from "kubernetes-models/policy/v1";
import * as rbac from "kubernetes-models/rbac.authorization.k8s.io/v1";
import * as networking from "kubernetes-models/networking.k8s.io/v1";
import * as monitoring from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import * as monitoringAlpha from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1";
import { manifest } from "../support/helpers.ts";
import { DEFAULT_POLICY, parsePolicy } from "../../lib/decide/policy.ts";
import { hasTool, runTool } from "../support/processes.ts";

const KUBECTL = await hasTool("kubectl", "install kubectl");

Deno.test({
  name:
    "kubectl kustomize manifests/ builds the namespace, RBAC, Deployment, Service and rule, and no Secret of another owner's",
  ignore: !KUBECTL,
  fn: async () => {
    const dir = new URL("../../manifests", import.meta.url).pathname;
    const result = await runTool("kubectl", ["kustomize", dir]);
    assert.ok(result?.ok, result?.out ?? "");
    const kinds = [...result!.out.matchAll(/^kind: (\S+)$/gm)].map((m) => m[1]).sort();
    assert.deepEqual(kinds, [
      "ClusterRole",
      "ClusterRoleBinding",
      "ConfigMap",
      "Deployment",
      "Namespace",
      "NetworkPolicy",
      "PodDisruptionBudget",
      "PrometheusRule",
      "Role",
      "Role",
      "Role",
      "RoleBinding",
      "RoleBinding",
      "RoleBinding",
      "Service",
      "ServiceAccount",
    ]);
  },
});

Deno.test("RBAC grants exactly the verbs node-heal uses: nodes cluster-wide, events in the Event namespace", async () => {
  const docs = await manifest("webhook-deployment.yaml");
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
  const grants = (kind: string) =>
    docs.filter((d) => d.kind === kind).flatMap((d) =>
      (d.rules as Rule[]).flatMap((r) =>
        r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${res}`))
      )
    ).sort();
  assert.deepEqual(grants("ClusterRole"), [
    "create pods/eviction",
    "get daemonsets",
    "get namespaces",
    "get nodes",
    "get pods",
    "list nodes",
    "list pods",
    "patch nodes",
    "watch nodes",
  ]);
  const cluster = docs.find((d) => d.kind === "ClusterRole") as {
    rules: (Rule & { resourceNames?: string[] })[];
  };
  assert.deepEqual(
    cluster.rules.find((r) => r.resources.includes("namespaces"))?.resourceNames,
    ["node-heal"],
    "only node-heal's own namespace, for the pause annotation",
  );
  assert.deepEqual(grants("Role"), [
    "create events",
    "create leases",
    "create secrets",
    "get events",
    "get leases",
    "get secrets",
    "patch events",
    "update leases",
  ]);
  type Role = {
    metadata: { name: string; namespace: string };
    rules: (Rule & { resourceNames?: string[] })[];
  };
  const roles = docs.filter((d) => d.kind === "Role") as Role[];
  const events = roles.find((r) => r.rules.some((x) => x.resources.includes("events")))!;
  assert.equal(events.metadata.namespace, "default", "the Role lives where the Events go");
  const leases = roles.find((r) => r.rules.some((x) => x.resources.includes("leases")))!;
  assert.equal(leases.metadata.namespace, "node-heal", "the Lease in node-heal's own namespace");
  assert.deepEqual(
    leases.rules.filter((r) => r.verbs.some((v) => v !== "create")).map((r) => r.resourceNames),
    [["node-heal"]],
    "reading and renewing only the Lease node-heal",
  );
  const secrets = roles.find((r) => r.rules.some((x) => x.resources.includes("secrets")))!;
  assert.equal(secrets.metadata.namespace, "node-heal", "the state key in node-heal's namespace");
  assert.deepEqual(
    secrets.rules.filter((r) => r.verbs.some((v) => v !== "create")).map((r) => r.resourceNames),
    [["node-heal-state-key"]],
    "reading only the state key",
  );
});

/** The schema model of each kind the manifests hold. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": core.Namespace,
  "v1/ServiceAccount": core.ServiceAccount,
  "v1/Service": core.Service,
  "v1/Secret": core.Secret,
  "v1/ConfigMap": core.ConfigMap,
  "apps/v1/Deployment": apps.Deployment,
  "policy/v1/PodDisruptionBudget": policy.PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": networking.NetworkPolicy,
  "rbac.authorization.k8s.io/v1/ClusterRole": rbac.ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": rbac.ClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": rbac.Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": rbac.RoleBinding,
  "monitoring.coreos.com/v1/PrometheusRule": monitoring.PrometheusRule,
  "monitoring.coreos.com/v1/ServiceMonitor": monitoring.ServiceMonitor,
  "monitoring.coreos.com/v1alpha1/AlertmanagerConfig": monitoringAlpha.AlertmanagerConfig,
};

Deno.test("every manifest is valid against the Kubernetes and prometheus-operator schemas", async () => {
  const dir = new URL("../../manifests/", import.meta.url);
  const yamls = (sub: string) =>
    [...Deno.readDirSync(new URL(sub, dir))].map((e) => `${sub}${e.name}`)
      .filter((n) => n.endsWith(".yaml"));
  const files = [...yamls(""), ...yamls("monitoring/"), ...yamls("alertmanager-config/")];
  // Not Kubernetes objects: kind's cluster config, kustomize's own files, Helm values and an
  // alertmanager.yml fragment.
  const notObjects = [
    "kind-config.yaml",
    "kustomization.yaml",
    "monitoring/kustomization.yaml",
    "alertmanager-config/kustomization.yaml",
    "kube-prometheus-stack-values.yaml",
    "alertmanager-route.yaml",
  ];
  let validated = 0;
  for (const file of files.filter((f) => !notObjects.includes(f)).sort()) {
    for (const doc of await manifest(file)) {
      const key = `${doc.apiVersion}/${doc.kind}`;
      const Model = MODELS[key];
      assert.ok(Model, `${file}: no schema for ${key}`);
      try {
        new Model(doc as never).validate();
      } catch (err) {
        throw new Error(`${file}: ${key} "${(doc.metadata as { name: string }).name}": ${err}`);
      }
      validated++;
    }
  }
  assert.equal(validated, 27, "every object of every manifest was checked");
});

Deno.test("a schema check rejects a broken manifest, so the check above can fail", () => {
  assert.throws(
    () =>
      new apps.Deployment({ metadata: { name: "x" }, spec: { replicas: "two" } } as never)
        .validate(),
    /replicas must be integer|must have required property/,
  );
  assert.throws(() =>
    new monitoring.PrometheusRule({
      metadata: { name: "r" },
      spec: { groups: [{ name: "g", rules: [{ alert: "A", expr: "1", for: "5 minutes" }] }] },
    } as never).validate()
  );
});

Deno.test("the policy ConfigMap is a valid policy, mounted where --config reads it", async () => {
  const docs = await manifest("webhook-deployment.yaml");
  const cm = docs.find((d) => d.kind === "ConfigMap") as { data: Record<string, string> };
  const policy = parsePolicy(cm.data["policy.yaml"], "policy ConfigMap");
  assert.deepEqual(policy, DEFAULT_POLICY, "the shipped policy is the documented default");
  const deploy = docs.find((d) => d.kind === "Deployment") as {
    spec: {
      template: {
        spec: { containers: { args: string[]; volumeMounts: { mountPath: string }[] }[] };
      };
    };
  };
  const container = deploy.spec.template.spec.containers[0];
  assert.ok(container.args.includes("--config=/etc/node-heal/policy.yaml"));
  assert.equal(container.volumeMounts[0].mountPath, "/etc/node-heal");
});

Deno.test("the Deployment runs hardened, with the webhook token from a Secret and a NetworkPolicy in front", async () => {
  const docs = await manifest("webhook-deployment.yaml");
  type Container = {
    args: string[];
    securityContext: Record<string, unknown>;
    resources: { requests: Record<string, string>; limits: Record<string, string> };
  };
  const deploy = docs.find((d) => d.kind === "Deployment") as {
    spec: {
      template: {
        spec: {
          securityContext: Record<string, unknown>;
          containers: Container[];
          volumes: { name: string; secret?: { secretName: string } }[];
        };
      };
    };
  };
  const pod = deploy.spec.template.spec;
  const c = pod.containers[0];
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.deepEqual(pod.securityContext.seccompProfile, { type: "RuntimeDefault" });
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] });
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
  assert.ok(c.args.includes("--auth-token-file=/etc/node-heal/token/token"));
  assert.equal(
    pod.volumes.find((v) => v.name === "token")?.secret?.secretName,
    "node-heal-webhook",
  );
  assert.ok(docs.some((d) => d.kind === "NetworkPolicy"));
});

Deno.test("the binary's V8 heap fits the Deployment's memory limit, and deno task serve runs with it", async () => {
  const root = new URL("../../", import.meta.url);
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))).tasks;
  const { shippedBinary } = await import("../support/shipped.ts");
  const flags = shippedBinary().v8Flags.replace(/^--v8-flags=/, "");
  assert.ok(tasks.serve.includes(`--v8-flags=${flags}`), "deno task serve uses the binary's");
  const oldSpaceMb = Number(flags.match(/--max-old-space-size=(\d+)/)?.[1]);
  const docs = await manifest("webhook-deployment.yaml");
  const deploy = docs.find((d) => d.kind === "Deployment") as {
    spec: { template: { spec: { containers: { resources: { limits: { memory: string } } }[] } } };
  };
  const limit = deploy.spec.template.spec.containers[0].resources.limits.memory;
  const limitMb = Number(limit.replace(/Mi$/, "")) * 1.048576;
  // The runtime and the client library's code take about 150 MB beside the old generation.
  assert.ok(
    limitMb >= oldSpaceMb + 150,
    `limit ${limit} leaves too little beside a ${oldSpaceMb} MB heap`,
  );
});
