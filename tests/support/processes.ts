// node-heal as real processes for tests: `main.ts serve` with the permissions of `deno task serve`,
// its JSON log lines as they come, and its stop.
import { UNHANDLED_LINE } from "../../lib/base/background.ts";
import { shippedBinary } from "./shipped.ts";
import { waitFor } from "./wait.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DEV = new URL("../../lib/dev/dev_mode.ts", import.meta.url).pathname;

const CLUSTER = new URL("../../lib/dev/cluster_mode.ts", import.meta.url).pathname;

/** The `deno run` arguments of cluster mode with `deno task cluster`'s permissions, writing only under `dir`. */
export function clusterModeArgs(dir: string, args: string[]): string[] {
  return [
    "run",
    "--allow-net=127.0.0.1,localhost",
    "--allow-read",
    `--allow-write=${dir}`,
    "--allow-env",
    CLUSTER,
    ...args,
  ];
}

/**
 * The V8 heap flags of the shipped binary (the Dockerfile's `deno compile`, tests/support/shipped.ts): a
 * test of a bound runs under the heap users run, where an unbounded read fails as it would for them.
 */
export const PRODUCTION_V8_FLAGS = shippedBinary().v8Flags;

/** The `deno run` arguments of `main.ts serve ARGS` with the permissions and heap of `deno task serve`. */
export function serveArgs(args: string[]): string[] {
  return [
    "run",
    PRODUCTION_V8_FLAGS,
    "--allow-net",
    "--allow-read",
    "--allow-env",
    MAIN,
    "serve",
    ...args,
  ];
}

/**
 * The `deno run` arguments of `main.ts backtest ARGS` with `deno task backtest`'s permissions,
 * writing only under `writable` when given.
 */
export function backtestArgs(args: string[], writable?: string): string[] {
  const write = writable ? `--allow-write=${writable}` : "--allow-write";
  return ["run", "--allow-net", "--allow-read", write, "--allow-env", MAIN, "backtest", ...args];
}

/** Starts `main.ts serve` with the permissions and heap of `deno task serve`. */
export function startServe(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: serveArgs(args),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * Starts dev mode (`deno task dev`'s entry point) on free loopback ports with JSON logs, and these
 * flags; watched, so that {@link readyReplica} gives its URL and {@link stop} ends it.
 */
export function startDev(args: string[]) {
  return watched(
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        DEV,
        "--listen=127.0.0.1:0",
        "--embedded-api-listen=127.0.0.1:0",
        "--log-format=json",
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
  );
}

/** Reads JSON log lines from a stream as they come, so a test can wait for one. */
export function logLines(stream: ReadableStream<Uint8Array>) {
  const records: Record<string, unknown>[] = [];
  const done = (async () => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const line of lines) if (line.trim()) records.push(JSON.parse(line));
    }
  })();
  return { records, done };
}

/** A started process, its JSON log lines and its stderr. */
export function watched(child: Deno.ChildProcess) {
  return { child, out: logLines(child.stdout), stderr: new Response(child.stderr).text() };
}

/** Sends SIGTERM (if still running) and returns the exit code, with stderr for a failure message. */
export async function stop(p: ReturnType<typeof watched>) {
  try {
    p.child.kill("SIGTERM");
  } catch {
    // It has already exited.
  }
  const status = await p.child.status;
  await p.out.done;
  const stderr = await p.stderr;
  assertNoUnhandled(p.out.records, stderr);
  return { code: status.code, stderr };
}

/**
 * Fails when a node-heal process logged a rejection nobody handled or an error nobody caught (its
 * process-wide handler's line, lib/base/background.ts; error lines go to stderr), or Deno printed one
 * as it ended the process: each is a bug, even where the process went on.
 */
export function assertNoUnhandled(records: Record<string, unknown>[], stderr: string): void {
  const lines = stderr.split("\n").filter((l) => l.trim());
  const bad = [
    ...records.filter(unhandled).map((r) => JSON.stringify(r)),
    ...lines.filter((l) => l.includes("Uncaught") || unhandled(parsed(l))),
  ];
  if (bad.length === 0) return;
  throw new Error(`The process had unhandled errors: ${bad.join("\n").slice(0, 4000)}`);
}

function unhandled(r: Record<string, unknown> | undefined): boolean {
  return String(r?.level).toLowerCase() === "error" &&
    String(r?.message).startsWith(UNHANDLED_LINE);
}

function parsed(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** Waits for a replica's start-up line and its readiness; returns its URL. */
export async function readyReplica(p: ReturnType<typeof watched>): Promise<string> {
  const started = await waitFor(
    "the start-up line",
    () => p.out.records.find((r) => String(r.message).includes("listening on")),
    15_000,
  );
  const url = (started.properties as { url: string }).url;
  await waitFor("readiness", async () => {
    const r = await fetch(`${url}/readyz`);
    await r.body?.cancel();
    return r.ok;
  }, 15_000);
  return url;
}

/** A process's resident memory in MiB, from `ps` (what the kubelet's memory limit counts). */
export async function rssMiB(pid: number): Promise<number> {
  const ps = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  return Number(new TextDecoder().decode(ps.stdout).trim()) / 1024;
}

/** A loopback port nobody listens on now (the next listener may take it; the tests accept that). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Runs a tool to its end: its success and output; undefined when it is not installed. */
export async function runTool(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; out: string; stdout: string } | undefined> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const stdout = new TextDecoder().decode(o.stdout);
    return { ok: o.success, out: stdout + new TextDecoder().decode(o.stderr), stdout };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** Whether a tool is installed; when not, says which tests skip and how to install it. */
export async function hasTool(cmd: string, hint: string): Promise<boolean> {
  const found = (await runTool(cmd, ["--version"])) !== undefined;
  if (!found) console.warn(`SKIPPED: ${cmd} is not on PATH (${hint})`);
  return found;
}
