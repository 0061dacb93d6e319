// The version is written once (lib/base/version.ts): `--version`, the image tag of the Deployment, the
// kustomization's `images:` entry and CHANGELOG.md's top entry all say the same.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { VERSION } from "../../lib/base/version.ts";
import { manifest } from "../support/helpers.ts";

const IMAGE = "ghcr.io/node-heal/node-heal";
const read = (path: string) => Deno.readTextFile(new URL(`../../${path}`, import.meta.url));

Deno.test("main.ts --version prints node-heal's version and Deno's, and exits 0", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", new URL("../../main.ts", import.meta.url).pathname, "--version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(
    new TextDecoder().decode(out.stdout).trim(),
    `node-heal ${VERSION} (deno ${Deno.version.deno})`,
  );
});

Deno.test("the Deployment runs the image tagged with the version", async () => {
  const deploy = (await manifest("webhook-deployment.yaml")).find((d) => d.kind === "Deployment");
  const spec = deploy?.spec as {
    template: { spec: { containers: { name: string; image: string }[] } };
  };
  const container = spec.template.spec.containers.find((c) => c.name === "node-heal");
  assert.equal(container?.image, `${IMAGE}:${VERSION}`);
});

Deno.test("the kustomization's images: entry pins the image to the version", async () => {
  const k = parse(await read("manifests/kustomization.yaml")) as {
    images?: { name: string; newTag?: string }[];
  };
  assert.deepEqual(k.images?.find((i) => i.name === IMAGE)?.newTag, VERSION);
});

Deno.test("CHANGELOG.md's newest released entry is the version, under an Unreleased one if any", async () => {
  const headings = [...(await read("CHANGELOG.md")).matchAll(/^## (\S+)/gm)].map((m) => m[1]);
  const released = headings.filter((h) => h !== "Unreleased");
  assert.equal(released[0], VERSION);
  assert.ok(headings.indexOf("Unreleased") <= 0, "Unreleased, if there, comes first");
});
