// The manifests in manifests/, checked by the real tools: kubectl kustomize, amtool, promtool.
import assert from "node:assert/strict";
import { stringify } from "yaml";
import * as apps from "kubernetes-models/apps/v1";
import * as core from "kubernetes-models/v1";
import * as policy from "kubernetes-models/policy/v1";
import * as rbac from "kubernetes-models/rbac.authorization.k8s.io/v1";
import * as networking from "kubernetes-models/networking.k8s.io/v1";
import * as monitoring from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import * as monitoringAlpha from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1";
import { helmAlertmanagerConfig, manifest } from "../helpers.ts";
import { DEFAULT_POLICY, parsePolicy } from "../../lib/decide/policy.ts";
import { hasTool, runTool } from "../processes.ts";

const KUBECTL = await hasTool("kubectl", "install kubectl");
const AMTOOL = await hasTool("amtool", "apt-get install prometheus-alertmanager");
const PROMTOOL = await hasTool("promtool", "apt-get install prometheus");

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-manifests-" });
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, text);
  return path;
}

/** The Alertmanager configuration kube-prometheus-stack renders with our values, as YAML. */
async function alertmanagerYaml(): Promise<string> {
  return stringify(await helmAlertmanagerConfig());
}

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

Deno.test({
  name:
    'amtool accepts the Alertmanager config Helm renders from the values snippet and routes heal="true" alerts, and only those, to node-heal',
  ignore: !AMTOOL,
  fn: async () => {
    const path = await tempFile("alertmanager.yaml", await alertmanagerYaml());
    const check = await runTool("amtool", ["check-config", path]);
    assert.ok(check?.ok, check?.out ?? "");
    const route = async (...labels: string[]) =>
      (await runTool("amtool", ["config", "routes", "test", `--config.file=${path}`, ...labels]))
        ?.stdout
        .trim();
    assert.equal(
      await route("alertname=NodeHighCPU", "heal=true", "instance=10.0.0.1:9100"),
      "node-heal",
    );
    assert.equal(await route("alertname=Watchdog", "severity=none"), "null");
    assert.equal(await route("alertname=NodeHighCPU", "heal=false"), "null");
  },
});

Deno.test("the webhook receiver sends resolved notifications to node-heal's Service", async () => {
  const config = (await import("yaml")).parse(await alertmanagerYaml());
  const receiver = config.receivers.find((r: { name: string }) => r.name === "node-heal");
  assert.deepEqual(receiver.webhook_configs, [{
    url: "http://node-heal.node-heal.svc:8000/webhook",
    send_resolved: true,
    http_config: {
      authorization: {
        type: "Bearer",
        credentials_file: "/etc/alertmanager/secrets/node-heal-webhook/token",
      },
    },
  }]);
  const docs = await manifest("webhook-deployment.yaml");
  const service = docs.find((d) => d.kind === "Service") as {
    metadata: { name: string; namespace: string };
    spec: { ports: { port: number }[] };
  };
  assert.equal(`${service.metadata.name}.${service.metadata.namespace}`, "node-heal.node-heal");
  assert.equal(service.spec.ports[0].port, 8000);
});

Deno.test('every alert of the PrometheusRule is labelled heal="true" with a severity, and the rule is labelled release: prom', async () => {
  const [rule] = await manifest("alert-rule.yaml");
  assert.equal((rule.metadata as { labels: Record<string, string> }).labels.release, "prom");
  const groups = (rule.spec as { groups: { rules: Record<string, unknown>[] }[] }).groups;
  const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert);
  assert.ok(alerts.some((a) => a.alert === "NodeHighCPU"));
  for (const a of alerts) {
    const labels = a.labels as Record<string, string>;
    assert.equal(labels.heal, "true", `${a.alert} has heal="true"`);
    assert.ok(labels.severity, `${a.alert} has a severity`);
    assert.equal(labels.heal_action, "cordon", `${a.alert} has a heal_action`);
    assert.ok(a.for, `${a.alert} waits before firing`);
    const annotations = a.annotations as Record<string, string>;
    assert.match(
      annotations.summary,
      /\{\{ \$labels\.(instance|node) \}\}/,
      `${a.alert} names the node`,
    );
    assert.match(annotations.runbook_url, /#runbook-/);
  }
});

