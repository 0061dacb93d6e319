// The overlay of docs/install.md, made in a temporary copy of a checkout and built by the real
// kubectl kustomize: shared by the tests of manifests/install and of the guide's commands.
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { runTool } from "../support/processes.ts";
import { filesUnder, ROOT } from "./doc_links.ts";

/** One object of a build. */
export type Doc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // deno-lint-ignore no-explicit-any
  [field: string]: any;
};

/** A folder that is removed, with everything in it, when disposed. */
export interface TempDir {
  dir: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A temporary folder, removed when disposed. */
export async function tempDir(prefix: string): Promise<TempDir> {
  const dir = await Deno.makeTempDir({ prefix });
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** A temporary folder holding a copy of manifests/, as the root of a checkout holds it. */
export async function checkoutCopy(): Promise<TempDir> {
  const root = await tempDir("node-heal-checkout-");
  for (const file of filesUnder("manifests/")) {
    const to = `${root.dir}/${file}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(new URL(file, ROOT), to);
  }
  return root;
}

/**
 * The overlay as docs/install.md makes it, in a copy of the checkout: manifests/install/overlay.yaml
 * as deploy/kustomization.yaml, and deploy/install.env with the two values. `alertmanagerConfig`
 * uncomments the AlertmanagerConfig form's line, as a user who chose that form does. `dir` is the
 * overlay's folder.
 */
export async function overlay(
  values: { namespace: string; release: string },
  options: { alertmanagerConfig?: boolean } = {},
): Promise<TempDir> {
  const root = await checkoutCopy();
  await Deno.mkdir(`${root.dir}/deploy`);
  let template = await Deno.readTextFile(`${root.dir}/manifests/install/overlay.yaml`);
  if (options.alertmanagerConfig) {
    const line = "  # - ../manifests/alertmanager-config\n";
    assert.equal(template.split(line).length, 2, "the template has the form's line, commented");
    template = template.replace(line, line.replace("# ", ""));
  }
  await Deno.writeTextFile(`${root.dir}/deploy/kustomization.yaml`, template);
  await Deno.writeTextFile(
    `${root.dir}/deploy/install.env`,
    `NAMESPACE=${values.namespace}\nRELEASE=${values.release}\n`,
  );
  return { ...root, dir: `${root.dir}/deploy` };
}

/** `kubectl kustomize dir`, parsed; fails the test with kubectl's words when the build fails. */
export async function build(dir: string): Promise<Doc[]> {
  const result = await runTool("kubectl", ["kustomize", dir]);
  assert.ok(result?.ok, result?.out ?? "kubectl is missing");
  return parseAllDocuments(result!.out).map((d) => d.toJS() as Doc);
}

/** Every string in an object, keys included, with the path to it (`kind/name:a.b.0.c`). */
export function strings(docs: Doc[]): { path: string; value: string }[] {
  const out: { path: string; value: string }[] = [];
  const walk = (v: unknown, path: string) => {
    if (typeof v === "string") out.push({ path, value: v });
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}.${i}`));
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        out.push({ path: `${path}.${k}(key)`, value: k });
        walk(x, `${path}.${k}`);
      }
    }
  };
  for (const d of docs) walk(d, `${d.kind}/${d.metadata.name}:`);
  return out;
}

/** The two values as manifests/ has them. */
export const DEFAULTS = { namespace: "monitoring", release: "prom" };
/** Two other values, as a user with another namespace and release writes them. */
export const MINE = { namespace: "observability", release: "kps" };

/** `EXPECTED` with the values changed to `values`'. */
export function expectedWith(values: { namespace: string; release: string }): string[] {
  return EXPECTED.map((e) =>
    e.replace(/ monitoring$/, ` ${values.namespace}`).replace(/ prom$/, ` ${values.release}`)
  );
}

/** Where a build says one of the two values: a whole word, never part of another name. */
export function mentions(docs: Doc[], values: { namespace: string; release: string }): string[] {
  const word = new RegExp(`(^|[^\\w.-])(${values.namespace}|${values.release})([^\\w.-]|$)`);
  return strings(docs).filter((s) => word.test(s.value)).map((s) => `${s.path} ${s.value}`);
}

/**
 * Where the defaults put them, the AlertmanagerConfig's form chosen: every place the install
 * component must rewrite.
 */
export const EXPECTED = [
  "ConfigMap/node-heal-dashboard:.metadata.namespace monitoring",
  "ServiceMonitor/node-heal:.metadata.labels.release prom",
  "PrometheusRule/node-heal-self:.metadata.labels.release prom",
  "PrometheusRule/node-heal:.metadata.labels.release prom",
  "PrometheusRule/node-heal:.metadata.namespace monitoring",
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) =>
    `PrometheusRule/node-heal:.spec.groups.0.rules.${i}.labels.namespace monitoring`
  ),
  "PrometheusRule/node-heal:.spec.groups.1.rules.0.labels.namespace monitoring",
  "AlertmanagerConfig/node-heal:.metadata.labels.release prom",
  "AlertmanagerConfig/node-heal:.metadata.namespace monitoring",
  "NetworkPolicy/node-heal:.spec.ingress.0.from.0.namespaceSelector.matchLabels.kubernetes.io/metadata.name monitoring",
];
