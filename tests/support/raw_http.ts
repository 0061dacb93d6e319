// Raw HTTP over TCP, for what an HTTP client cannot express: chunks, trickles, heads that never end.

/**
 * The status line of the next answer on a raw connection; `closed` when the server closed it
 * without one; undefined when nothing came within `limitMs` (the connection is then closed).
 */
export async function statusLine(conn: Deno.Conn, limitMs = 10_000): Promise<string | undefined> {
  const buf = new Uint8Array(8192);
  let text = "";
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, limitMs);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
      if (text.includes("\r\n\r\n")) break;
    }
  } catch {
    // Closed by the deadline, or reset by the server.
  } finally {
    clearTimeout(deadline);
  }
  if (text) return text.split("\r\n")[0];
  return timedOut ? undefined : "closed";
}

/** Closes a connection the server may have closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}
