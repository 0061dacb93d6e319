// manifests/monitoring/, the kustomize Component, built by the real kubectl kustomize alone and
// over manifests/, and its self-alerts checked and unit-tested by the real promtool.
import assert from "node:assert/strict";
import { relative } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { manifest } from "../support/helpers.ts";
import { hasTool, runTool } from "../support/processes.ts";

type Doc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // deno-lint-ignore no-explicit-any
  spec?: any;
  data?: Record<string, string>;
};

const ROOT = new URL("../../", import.meta.url).pathname;
const MANIFESTS = `${ROOT}manifests`;
const COMPONENT = `${ROOT}manifests/monitoring`;

const KUBECTL = await hasTool("kubectl", "install kubectl");
const PROMTOOL = await hasTool("promtool", "apt-get install prometheus");

/** `kubectl kustomize dir`, parsed. */
async function build(dir: string): Promise<Doc[]> {
  const result = await runTool("kubectl", ["kustomize", dir]);
  assert.ok(result?.ok, result?.out ?? "");
  return parseAllDocuments(result!.out).map((d) => d.toJS() as Doc);
}

/**
 * An overlay in a temporary directory: manifests/ plus a component (kustomize refuses absolute
 * paths, and an overlay inside manifests/ would be a cycle, so both are reached relatively).
 */
async function overlay(component = COMPONENT): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-overlay-" });
  await Deno.writeTextFile(
    `${dir}/kustomization.yaml`,
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: [relative(dir, MANIFESTS)],
      components: [relative(dir, component)],
    }),
  );
  return dir;
}

const find = (docs: Doc[], kind: string, name: string) =>
  docs.find((d) => d.kind === kind && d.metadata.name === name);

Deno.test({
  name:
    "kubectl kustomize builds the component alone: a ServiceMonitor, the self-alerts, the dashboard",
  ignore: !KUBECTL,
  fn: async () => {
    const docs = await build(COMPONENT);
    assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort(), [
      "ConfigMap/node-heal-dashboard",
      "PrometheusRule/node-heal-self",
      "ServiceMonitor/node-heal",
    ]);
  },
});

Deno.test({
  name:
    "the component over manifests/: port `metrics` on the Service, scraped by the ServiceMonitor, everything release: prom",
  ignore: !KUBECTL,
  fn: async () => {
    const base = await build(MANIFESTS);
    const docs = await build(await overlay());
    assert.equal(docs.length, base.length + 3, "the base's objects and the component's three");
    const service = find(docs, "Service", "node-heal")!;
    assert.deepEqual(service.spec.ports, [{ name: "metrics", port: 8000, targetPort: "http" }]);
    const deployment = find(docs, "Deployment", "node-heal")!;
    const container = deployment.spec.template.spec.containers[0];
    assert.deepEqual(container.ports, [{ name: "http", containerPort: 8000 }]);
    assert.ok(container.args.includes("--listen=0.0.0.0:8000"), "/metrics is on port 8000");

    const monitor = find(docs, "ServiceMonitor", "node-heal")!;
    assert.equal(monitor.metadata.namespace, service.metadata.namespace);
    assert.deepEqual(monitor.spec.namespaceSelector.matchNames, [service.metadata.namespace]);
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) {
      assert.equal(service.metadata.labels?.[k], v, `the Service has ${k}=${v}`);
    }
    assert.deepEqual(monitor.spec.endpoints.map((e: { port: string }) => e.port), ["metrics"]);
    assert.equal(monitor.spec.endpoints[0].path, "/metrics");

    const operated = docs.filter((d) => ["ServiceMonitor", "PrometheusRule"].includes(d.kind));
    assert.equal(operated.length, 3, "the ServiceMonitor, the self-alerts and alert-rule.yaml's");
    for (const d of operated) assert.equal(d.metadata.labels?.release, "prom", d.metadata.name);

    const dashboard = find(docs, "ConfigMap", "node-heal-dashboard")!;
    assert.equal(dashboard.metadata.labels?.grafana_dashboard, "1");
    const json = JSON.parse(dashboard.data!["node-heal.json"]);
    assert.equal(json.title, "node-heal");
  },
});

