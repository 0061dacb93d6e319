// node-heal as the image runs it: `main.ts serve` with exactly the permissions and V8 flags the
// Dockerfile's `deno compile` embeds (tests/support/shipped.ts), the environment a Deployment gives it
// and nothing of this machine's, HOME=/home/nonroot, working directory `/`, and the files a pod
// mounts at the very paths the docs name. Those paths are made in a mount namespace of the
// process's own (`unshare`): each of /etc, /var and /home is overlaid, read-only as the image's
// root file system is, by a folder of the test's, so that nothing on this machine is written and a
// path the permissions leave out fails here as it fails in a pod.
import { shippedBinary } from "../support/shipped.ts";
import { logLines } from "../support/processes.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The tops under which a test may place files: each is overlaid when the test gives any. */
const TOPS = ["etc", "var", "home"];

const MOUNT_AND_RUN = `set -e
root="$1"; shift
for top in ${TOPS.join(" ")}; do
  if [ -d "$root/$top" ]; then mount -t overlay overlay -o "lowerdir=$root/$top:/$top" "/$top"; fi
done
cd /
exec "$@"`;

function unshareArgs(root: string, command: string[]): string[] {
  return [
    "--user",
    "--map-root-user",
    "--mount",
    "sh",
    "-c",
    MOUNT_AND_RUN,
    "sh",
    root,
    ...command,
  ];
}

/** Why the sandbox cannot run here (no `unshare`, no user namespaces or overlays), or undefined. */
export async function sandboxMissing(): Promise<string | undefined> {
  const root = await Deno.makeTempDir({ prefix: "node-heal-sandbox-probe-" });
  try {
    await Deno.mkdir(`${root}/etc/node-heal-probe`, { recursive: true });
    await Deno.writeTextFile(`${root}/etc/node-heal-probe/x`, "ok");
    const out = await new Deno.Command("unshare", {
      args: unshareArgs(root, ["cat", "/etc/node-heal-probe/x"]),
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (new TextDecoder().decode(out.stdout) === "ok") return undefined;
    return `unshare could not overlay /etc: ${new TextDecoder().decode(out.stderr).trim()}`;
  } catch (e) {
    return `unshare does not run: ${(e as Error).message}`;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Files to place, by absolute path; a file given as `{ link }` is a symbolic link. */
export type Files = Record<string, string | { link: string }>;

/**
 * A mounted ConfigMap's or Secret's files as the kubelet writes them: each key a link to
 * `..data/KEY`, `..data` a link to a timestamped folder that holds the data (an update swaps it).
 */
export function projected(
  dir: string,
  data: Record<string, string>,
  stamp = "..2026_12_07_1",
): Files {
  const files: Files = { [`${dir}/..data`]: { link: stamp } };
  for (const [key, value] of Object.entries(data)) {
    files[`${dir}/${stamp}/${key}`] = value;
    files[`${dir}/${key}`] = { link: `..data/${key}` };
  }
  return files;
}

/** Writes `files` under `root`, each absolute path rebased there. */
export async function place(root: string, files: Files): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const top = path.split("/")[1];
    if (!TOPS.includes(top)) throw new Error(`${path}: the sandbox overlays only ${TOPS}`);
    const at = `${root}${path}`;
    await Deno.mkdir(at.replace(/\/[^/]+$/, ""), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(at, content);
    else {
      await Deno.remove(at).catch(() => {});
      await Deno.symlink(content.link, at);
    }
  }
}

/**
 * Starts `main.ts serve` with the binary's flags, inside the sandbox whose files are under `root`,
 * with `env` as its whole environment beside HOME and PATH (the container's); its JSON log lines
 * come as they are written.
 */
export function startShipped(root: string, env: Record<string, string>, args: string[]) {
  const binary = shippedBinary();
  const denoDir = Deno.env.get("DENO_DIR");
  const child = new Deno.Command("unshare", {
    args: unshareArgs(root, [
      Deno.execPath(),
      "run",
      `--config=${ROOT}deno.json`,
      ...binary.permissions,
      binary.v8Flags,
      `${ROOT}${binary.entrypoint}`,
      "serve",
      "--log-format=json",
      ...args,
    ]),
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: "/home/nonroot",
      // Deno's own module cache (never read through the program's permissions): HOME moved away.
      DENO_DIR: denoDir ?? `${Deno.env.get("HOME")}/.cache/deno`,
      NO_COLOR: "1",
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, out: logLines(child.stdout), stderr: new Response(child.stderr).text() };
}