Deno.test("every alert carries namespace: the AlertmanagerConfig's, which its OnNamespace route matches", async () => {
  // The operator's default alertmanagerConfigMatcherStrategy (OnNamespace) adds the matcher
  // namespace="<the AlertmanagerConfig's namespace>" to its route: an alert without that label,
  // or with another value, never reaches node-heal.
  const [amc] = await manifest("alertmanager-config.yaml");
  const namespace = (amc.metadata as { namespace: string }).namespace;
  assert.ok(namespace);
  const [rule] = await manifest("alert-rule.yaml");
  const groups = (rule.spec as { groups: { rules: Record<string, unknown>[] }[] }).groups;
  for (const a of groups.flatMap((g) => g.rules).filter((r) => r.alert)) {
    assert.equal(
      (a.labels as Record<string, string>).namespace,
      namespace,
      `${a.alert} is labelled namespace: ${namespace}`,
    );
  }
});

Deno.test({
  name: "promtool accepts the rule groups of the PrometheusRule",
  ignore: !PROMTOOL,
  fn: async () => {
    const [rule] = await manifest("alert-rule.yaml");
    const path = await tempFile("rules.yaml", stringify(rule.spec));
    const check = await runTool("promtool", ["check", "rules", path]);
    assert.ok(check?.ok, check?.out ?? "");
    assert.match(check!.out, /SUCCESS: 9 rules found/);
  },
});

