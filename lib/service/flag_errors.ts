// Why a command line's flags cannot be parsed, in one line that names what to change: the unknown
// flag (clipped: it is whatever was typed) and the flag nearest to it, or where a flag of another
// command belongs.
import { clip } from "../base/clip.ts";
import { nearest } from "../base/nearest.ts";
import { UsageError } from "../base/usage_error.ts";
import { FLAGS, flagsOf, type Mode } from "./flags.ts";

/** Where a flag node-heal has, but `mode` does not take, belongs; undefined when it has none. */
function belongs(name: string, mode: Mode): string | undefined {
  if (!(name in FLAGS)) return undefined;
  if (mode === "cluster") {
    const to = FLAGS[name].devOnly
      ? "deno task dev"
      : "deno task serve --kubeconfig .dev/kubeconfig (or deno task dev)";
    return `--${name} is node-heal's, not the cluster's: deno task cluster runs the embedded API ` +
      `server alone; give --${name} to ${to}`;
  }
  if (mode === "serve" && FLAGS[name].devOnly) {
    return `Unknown option '--${name}': it is dev mode's, for its embedded cluster (deno task dev)`;
  }
  return undefined;
}

/** The usage error of `parseArgs`'s `message` for `mode`'s flags. */
export function flagError(message: string, mode: Mode): UsageError {
  const unknown = /^Unknown option '(-{1,2})([^'=]*)/.exec(message);
  if (!unknown) return new UsageError(`Cannot parse flags: ${clip(message, 300)}`);
  const [, dashes, name] = unknown;
  const elsewhere = dashes === "--" ? belongs(name, mode) : undefined;
  if (elsewhere) return new UsageError(`Cannot parse flags: ${elsewhere}`);
  const near = nearest(name, flagsOf(mode).map(([n]) => n));
  return new UsageError(
    `Cannot parse flags: Unknown option '${clip(dashes + name, 60)}'${
      near ? `; did you mean --${near}?` : ""
    }`,
  );
}
