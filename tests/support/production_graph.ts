// The module graphs of the entry points, held to three rules. The production entry point holds no
// part of the embedded cluster (a dev and test tool). It loads the Kubernetes client library only
// through a dynamic import (90 MB resident; only a kubeconfig node-heal's reader does not serve
// needs it), which `deno compile` still embeds. And imports point only down: a room imports
// only the rooms ROOMS lists for it, so the pipeline reads one way (intake → resolve → decide →
// act → report) and a backtest loads no HTTP server. `deno task check` runs this file; a test
// imports it.

/** The rooms of the code: a folder under `lib/`, the composition root, the entry point. */
export type Room =
  | "base"
  | "intake"
  | "resolve"
  | "decide"
  | "act"
  | "report"
  | "pipeline"
  | "server"
  | "service"
  | "root"
  | "backtest"
  | "embedded"
  | "dev"
  | "main";

const STAGES: Room[] = ["report", "act", "decide", "resolve", "intake", "base"];

/**
 * Which rooms each room may import besides itself: the rooms below it. The stages in the order of
 * the pipeline, each above the ones before it; `pipeline/` composes them for one notification;
 * `server/` is HTTP in front of the pipeline and knows nothing of Kubernetes; `service/` is
 * configuration and watchers, and `root` (service.ts, run.ts) composes it all. The tools on top:
 * `backtest/` replays through the stages without the server or the root; `embedded/` stands on
 * `base/` alone; `dev/` composes the embedded cluster with the service.
 */
export const ROOMS: Record<Room, readonly Room[]> = {
  base: [],
  intake: ["base"],
  resolve: ["intake", "base"],
  decide: ["resolve", "intake", "base"],
  act: ["decide", "resolve", "intake", "base"],
  report: ["act", "decide", "resolve", "intake", "base"],
  pipeline: STAGES,
  server: ["pipeline", "report", "intake", "base"],
  service: ["server", "pipeline", ...STAGES],
  root: ["service", "server", "pipeline", ...STAGES],
  backtest: ["service", "pipeline", ...STAGES],
  embedded: ["base"],
  dev: ["root", "service", "embedded", "decide", "base"],
  main: ["root", "service", "backtest", "base"],
};

/** Files that are a room of their own, by their path from the repository's root. */
const FILE_ROOMS: Record<string, Room> = {
  "main.ts": "main",
  "lib/service/service.ts": "root",
  "lib/service/run.ts": "root",
};

const REPO = new URL("../../", import.meta.url).href;

/** The room of a module, or undefined for one outside the repository (npm, jsr, node:). */
export function roomOf(specifier: string): Room | "unknown" | undefined {
  if (!specifier.startsWith(REPO)) return undefined;
  const path = specifier.slice(REPO.length);
  if (path in FILE_ROOMS) return FILE_ROOMS[path];
  const folder = /^lib\/([^/]+)\//.exec(path)?.[1];
  return folder && folder in ROOMS ? folder as Room : "unknown";
}

/**
 * One import in a graph: `code` when it loads at run time, `type` when only the checker reads it;
 * `isDynamic` for an `import()`, which loads when it runs.
 */
interface Dependency {
  specifier: string;
  code?: { specifier: string };
  type?: { specifier: string };
  isDynamic?: boolean;
}

/** A module graph as `deno info --json` prints it. */
export interface Graph {
  modules: { specifier: string; dependencies?: Dependency[] }[];
}

/** `deno info --json` of an entry point, by its path from the repository's root. */
export async function graphOf(entry: string): Promise<Graph> {
  const path = new URL(entry, REPO).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", path],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`deno info ${path} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as Graph;
}

/** A module's path from the repository's root, for messages. */
function short(specifier: string): string {
  return specifier.startsWith(REPO) ? specifier.slice(REPO.length) : specifier;
}

/** Every import of the graph that points up, as `module → module (why)`; type imports count. */
export function upwardImports(graph: Graph): string[] {
  const found = new Set<string>();
  for (const m of graph.modules) {
    const from = roomOf(m.specifier);
    if (from === undefined) continue;
    if (from === "unknown") {
      found.add(`${short(m.specifier)} is in no room: add its folder to ROOMS`);
      continue;
    }
    for (const d of m.dependencies ?? []) {
      for (const target of [d.code?.specifier, d.type?.specifier]) {
        const to = target === undefined ? undefined : roomOf(target);
        if (to === undefined || to === "unknown" || to === from || ROOMS[from].includes(to)) {
          continue;
        }
        found.add(`${short(m.specifier)} → ${short(target!)} (${from} may not import ${to})`);
      }
    }
  }
  return [...found].sort();
}

