// The image's build, as `docker build` runs it: the build stage's COPY instructions make a context
// of their own, and its RUN commands run there on a cold Deno cache (a DENO_DIR of their own), so
// that npm packages are fetched and type-checked from nothing, as in a fresh image. Only the
// download of Deno's runtime for the binary (dl.deno.land, which this machine cannot reach) is out
// of reach: a build that gets that far and stops there has done everything else the image does.
import assert from "node:assert/strict";
import { dockerfileStages, shippedBinary } from "../support/shipped.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Whether a failed `deno compile` stopped only where it fetches the runtime it builds on. */
function stoppedAtRuntimeDownload(stderr: string): boolean {
  return /Setting up base binary/.test(stderr) &&
    /dl\.deno\.land\/release\/v[\d.]+\/denort-/.test(stderr);
}

Deno.test("the Dockerfile's build commands pass on a cold cache, type-checking included, with the flags the binary embeds", async () => {
  const binary = shippedBinary();
  const version = (await new Deno.Command(Deno.execPath(), { args: ["--version"] }).output())
    .stdout;
  assert.match(
    new TextDecoder().decode(version),
    new RegExp(`^deno ${binary.denoVersion.replaceAll(".", "\\.")} `),
    "this Deno is the build image's",
  );
  assert.ok(
    binary.commands.some((c) => /^deno check\b/.test(c)),
    "the build type-checks, with the default heap",
  );
  const [build] = dockerfileStages();
  const dir = await Deno.makeTempDir({ prefix: "node-heal-image-build-" });
  try {
    const context = `${dir}/src`;
    await Deno.mkdir(context);
    for (const { sources, dest } of build.copies) {
      for (const source of sources) {
        const target = dest.endsWith("/") ? `${context}/${dest}${source}` : `${context}/${dest}`;
        await copy(`${ROOT}${source}`, target);
      }
    }
    for (const run of build.runs) {
      const out = await new Deno.Command("sh", {
        args: ["-c", run],
        cwd: context,
        env: { DENO_DIR: `${dir}/deno-dir`, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      if (out.success) continue;
      assert.ok(
        run === build.runs.at(-1) && stoppedAtRuntimeDownload(stderr),
        `RUN ${run} failed (${out.code}):\n${stderr.slice(-3000)}`,
      );
      // Everything before the runtime's download passed: the type-check, the graph, the npm
      // packages. Say so, since the binary itself could not be made here.
      console.log(`the build stopped at the runtime's download, as it must here: ${run}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function copy(from: string, to: string): Promise<void> {
  const info = await Deno.stat(from);
  if (info.isFile) {
    await Deno.mkdir(to.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.copyFile(from, to);
    return;
  }
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    await copy(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}
