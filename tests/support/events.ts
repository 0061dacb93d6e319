// Waiting for Kubernetes Events, which node-heal writes behind the action: the webhook answers
// (and the Node is written) before its Event is. One deadline for every test that reads them.
import { waitFor } from "./wait.ts";

/** How long a test waits for Events written behind the action. */
export const EVENT_DEADLINE_MS = 10_000;

/**
 * Reads with `read` until `ok` holds of what it read (failing after {@link EVENT_DEADLINE_MS});
 * with `stayMs`, reads again after that long and requires `ok` still to hold (an "exactly N" that
 * must not grow). Resolves with the last read.
 */
export async function eventsUntil<T>(
  what: string,
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  options: { stayMs?: number } = {},
): Promise<T> {
  const first = await waitFor(what, async () => {
    const value = await read();
    return ok(value) ? { value } : undefined;
  }, EVENT_DEADLINE_MS);
  if (!options.stayMs) return first.value;
  await new Promise((r) => setTimeout(r, options.stayMs));
  const later = await read();
  if (!ok(later)) throw new Error(`${what}: held, then changed within ${options.stayMs} ms`);
  return later;
}

/** The metrics text of node-heal at `url` once it matches every one of `patterns`. */
export function metricsUntil(url: string, ...patterns: RegExp[]): Promise<string> {
  return eventsUntil(
    `/metrics to match ${patterns.join(", ")}`,
    async () => await (await fetch(`${url}/metrics`)).text(),
    (text) => patterns.every((p) => p.test(text)),
  );
}
