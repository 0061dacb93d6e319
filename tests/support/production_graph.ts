// The production entry point's module graph must hold no part of the embedded cluster (it is a
// dev and test tool). `deno task check` runs this file; a test imports it.

/** The modules of `main.ts`'s graph under `lib/embedded/`, as `deno info` lists them. */
export async function embeddedInProduction(): Promise<{ modules: string[]; embedded: string[] }> {
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", main],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`deno info ${main} failed`);
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const modules = graph.modules.map((m) => m.specifier);
  return { modules, embedded: modules.filter((s) => s.includes("/lib/embedded/")) };
}

if (import.meta.main) {
  const { embedded } = await embeddedInProduction();
  if (embedded.length > 0) {
    console.error(`main.ts pulls in the embedded cluster:\n  ${embedded.join("\n  ")}`);
    Deno.exit(1);
  }
  console.log("main.ts: no module under lib/embedded/ in the production graph");
}
