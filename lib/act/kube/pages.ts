// A list read page by page, each page's answer bounded in bytes: a page too large to read (Nodes or
// Pods fattened by whoever can write them) is asked for again with half as many items, down to
// one, instead of failing the list for ever or holding what the heap cannot.
import { AnswerTooLarge } from "../../base/bounded_read.ts";
import { clip } from "../../base/clip.ts";

/**
 * The largest page answer read, in bytes (docs/limits.md): parsed, a page costs several times its
 * size (a 32 MB page of fattened Nodes took the process from 136 to 307 MB, near its 384Mi limit);
 * past it, fewer items a page.
 */
export const MAX_PAGE_BYTES = 8 * 1024 * 1024;

/** One page of a list, as the API server answers it. */
export interface Page<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** Asks for one page: at most `limit` items, from `token` (none: the first page). */
export type PageRequest<T> = (limit: number, token: string | undefined) => Promise<Page<T>>;

/**
 * Reads every page, giving each one's items to `each` as it arrives; returns the last page's
 * resourceVersion. A page over its byte bound ({@link AnswerTooLarge}) is asked for again with half
 * the items; the limit goes back up by doubling once pages fit. A list that repeats its continue
 * token fails instead of looping. `stopped` ends the reading between pages.
 */
export async function eachPage<T>(
  request: PageRequest<T>,
  options: { limit: number; each: (items: T[]) => void; stopped?: () => boolean },
): Promise<string | undefined> {
  let limit = options.limit;
  let token: string | undefined;
  let version: string | undefined;
  while (true) {
    let page: Page<T>;
    try {
      page = await request(limit, token);
    } catch (err) {
      if (!tooLarge(err) || limit === 1) throw err;
      limit = Math.max(1, Math.floor(limit / 2));
      continue;
    }
    options.each(page.items ?? []);
    version = page.metadata?.resourceVersion;
    const next = page.metadata?.continue || undefined;
    // The same page again and again would be a list that never ends, asked for back to back.
    if (next !== undefined && next === token) {
      throw new Error(`the list's continue token "${clip(next, 40)}" repeats`);
    }
    token = next;
    limit = Math.min(options.limit, limit * 2);
    if (!token || options.stopped?.()) return version;
  }
}

/** Whether an error is, or was caused by, an answer over its byte bound. */
function tooLarge(err: unknown): boolean {
  return err instanceof AnswerTooLarge ||
    (err instanceof Error && err.cause instanceof AnswerTooLarge);
}
