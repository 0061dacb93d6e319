// An address a flag gives that something else already listens on: a usage error that names the
// address and the flag, so the user knows what to change ("Address already in use" names neither).
import { UsageError } from "../base/usage_error.ts";

/** An address to listen on, as `--listen` and `--embedded-api-listen` give one. */
export interface ListenAddr {
  hostname: string;
  port: number;
}

/** The error of an address in use: it names the address, the flag and what may hold it. */
export function inUse(addr: ListenAddr, flag: string, holder: string): UsageError {
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return new UsageError(
    `--${flag} ${host}:${addr.port} is in use (${holder}?): stop it, or give --${flag} a free address`,
  );
}

/** Runs `start`, turning "address in use" into {@link inUse}'s error for this address and flag. */
export async function bound<T>(
  start: () => Promise<T>,
  at: { addr: ListenAddr; flag: string; holder: string },
): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) throw inUse(at.addr, at.flag, at.holder);
    throw err;
  }
}

/**
 * Fails at once, with {@link inUse}'s error, when the address is taken: the webhook binds last,
 * once the service has synced, too late to fail before anything else started.
 */
export async function checkFree(
  at: { addr: ListenAddr; flag: string; holder: string },
): Promise<void> {
  if (at.addr.port === 0) return;
  await bound(() => Promise.resolve(Deno.listen(at.addr).close()), at);
}
