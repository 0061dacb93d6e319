// manifests/alert-rule.yaml, the alerts node-heal acts on: their labels, their runbooks, and
// the real promtool's check and unit tests.
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { manifest } from "../support/helpers.ts";
import { hasTool, runTool } from "../support/processes.ts";

const PROMTOOL = await hasTool("promtool", "apt-get install prometheus");

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-manifests-" });
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, text);
  return path;
}

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
  const [amc] = await manifest("alertmanager-config/alertmanager-config.yaml");
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