/** The modules that load at run time from `entry` on: code imports, static or dynamic. */
export function loadedFrom(graph: Graph, entry: string): string[] {
  return [...reached(graph, entry, true)].map(short).sort();
}

/** The modules `entry`'s code imports reach, followed on; dynamic imports too with `dynamic`. */
function reached(graph: Graph, entry: string, dynamic: boolean): Set<string> {
  const start = new URL(entry, REPO).href;
  const byName = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>([start]);
  const todo = [start];
  while (todo.length > 0) {
    for (const d of byName.get(todo.pop()!)?.dependencies ?? []) {
      const next = d.code?.specifier;
      if (next && (dynamic || !d.isDynamic) && !seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

/** The Kubernetes client library, as `deno info` names it. */
export const CLIENT_LIBRARY = "npm:@kubernetes/client-node";

/**
 * What loads with `entry` itself, before any of its dynamic imports runs: its static code imports,
 * followed on; npm packages by their specifier (`npm:name@version`).
 */
export function staticallyFrom(graph: Graph, entry: string): string[] {
  return [...reached(graph, entry, false)].map(short).sort();
}

/**
 * The commands of `main.ts`: itself and what it imports dynamically (a command's room: the service,
 * its configuration, the backtest), each loaded whole before it runs.
 */
export function commandsOf(graph: Graph): string[] {
  const main = graph.modules.find((m) => m.specifier === new URL("main.ts", REPO).href);
  const dynamic = (main?.dependencies ?? []).filter((d) => d.isDynamic && d.code);
  return ["main.ts", ...dynamic.map((d) => short(d.code!.specifier))];
}

/**
 * What breaks the rule on the client library in `main.ts`'s graph: a command that loads it
 * statically, or no dynamic import of it left (the compiled binary would not embed it).
 */
export function libraryProblems(graph: Graph): string[] {
  const problems: string[] = [];
  for (const command of commandsOf(graph)) {
    const lib = staticallyFrom(graph, command).find((m) => m.startsWith(CLIENT_LIBRARY));
    if (lib) problems.push(`${command} loads the client library statically: ${lib}`);
  }
  if (!loadedFrom(graph, "main.ts").some((m) => m.startsWith(CLIENT_LIBRARY))) {
    problems.push(`main.ts no longer imports ${CLIENT_LIBRARY}: the binary would not embed it`);
  }
  return problems;
}

/** The modules of `main.ts`'s graph under `lib/embedded/`, as `deno info` lists them. */
export async function embeddedInProduction(): Promise<{ modules: string[]; embedded: string[] }> {
  const graph = await graphOf("main.ts");
  const modules = graph.modules.map((m) => m.specifier);
  return { modules, embedded: modules.filter((s) => s.includes("/lib/embedded/")) };
}

/** What breaks the rules in the graphs of `main.ts` and of dev mode, one line each. */
export async function layoutProblems(): Promise<string[]> {
  const main = await graphOf("main.ts");
  const dev = await graphOf("lib/dev/dev_mode.ts");
  const problems = new Set([
    ...upwardImports(main),
    ...upwardImports(dev),
    ...libraryProblems(main),
  ]);
  for (const m of main.modules.filter((m) => m.specifier.includes("/lib/embedded/"))) {
    problems.add(`main.ts pulls in the embedded cluster: ${short(m.specifier)}`);
  }
  // `node-heal backtest` loads lib/backtest/cli.ts alone (main.ts imports it when asked).
  for (const m of loadedFrom(main, "lib/backtest/cli.ts")) {
    if (m.startsWith("lib/server/")) problems.add(`node-heal backtest loads the server: ${m}`);
  }
  return [...problems].sort();
}

if (import.meta.main) {
  const problems = await layoutProblems();
  if (problems.length > 0) {
    console.error(`The module graphs break the layout's rules:\n  ${problems.join("\n  ")}`);
    Deno.exit(1);
  }
  console.log(
    "main.ts and lib/dev/dev_mode.ts: imports point only down; no embedded cluster in " +
      "production; the client library loaded only when a kubeconfig needs it; the backtest " +
      "loads no server",
  );
}
