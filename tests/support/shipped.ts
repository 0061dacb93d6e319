// What ships, read from the files that ship it: the Dockerfile's build stage and the `deno task`
// it runs. Tests start node-heal with what these return, never with a restatement of them, so that
// a change to the image's flags or permissions is a change to what the tests run.

const ROOT = new URL("../../", import.meta.url);

/** A stage of the Dockerfile: its base image, working directory, COPY and RUN instructions. */
export interface Stage {
  from: string;
  workdir: string;
  /** COPY instructions without `--from`: sources (relative to the context) and destination. */
  copies: { sources: string[]; dest: string }[];
  /** RUN instructions in the shell form, continuation lines joined. */
  runs: string[];
  user?: string;
}

/** The Dockerfile's stages, in order. */
export function dockerfileStages(text = Deno.readTextFileSync(new URL("Dockerfile", ROOT))) {
  const stages: Stage[] = [];
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim());
  for (const line of lines) {
    if (line === "" || line.startsWith("#")) continue;
    const [, instruction, rest] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    const stage = stages.at(-1);
    switch (instruction?.toUpperCase()) {
      case "FROM":
        stages.push({ from: rest.split(/\s+/)[0], workdir: "/", copies: [], runs: [] });
        break;
      case "WORKDIR":
        stage!.workdir = rest;
        break;
      case "COPY": {
        if (rest.startsWith("--from")) break;
        const words = rest.split(/\s+/);
        stage!.copies.push({ sources: words.slice(0, -1), dest: words.at(-1)! });
        break;
      }
      case "RUN":
        stage!.runs.push(rest.replace(/\s+/g, " "));
        break;
      case "USER":
        stage!.user = rest;
        break;
    }
  }
  return stages;
}

/** The shell commands a `&&` list runs, one `deno task` expanded into its own (deno.json). */
function expand(command: string, tasks: Record<string, string>): string[] {
  return command.split("&&").map((c) => c.trim()).flatMap((c) => {
    const task = /^deno task (\S+)$/.exec(c)?.[1];
    if (task === undefined) return [c];
    if (!(task in tasks)) {
      throw new Error(`the Dockerfile runs deno task ${task}: not in deno.json`);
    }
    return expand(tasks[task], tasks);
  });
}

/** The binary as the Dockerfile builds it: the `deno compile` its build stage runs, read apart. */
export interface ShippedBinary {
  /** Deno's version in the build stage's image (`denoland/deno:VERSION`). */
  denoVersion: string;
  /** Every command the build stage runs, `deno task`s expanded. */
  commands: string[];
  /** The `--allow-*` and `--deny-*` flags `deno compile` embeds, as written. */
  permissions: string[];
  /** The `--v8-flags=…` flag `deno compile` embeds. */
  v8Flags: string;
  /** The arguments `deno compile` embeds before the user's (`CMD`'s), if any. */
  entrypoint: string;
}

export function shippedBinary(): ShippedBinary {
  const [build] = dockerfileStages();
  const tasks = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))).tasks;
  const commands = build.runs.flatMap((run) => expand(run, tasks));
  const compiles = commands.filter((c) => c.startsWith("deno compile "));
  if (compiles.length !== 1) throw new Error(`the build runs ${compiles.length} deno compile`);
  const words = compiles[0].split(/\s+/).slice(2);
  const v8Flags = words.filter((w) => w.startsWith("--v8-flags="));
  if (v8Flags.length !== 1) throw new Error("deno compile embeds no --v8-flags");
  const entrypoint = words.find((w) => !w.startsWith("-") && w.endsWith(".ts"));
  if (!entrypoint) throw new Error("deno compile names no entry point");
  return {
    denoVersion: /^denoland\/deno:([\d.]+)/.exec(build.from)?.[1] ?? "",
    commands,
    permissions: words.filter((w) => /^--(allow|deny)-/.test(w) || w === "-A"),
    v8Flags: v8Flags[0],
    entrypoint,
  };
}