Deno.test({
  name: "the release label is set in one place: change it there and every operated object follows",
  ignore: !KUBECTL,
  fn: async () => {
    const copy = await Deno.makeTempDir({ prefix: "node-heal-component-" });
    for (const e of Deno.readDirSync(COMPONENT)) {
      if (e.isFile) await Deno.copyFile(`${COMPONENT}/${e.name}`, `${copy}/${e.name}`);
    }
    const file = `${copy}/kustomization.yaml`;
    const text = await Deno.readTextFile(file);
    assert.equal(text.match(/value: prom$/gm)?.length, 1, "one place names the release");
    await Deno.writeTextFile(file, text.replace(/value: prom$/m, "value: kps"));
    const docs = await build(await overlay(copy));
    const operated = docs.filter((d) => ["ServiceMonitor", "PrometheusRule"].includes(d.kind));
    assert.equal(operated.length, 3);
    for (const d of operated) assert.equal(d.metadata.labels?.release, "kps", d.metadata.name);
    await Deno.remove(copy, { recursive: true });
  },
});

type Rule = {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
};

async function selfAlerts(): Promise<{ spec: unknown; rules: Rule[] }> {
  const [rule] = await manifest("monitoring/self-alerts.yaml");
  const spec = rule.spec as { groups: { rules: Rule[] }[] };
  return { spec, rules: spec.groups.flatMap((g) => g.rules) };
}

Deno.test("every self-alert has a severity and a runbook section, and none is routed to node-heal", async () => {
  const runbooks = await Deno.readTextFile(`${ROOT}docs/runbooks.md`);
  const anchors = new Set(
    [...runbooks.matchAll(/^#+ (.+)$/gm)].map((m) =>
      m[1].toLowerCase().replace(/[^a-z0-9 -]/g, "").replaceAll(" ", "-")
    ),
  );
  const { rules } = await selfAlerts();
  const names = rules.map((r) => r.alert);
  for (
    const name of [
      "NodeHealDown",
      "NodeHealWebhookErrors",
      "NodeHealWriteErrors",
      "NodeHealDrainsFailing",
      "NodeHealReplacementsFailing",
      "NodeHealRemediationsBlocked",
      "NodeHealNoLeader",
      "NodeHealLeaderFlapping",
      "NodeHealNotificationsFailing",
      "NodeHealBackgroundErrors",
      "NodeHealUnhandledErrors",
    ]
  ) assert.ok(names.includes(name), `${name} is a self-alert`);
  for (const r of rules) {
    assert.ok(r.alert, "alerts only");
    assert.match(r.labels?.severity ?? "", /^(warning|critical)$/, `${r.alert} has a severity`);
    assert.equal(r.labels?.heal, undefined, `${r.alert} must not reach node-heal itself`);
    const url = r.annotations?.runbook_url ?? "";
    assert.match(url, /\/blob\/main\/docs\/runbooks\.md#runbook-nodeheal/);
    assert.ok(anchors.has(url.slice(url.indexOf("#") + 1)), `docs/runbooks.md has ${url}`);
    assert.ok(r.annotations?.summary && r.annotations?.description, `${r.alert} explains itself`);
  }
});

Deno.test({
  name:
    "promtool: the self-alerts are valid rules, and every one fires and stays quiet in a unit test",
  ignore: !PROMTOOL,
  fn: async () => {
    const { spec, rules } = await selfAlerts();
    const dir = await Deno.makeTempDir({ prefix: "node-heal-self-alerts-" });
    await Deno.writeTextFile(`${dir}/self-alerts.yaml`, stringify(spec));
    const check = await runTool("promtool", ["check", "rules", `${dir}/self-alerts.yaml`]);
    assert.ok(check?.ok, check?.out ?? "");
    assert.match(check!.out, new RegExp(`SUCCESS: ${rules.length} rules found`));
    const tests = await Deno.readTextFile(
      new URL("../rules/self-alerts.test.yaml", import.meta.url),
    );
    await Deno.writeTextFile(`${dir}/self-alerts.test.yaml`, tests);
    const result = await runTool("promtool", ["test", "rules", `${dir}/self-alerts.test.yaml`]);
    assert.ok(result?.ok, result?.out ?? "");
    assert.match(result!.out, /SUCCESS/);
    // Each alert is expected to fire (a non-empty exp_alerts) and to stay quiet (an empty one).
    const cases = [...tests.matchAll(/alertname: (\w+)\n\s+exp_alerts:( \[\])?/g)];
    for (const r of rules) {
      const mine = cases.filter((c) => c[1] === r.alert);
      assert.ok(mine.some((c) => !c[2]), `${r.alert} is tested firing`);
      assert.ok(mine.some((c) => c[2]), `${r.alert} is tested quiet`);
    }
    await Deno.remove(dir, { recursive: true });
  },
});
