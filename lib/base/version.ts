/**
 * node-heal's version: the one place it is written. `--version`, `nodeheal_build_info`, the
 * Deployment's image tag, the kustomization's `images:` entry and CHANGELOG.md's top entry must
 * say the same (tests/repo/version_test.ts checks them all against this).
 */
export const VERSION = "0.13.1";

/** The `--version` line: node-heal's version and the Deno runtime it runs on. */
export function versionLine(): string {
  return `node-heal ${VERSION} (deno ${Deno.version.deno})`;
}

/** Whether a command line asks for the version: `-v` or `--version`, before any `--`. */
export function asksVersion(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === "-v" || a === "--version");
}
