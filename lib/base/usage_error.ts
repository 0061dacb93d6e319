// A usage error: what the command line, or a file it names, says is wrong, in one line that names
// what to change. Every command exits 2 on one (and 1 on anything else: a file that cannot be read,
// a cluster that cannot be reached).
import { clip } from "./clip.ts";

/** Characters of a usage error's line, at most. */
const LINE_MAX = 1000;

/**
 * An error in what the user gave (a flag, a policy, an address in use): exit code 2. Its name stays
 * "Error": what it says is the message, and how it ends is the exit code.
 */
export class UsageError extends Error {}

/** The exit code of a command that ended on `err`: 2 for a usage error, else 1. */
export function exitCodeOf(err: unknown): 1 | 2 {
  return err instanceof UsageError ? 2 : 1;
}

/**
 * `err`'s message as one line for stderr, after `prefix`: control characters shown as spaces,
 * clipped (a flag's value is printed back, and it can be anything).
 */
export function errorLine(prefix: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `${prefix}: ${clip(message.replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, " "), LINE_MAX)}`;
}
