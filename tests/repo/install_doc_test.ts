// docs/install.md does what it says: its commands and snippets, taken from the page, run in a
// copy of a checkout and built by the real kubectl kustomize. Step 1's two commands make the overlay
// with a user's own namespace and release; no other command names either; step 5's edit ends the
// dry run; step 6's snippets build.
import assert from "node:assert/strict";
import { parse, stringify } from "yaml";
import { hasTool } from "../support/processes.ts";
import { manifest } from "../support/helpers.ts";
import { codeBlocks, ROOT } from "./doc_links.ts";
import {
  build,
  checkoutCopy,
  DEFAULTS,
  type Doc,
  expectedWith,
  mentions,
  MINE,
  overlay,
} from "./install_overlay.ts";

const KUBECTL = await hasTool("kubectl", "install kubectl");
const BASH = await hasTool("bash", "apt-get install bash");

const GUIDE = await Deno.readTextFile(new URL("docs/install.md", ROOT));
const BLOCKS = codeBlocks(GUIDE);

/** Step 1's block: the one that copies the overlay's template. */
function step1(): string {
  const found = BLOCKS.filter((b) => b.text.includes("manifests/install/overlay.yaml"));
  assert.equal(found.length, 1, "one block makes the overlay");
  assert.match(found[0].section, /^1\. /);
  assert.equal(found[0].lang, "sh");
  return found[0].text;
}

/** The commands of a shell block: a here-document and a continued line count with their command. */
function commands(sh: string): string[] {
  const out: string[] = [];
  const lines = sh.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
  for (let i = 0; i < lines.length; i++) {
    let command = lines[i];
    const heredoc = /<<-?'?(\w+)'?/.exec(command);
    while (command.endsWith("\\")) command = `${command.slice(0, -1)} ${lines[++i]}`;
    if (heredoc) { while (lines[i] !== heredoc[1]) command += `\n${lines[++i]}`; }
    out.push(command);
  }
  return out;
}

/** Runs a shell script with bash in `cwd`, failing on its first failing command. */
async function sh(script: string, cwd: string): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: ["-euc", script],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assert.ok(out.success, `bash failed: ${text(out.stderr)}${text(out.stdout)}`);
  return text(out.stdout);
}

/** Step 1 with the values a user writes in place of the page's. */
function step1With(values: { namespace: string; release: string }): string {
  let script = step1();
  for (
    const [line, value] of [["NAMESPACE=monitoring", values.namespace], [
      "RELEASE=prom",
      values.release,
    ]]
  ) {
    assert.equal(
      script.split(`\n${line}\n`).length,
      2,
      `step 1 says ${line} once, on a line of its own`,
    );
    script = script.replace(`\n${line}\n`, `\n${line.replace(/=.*/, `=${value}`)}\n`);
  }
  return script;
}

/** Where the overlay names the two values, without the AlertmanagerConfig (its line is commented). */
const withoutAmc = (values: { namespace: string; release: string }) =>
  expectedWith(values).filter((e) => !e.startsWith("AlertmanagerConfig/"));

Deno.test("docs/install.md makes the overlay in two commands", () => {
  assert.equal(commands(step1()).length, 2, commands(step1()).join("\n---\n"));
});

Deno.test({
  name:
    "step 1's commands, with observability and kps written in, make an overlay that names neither monitoring nor prom, and an install.env the shell reads",
  ignore: !KUBECTL || !BASH,
  fn: async () => {
    await using root = await checkoutCopy();
    await sh(step1With(MINE), root.dir);
    const docs = await build(`${root.dir}/deploy`);
    assert.deepEqual(mentions(docs, DEFAULTS), [], "no monitoring, no prom");
    assert.deepEqual(mentions(docs, MINE).sort(), withoutAmc(MINE).sort());
    const read = await sh('. deploy/install.env; printf "%s %s" "$NAMESPACE" "$RELEASE"', root.dir);
    assert.equal(read, "observability kps", "the later commands' variables");
  },
});

Deno.test({
  name: "step 1's commands as the page has them make the overlay of the defaults",
  ignore: !KUBECTL || !BASH,
  fn: async () => {
    await using root = await checkoutCopy();
    await sh(step1(), root.dir);
    const docs = await build(`${root.dir}/deploy`);
    assert.deepEqual(mentions(docs, DEFAULTS).sort(), withoutAmc(DEFAULTS).sort());
  },
});