Deno.test({
  name:
    "promtool test rules: every alert fires on its failing series and stays quiet on a healthy one",
  ignore: !PROMTOOL,
  fn: async () => {
    const [rule] = await manifest("alert-rule.yaml");
    const rules = await tempFile("rules.yaml", stringify(rule.spec));
    const dir = rules.slice(0, rules.lastIndexOf("/"));
    const tests = await Deno.readTextFile(
      new URL("../rules/alert-rule.test.yaml", import.meta.url),
    );
    await Deno.writeTextFile(`${dir}/alert-rule.test.yaml`, tests);
    const result = await runTool("promtool", ["test", "rules", `${dir}/alert-rule.test.yaml`]);
    assert.ok(result?.ok, result?.out ?? "");
    assert.match(result!.out, /SUCCESS/);
    const tested = new Set([...tests.matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    const groups = (rule.spec as { groups: { rules: { alert?: string }[] }[] }).groups;
    for (const r of groups.flatMap((g) => g.rules)) {
      if (r.alert) assert.ok(tested.has(r.alert), `${r.alert} has a unit test`);
    }
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

Deno.test("every runbook link of the rules points at a section of docs/runbooks.md", async () => {
  const readme = await Deno.readTextFile(new URL("../../docs/runbooks.md", import.meta.url));
  const anchors = new Set(
    [...readme.matchAll(/^#+ (.+)$/gm)].map((m) =>
      m[1].toLowerCase().replace(/[^a-z0-9 -]/g, "").replaceAll(" ", "-")
    ),
  );
  const [rule] = await manifest("alert-rule.yaml");
  const groups = (rule.spec as { groups: { rules: Record<string, unknown>[] }[] }).groups;
  for (const r of groups.flatMap((g) => g.rules).filter((r) => r.alert)) {
    const url = (r.annotations as Record<string, string>).runbook_url;
    assert.match(url, /\/blob\/main\/docs\/runbooks\.md#/);
    const anchor = url.slice(url.indexOf("#") + 1);
    assert.ok(anchors.has(anchor), `docs/runbooks.md has a section for ${anchor}`);
  }
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
  const files = [...yamls(""), ...yamls("monitoring/")];
  // Not Kubernetes objects: kind's cluster config, kustomize's own files, Helm values and an
  // alertmanager.yml fragment.
  const notObjects = [
    "kind-config.yaml",
    "kustomization.yaml",
    "monitoring/kustomization.yaml",
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

Deno.test("the AlertmanagerConfig routes like the values snippet: same matcher, grouping, timing, receiver", async () => {
  const config = (await import("yaml")).parse(await alertmanagerYaml());
  const valuesRoute = config.route.routes.find((r: { receiver: string }) =>
    r.receiver === "node-heal"
  );
  const valuesHook = config.receivers.find((r: { name: string }) => r.name === "node-heal")
    .webhook_configs[0];
  const [amc] = await manifest("alertmanager-config.yaml");
  const spec = amc.spec as {
    route: Record<string, unknown>;
    receivers: { name: string; webhookConfigs: Record<string, unknown>[] }[];
  };
  assert.deepEqual(spec.route.matchers, [{ name: "heal", matchType: "=", value: "true" }]);
  assert.deepEqual(valuesRoute.matchers, ['heal="true"']);
  assert.deepEqual(spec.route.groupBy, valuesRoute.group_by);
  assert.equal(spec.route.groupWait, valuesRoute.group_wait);
  assert.equal(spec.route.groupInterval, valuesRoute.group_interval);
  assert.equal(spec.route.repeatInterval, valuesRoute.repeat_interval);
  const hook = spec.receivers[0].webhookConfigs[0] as {
    url: string;
    sendResolved: boolean;
    httpConfig: { authorization: { type: string; credentials: { name: string; key: string } } };
  };
  assert.equal(hook.url, valuesHook.url);
  assert.equal(hook.sendResolved, true);
  assert.equal(hook.httpConfig.authorization.type, "Bearer");
  assert.deepEqual(hook.httpConfig.authorization.credentials, {
    name: "node-heal-webhook",
    key: "token",
  });
  assert.equal(
    valuesHook.http_config.authorization.credentials_file,
    "/etc/alertmanager/secrets/node-heal-webhook/token",
  );
});

Deno.test({
  name:
    'the plain alertmanager.yml fragment is the values snippet\'s route and receiver, and routes heal="true" first in another config',
  ignore: !AMTOOL,
  fn: async () => {
    const { parse } = await import("yaml");
    const [fragment] = await manifest("alertmanager-route.yaml") as {
      route: { routes: { receiver: string }[] };
      receivers: { name: string }[];
    }[];
    const helm = await helmAlertmanagerConfig();
    assert.deepEqual(fragment.route.routes, [
      helm.route.routes.find((r: { receiver: string }) => r.receiver === "node-heal"),
    ]);
    assert.deepEqual(fragment.receivers, [
      helm.receivers.find((r: { name: string }) => r.name === "node-heal"),
    ]);
    // Merged as its comment says into a configuration of someone else's: first among the routes.
    const other = parse(`
route:
  receiver: team
  routes:
    - receiver: pager
      matchers: ['severity="critical"']
receivers:
  - name: team
  - name: pager
`);
    other.route.routes.unshift(...fragment.route.routes);
    other.receivers.push(...fragment.receivers);
    const path = await tempFile("alertmanager.yaml", stringify(other));
    const check = await runTool("amtool", ["check-config", path]);
    assert.ok(check?.ok, check?.out ?? "");
    const route = async (...labels: string[]) =>
      (await runTool("amtool", ["config", "routes", "test", `--config.file=${path}`, ...labels]))
        ?.stdout
        .trim();
    assert.equal(await route("alertname=NodeHighCPU", "heal=true"), "node-heal");
    assert.equal(
      await route("alertname=NodeNotReady", "heal=true", "severity=critical"),
      "node-heal,pager",
      "continue: true: the pager still sees it",
    );
    assert.equal(await route("alertname=NodeNotReady", "severity=critical"), "pager");
    assert.equal(await route("alertname=Other"), "team");
  },
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
  const { shippedBinary } = await import("../shipped.ts");
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

Deno.test("the backtest rebuilds notifications with the AlertmanagerConfig's route: grouping and timing", async () => {
  const { DEFAULT_ROUTE } = await import("../../lib/backtest/alertmanager_sim.ts");
  const { durationMs } = await import("../../lib/duration.ts");
  const [amc] = await manifest("alertmanager-config.yaml");
  const route = (amc.spec as { route: Record<string, string | string[]> }).route;
  assert.deepEqual(DEFAULT_ROUTE.groupBy, route.groupBy);
  assert.equal(DEFAULT_ROUTE.groupWaitMs, durationMs(route.groupWait as string));
  assert.equal(DEFAULT_ROUTE.groupIntervalMs, durationMs(route.groupInterval as string));
  assert.equal(DEFAULT_ROUTE.repeatIntervalMs, durationMs(route.repeatInterval as string));
});
