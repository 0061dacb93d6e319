// A large answer for a fake server to give, made only as it is read (the fake never holds it):
// what a test of a bounded read sends at node-heal, counting what was pulled from it.

/** What a {@link streamedBody} was read of: bytes pulled, and how many bodies were read to the end. */
export interface Pulled {
  pulled: number;
  finished: number;
}

/**
 * A body of `bytes` bytes, `prefix` first and then `fill` (a byte value), made 64 KiB at a time as
 * it is read; `counts` (shared across bodies, if given) counts what was.
 */
export function streamedBody(
  bytes: number,
  options: { prefix?: string; fill?: number; counts?: Pulled } = {},
): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).fill(options.fill ?? 0x61);
  let first = options.prefix ? new TextEncoder().encode(options.prefix) : undefined;
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes) {
        if (options.counts) options.counts.finished++;
        controller.close();
        return;
      }
      const next = first ?? chunk;
      first = undefined;
      const n = Math.min(next.byteLength, bytes - sent);
      sent += n;
      if (options.counts) options.counts.pulled += n;
      controller.enqueue(n === next.byteLength ? next : next.subarray(0, n));
    },
  }, { highWaterMark: 0 });
}
