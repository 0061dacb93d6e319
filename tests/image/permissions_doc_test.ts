// The docs name the paths the image can read: docs/security.md's table is the `--allow-read` list
// of the shipped binary, and every file the docs and manifests tell users to mount or name lies
// under it (permissions_test.ts proves the binary reads them there).
import assert from "node:assert/strict";
import { shippedBinary } from "../support/shipped.ts";

const ROOT = new URL("../../", import.meta.url);
const HOME = "/home/nonroot";

function readable(): string[] {
  const flag = shippedBinary().permissions.find((p) => p.startsWith("--allow-read="));
  assert.ok(flag, "the binary reads a list of folders, not everything");
  return flag.slice("--allow-read=".length).split(",");
}

const within = (path: string, folders: string[]) =>
  folders.some((f) => path === f || path.startsWith(`${f}/`));

Deno.test("docs/security.md's table of readable folders is the binary's --allow-read list", async () => {
  const text = await Deno.readTextFile(new URL("docs/security.md", ROOT));
  const section = text.slice(
    text.indexOf("## Permissions"),
    text.indexOf("\n## ", text.indexOf("## Permissions") + 1),
  );
  const folders = [...section.matchAll(/^\| `([^`]+)`\s*\|/gm)].map((m) =>
    m[1].replace(/^~/, HOME)
  );
  assert.deepEqual(folders.toSorted(), readable().toSorted());
});

Deno.test("every file the docs and manifests name to mount or read is under a folder the binary reads", async () => {
  const folders = readable();
  const named: { path: string; where: string }[] = [];
  const files = [
    ...[...Deno.readDirSync(new URL("docs/", ROOT))].filter((e) => e.name.endsWith(".md"))
      .map((e) => `docs/${e.name}`),
    "README.md",
    "manifests/webhook-deployment.yaml",
  ];
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    const patterns = [
      // A policy's secret files, the serve flags that read files, GOOGLE_APPLICATION_CREDENTIALS.
      /\b(?:urlFile|routingKeyFile|secretFile):\s*(\/[^\s#,}`]+)/g,
      /--(?:auth-token-file|basic-auth-file|tls-cert|tls-key|config|kubeconfig)[= ](\/[^\s`,)]+)/g,
      /GOOGLE_APPLICATION_CREDENTIALS[=:]\s*"?(\/[^\s`",)]+)/g,
      /\bmountPath:\s*(\/\S+)/g,
    ];
    for (const pattern of patterns) {
      for (const m of text.matchAll(pattern)) named.push({ path: m[1], where: file });
    }
  }
  assert.ok(named.length >= 8, `found ${named.length} paths: the patterns still match the docs`);
  // Local examples (/tmp) and an attack's (/dev/zero, in docs/limits.md) are no mounts.
  const outside = named.filter(({ path }) =>
    !/^\/(tmp|dev)\//.test(path) && !within(path, folders)
  );
  assert.deepEqual(outside, [], `read by the docs outside ${folders}`);
});
