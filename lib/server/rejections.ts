import { log } from "../base/log.ts";

/** How long a reason stays quiet after it was logged: later rejections for it are counted. */
export const REJECTION_LOG_WINDOW_MS = 10_000;

/** Reasons remembered at once: a client varying its requests cannot grow the map without bound. */
const MAX_REASONS = 64;

/** Options of {@link RejectionLog}. */
export interface RejectionLogOptions {
  /** Milliseconds now (tests give a fake). */
  now?: () => number;
  windowMs?: number;
}

/**
 * Logs rejected webhook requests at warning, at most one line per reason per window: a
 * misconfigured Alertmanager (wrong token, wrong content type) retries every few seconds, and one
 * line with a count says as much as a hundred. A reason is the status and the message's head
 * (up to its first colon), so "401 Unauthorized" is one reason whatever the token sent.
 */
export class RejectionLog {
  #last = new Map<string, { at: number; suppressed: number }>();
  #now: () => number;
  #windowMs: number;

  constructor(options: RejectionLogOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#windowMs = options.windowMs ?? REJECTION_LOG_WINDOW_MS;
  }

  /** Tells of one rejected request; logs it unless its reason was logged within the window. */
  rejected(request: { method: string; path: string }, status: number, message: string): void {
    const reason = `${status} ${message.split(":")[0].slice(0, 80)}`;
    const now = this.#now();
    const last = this.#last.get(reason);
    if (last && now - last.at < this.#windowMs) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.#last.delete(reason);
    if (this.#last.size >= MAX_REASONS) this.#last.delete(this.#last.keys().next().value!);
    this.#last.set(reason, { at: now, suppressed: 0 });
    log("server").warn(
      "Rejected {method} {path} with {status}: {error}" +
        (suppressed > 0 ? " ({suppressed} more like it since the last line)" : ""),
      { method: request.method, path: request.path, status, reason, error: message, suppressed },
    );
  }
}
