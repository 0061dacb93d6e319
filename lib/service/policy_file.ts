// Reading the policy file (`--config`, a ConfigMap mount) within its byte bound: a file larger than
// POLICY_LIMITS.bytes is refused after reading at most that many bytes and one more, whatever its
// size says (a 50 MB file ran the 192 MB heap out before it was ever parsed).
import { readFileWithin, whyUnreadable } from "../base/bounded_read.ts";
import { POLICY_LIMITS } from "../decide/policy_yaml.ts";
import { PolicyRefused } from "../decide/policy_refusal.ts";
import { parsePolicy, type Policy } from "../decide/policy.ts";

/** The refusal of a file past the bound; its size, when its stat knew it, tells two edits apart. */
function tooLarge(path: string, size?: number): PolicyRefused {
  const declared = size !== undefined && size > POLICY_LIMITS.bytes ? ` (${size} bytes)` : "";
  return new PolicyRefused(
    `Cannot load policy ${path}: it is larger than ${POLICY_LIMITS.bytes} bytes${declared}; it was not read`,
  );
}

function decode(bytes: Uint8Array, path: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new PolicyRefused(`Cannot load policy ${path}: it is not UTF-8 text`);
  }
}

/** The policy file's text, read at start-up; throws {@link PolicyRefused} past the bound. */
export function readPolicyFileSync(path: string): string {
  const limit = POLICY_LIMITS.bytes;
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(path);
    const declared = file.statSync().size;
    if (declared > limit) throw tooLarge(path, declared);
    const buf = new Uint8Array(limit + 1);
    let size = 0;
    while (size < buf.length) {
      const n = file.readSync(buf.subarray(size));
      if (n === null) break;
      size += n;
    }
    if (size > limit) throw tooLarge(path);
    return decode(buf.subarray(0, size), path);
  } catch (err) {
    if (err instanceof PolicyRefused) throw err;
    throw new Error(`Cannot load policy ${path}: ${whyUnreadable(err)}`);
  } finally {
    file?.close();
  }
}

/** The policy file's text, read again at a reload; throws {@link PolicyRefused} past the bound. */
export async function readPolicyFile(path: string): Promise<string> {
  const { bytes, cut, size } = await readFileWithin(path, POLICY_LIMITS.bytes);
  if (cut) throw tooLarge(path, size);
  return decode(bytes, path);
}

/**
 * Reads (within its byte bound) and validates a policy file; throws naming the file, the field and
 * what was expected: {@link PolicyRefused} for what the file says, an Error when it cannot be read.
 */
export function loadPolicy(path: string): Policy {
  return parsePolicy(readPolicyFileSync(path), `policy ${path}`);
}