Deno.test("no command or snippet after step 1 names monitoring or prom: they read $NAMESPACE and $RELEASE", () => {
  const rest = BLOCKS.filter((b) => !b.text.includes("manifests/install/overlay.yaml"));
  assert.ok(rest.length >= 8);
  for (const block of rest) {
    assert.doesNotMatch(block.text, /\b(monitoring|prom)\b/, `in section ${block.section}`);
  }
  const all = rest.map((b) => b.text).join("\n");
  assert.match(all, /-n "\$NAMESPACE"/);
  assert.match(all, /helm upgrade "\$RELEASE"/);
});

Deno.test({
  name: "step 5's edit, deleting the dry-run line, leaves node-heal without --dry-run",
  ignore: !KUBECTL,
  fn: async () => {
    const line = /Delete the line `(- \.\.\/manifests\/install\/dry-run)`/.exec(GUIDE)?.[1];
    assert.ok(line, "step 5 names the line");
    await using o = await overlay(MINE);
    const args = (docs: Doc[]) =>
      docs.find((d) => d.kind === "Deployment")!.spec.template.spec.containers[0].args;
    assert.ok(args(await build(o.dir)).includes("--dry-run"), "step 4 runs dry");
    const file = `${o.dir}/kustomization.yaml`;
    const text = await Deno.readTextFile(file);
    assert.equal(text.split(`\n  ${line}\n`).length, 2, "the overlay has that line once");
    await Deno.writeTextFile(file, text.replace(`\n  ${line}\n`, "\n"));
    assert.ok(!args(await build(o.dir)).includes("--dry-run"), "step 5 acts");
  },
});

Deno.test({
  name:
    "step 6's snippets build: the two alerts it names ask for a drain, and the policy comes from deploy/policy.yaml",
  ignore: !KUBECTL,
  fn: async () => {
    const snippets = BLOCKS.filter((b) => /^6\. /.test(b.section) && b.lang === "yaml")
      .map((b) => parse(b.text));
    const patches = snippets.find((s) => s.patches)?.patches;
    const generators = snippets.find((s) => s.configMapGenerator)?.configMapGenerator;
    assert.ok(patches && generators, "step 6 has a patches and a configMapGenerator snippet");
    await using o = await overlay(MINE);
    const file = `${o.dir}/kustomization.yaml`;
    const kustomization = parse(await Deno.readTextFile(file));
    kustomization.patches = [...kustomization.patches ?? [], ...patches];
    kustomization.configMapGenerator.push(...generators);
    await Deno.writeTextFile(file, stringify(kustomization));
    const shipped = (await manifest("webhook-deployment.yaml") as Doc[])
      .find((d) => d.kind === "ConfigMap")!.data["policy.yaml"];
    const policy = shipped.replace("actions: [cordon, drain]", "actions: [cordon, drain, replace]");
    await Deno.writeTextFile(`${o.dir}/policy.yaml`, policy);
    const docs = await build(o.dir);

    const rule = docs.find((d) => d.kind === "PrometheusRule" && d.metadata.name === "node-heal")!;
    const alerts = rule.spec.groups.flatMap((g: { rules: unknown[] }) => g.rules) as {
      alert: string;
      labels: Record<string, string>;
    }[];
    const draining = alerts.filter((a) => a.labels.heal_action === "drain").map((a) => a.alert);
    assert.deepEqual(draining, ["NodeFilesystemReadOnly", "NodeNotReady"]);
    assert.ok(
      GUIDE.replace(/\s+/g, " ").includes(
        "To drain on `NodeFilesystemReadOnly` and `NodeNotReady`",
      ),
      "the page names them",
    );
    assert.equal(alerts.filter((a) => a.labels.heal_action === "cordon").length, 7);

    const configMaps = docs.filter((d) =>
      d.kind === "ConfigMap" && d.metadata.name === "node-heal-policy"
    );
    assert.equal(configMaps.length, 1);
    assert.equal(configMaps[0].data["policy.yaml"], policy);
    assert.deepEqual(mentions(docs, DEFAULTS), [], "the install component still ran");
  },
});
