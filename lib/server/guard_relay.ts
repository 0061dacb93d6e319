// The two halves of a relayed connection: the client's bytes to the server, counted against the
// request limits, and the server's back to the client. The guard (`guard.ts`) owns the limits'
// timers and the ends of connections; the relay asks for them through {@link RelayHooks}.
import { sleep } from "../base/timing.ts";
import {
  BAD_FRAMING,
  type ClosedAt,
  type Connection,
  countSent,
  type Phase,
  TOO_LARGE,
  writeAll,
} from "./guard_connection.ts";

/** How long a head the client stopped sending may wait for its request to start. */
export const HEAD_GRACE_MS = 1000;

/** What a relay asks of the guard that owns its connection. */
export interface RelayHooks {
  /** Whether the guard still serves (not shutting down). */
  accepting(): boolean;
  /** Bytes one request may send. */
  maxRequestBytes(): number;
  /** Enters a phase, with its limit's timer. */
  arm(c: Connection, phase: Phase): void;
  /** Ends the connection now. */
  end(c: Connection): void;
  /** Closes the connection at a limit, what was written to it still delivered. */
  closeAt(c: Connection, limit: ClosedAt): void;
}

/** A connection being relayed: the client's side (decrypted, with TLS) and the server's. */
export interface Relayed {
  c: Connection;
  client: Deno.Conn;
  back: Deno.Conn;
}

/**
 * Relays the client's bytes to the server, counting them; true once the server was told the
 * client is done.
 */
export async function relayUp(
  guard: RelayHooks,
  { c, client, back }: Relayed,
): Promise<boolean | undefined> {
  const buf = new Uint8Array(4096);
  for (;;) {
    let n: number | null;
    try {
      n = await client.read(buf);
    } catch {
      // Reset by the client: it is gone, whatever was pending.
      guard.end(c);
      return;
    }
    if (n === null) break;
    // The first bytes after an idle spell start the next request's head.
    if (c.phase === "idle") guard.arm(c, "head");
    const bytes = buf.subarray(0, n);
    const over = countSent(c, bytes, guard.maxRequestBytes());
    if (over) {
      if (over === "body" && !c.h2) await writeAll(client, TOO_LARGE).catch(() => {});
      guard.closeAt(c, over);
      return;
    }
    // Nearly always written whole at once: the rest, if any, in a second step.
    const written = await back.write(bytes);
    if (written < n) await writeAll(back, bytes.subarray(written));
  }
  // A half-closed client still gets its answer: the server sees the end only once
  // nothing is pending (it would drop a connection that ends under a request).
  c.clientDone = true;
  if (c.active > 0) return false;
  if (c.phase === "head" && c.sent > 0) {
    // A head the server has not started a request for: give it a moment (a complete
    // one starts at once), then let the server see the end of an incomplete one.
    await sleep(HEAD_GRACE_MS);
    if (c.active > 0 || c.phase !== "head") return false;
  }
  await back.closeWrite();
  return true;
}

/** Relays the server's bytes to the client, until the server closes its side. */
export async function relayDown(
  guard: RelayHooks,
  { c, client, back }: Relayed,
): Promise<void> {
  const buf = new Uint8Array(16_384);
  for (;;) {
    const n = await back.read(buf);
    if (n === null) break;
    c.quiet = false;
    const bytes = buf.subarray(0, n);
    c.h2?.server(bytes);
    const written = await client.write(bytes);
    if (written < n) await writeAll(client, bytes.subarray(written));
  }
  // The server dropped a request it had not answered, while node-heal still serves: its
  // framing was invalid (a 400 for the client, rather than a closed connection to retry).
  const pending = c.phase === "request" || (c.phase === "head" && c.sent > 0);
  if (guard.accepting() && pending && c.quiet && !c.h2 && !c.clientDone && !c.closed) {
    await writeAll(client, BAD_FRAMING).catch(() => {});
    guard.closeAt(c, "framing");
  }
}
