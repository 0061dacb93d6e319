// manifests/install: kube-prometheus-stack's namespace and release, given once in the overlay's
// install.env, reach every object that names them. Built by the real kubectl kustomize with other
// values than the defaults ("observability", "kps"), and with the defaults, which must build
// exactly what manifests/ and manifests/monitoring built before.
import assert from "node:assert/strict";
import { relative } from "node:path";
import { stringify } from "yaml";
import { hasTool, runTool } from "../support/processes.ts";
import { manifest } from "../support/helpers.ts";
import {
  build,
  DEFAULTS,
  type Doc,
  EXPECTED,
  expectedWith,
  mentions,
  MINE,
  overlay,
  tempDir,
} from "./install_overlay.ts";

const KUBECTL = await hasTool("kubectl", "install kubectl");
const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name:
    "the overlay with namespace observability and release kps says neither monitoring nor prom anywhere, and says its own values wherever the defaults were",
  ignore: !KUBECTL,
  fn: async () => {
    await using first = await overlay(DEFAULTS, { alertmanagerConfig: true });
    const defaults = await build(first.dir);
    assert.deepEqual(mentions(defaults, DEFAULTS).sort(), EXPECTED.sort());
    await using second = await overlay(MINE, { alertmanagerConfig: true });
    const mine = await build(second.dir);
    assert.deepEqual(mentions(mine, DEFAULTS), [], "no monitoring, no prom left");
    assert.deepEqual(mentions(mine, MINE).sort(), expectedWith(MINE).sort());
  },
});

Deno.test({
  name:
    "in the overlay with other values, the rules' namespace label is the AlertmanagerConfig's namespace and every operated object carries the release",
  ignore: !KUBECTL,
  fn: async () => {
    await using mine = await overlay(MINE, { alertmanagerConfig: true });
    const docs = await build(mine.dir);
    const amc = docs.find((d) => d.kind === "AlertmanagerConfig")!;
    assert.equal(amc.metadata.namespace, "observability");
    const rule = docs.find((d) => d.kind === "PrometheusRule" && d.metadata.name === "node-heal")!;
    const rules = rule.spec.groups.flatMap((g: { rules: unknown[] }) => g.rules);
    assert.equal(rules.length, 9);
    for (const r of rules) assert.equal(r.labels.namespace, amc.metadata.namespace, r.alert);
    const operated = docs.filter((d) => d.apiVersion.startsWith("monitoring.coreos.com/"));
    assert.deepEqual(operated.map((d) => `${d.kind}/${d.metadata.name}`).sort(), [
      "AlertmanagerConfig/node-heal",
      "PrometheusRule/node-heal",
      "PrometheusRule/node-heal-self",
      "ServiceMonitor/node-heal",
    ]);
    for (const d of operated) assert.equal(d.metadata.labels?.release, "kps", d.metadata.name);
    const policy = docs.find((d) => d.kind === "NetworkPolicy")!;
    assert.deepEqual(policy.spec.ingress[0].from[0].namespaceSelector.matchLabels, {
      "kubernetes.io/metadata.name": "observability",
    });
  },
});

Deno.test({
  name:
    "with the defaults, the overlay builds what manifests/ with manifests/monitoring built before, plus --dry-run, and the AlertmanagerConfig as its file says",
  ignore: !KUBECTL,
  fn: async () => {
    // Before: an overlay of manifests/ and the monitoring component alone (docs/monitoring.md).
    await using plain = await tempDir("node-heal-before-");
    await Deno.writeTextFile(
      `${plain.dir}/kustomization.yaml`,
      stringify({
        resources: [relative(plain.dir, `${ROOT}manifests`)],
        components: [relative(plain.dir, `${ROOT}manifests/monitoring`)],
      }),
    );
    const before = await build(plain.dir);
    await using defaults = await overlay(DEFAULTS, { alertmanagerConfig: true });
    const after = await build(defaults.dir);
    const deployment = after.find((d) => d.kind === "Deployment")!;
    const args: string[] = deployment.spec.template.spec.containers[0].args;
    assert.equal(args.at(-1), "--dry-run", "step 1 runs dry");
    args.pop();
    const [amc] = await manifest("alertmanager-config/alertmanager-config.yaml");
    assert.deepEqual([...after].sort(byId), [...before, amc as Doc].sort(byId));
  },
});

Deno.test({
  name: "an overlay without the node-heal-install ConfigMap does not build, and kubectl names it",
  ignore: !KUBECTL,
  fn: async () => {
    await using mine = await overlay(MINE);
    const file = `${mine.dir}/kustomization.yaml`;
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, text.slice(0, text.indexOf("configMapGenerator:")));
    const result = await runTool("kubectl", ["kustomize", mine.dir]);
    assert.equal(result?.ok, false);
    assert.match(result!.out, /node-heal-install/);
  },
});

const id = (d: Doc) => `${d.kind}/${d.metadata.namespace ?? ""}/${d.metadata.name}`;
const byId = (a: Doc, b: Doc) => id(a).localeCompare(id(b));
