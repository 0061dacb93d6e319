// The values flags take: an address, a duration, a count. Apart from config.ts so that the
// backtest's flags parse the same way without loading the service's configuration.
import { durationMs, formatDuration } from "../base/duration.ts";
import { UsageError } from "../base/usage_error.ts";

/** Splits `HOST:PORT` (or `[IPv6]:PORT`) and checks both parts. */
export function parseListen(value: string, flag: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new UsageError(
      `Cannot parse --${flag}: expected HOST:PORT such as 127.0.0.1:8000, got "${value}"`,
    );
  }
  return { hostname: m[1] ?? m[2], port };
}

/**
 * The longest timeout a flag may set. A timer waits at most 2^31-1 ms (24.8 days); a longer one
 * fires at once, so every request or API call would time out.
 */
export const MAX_TIMEOUT_MS = 24 * 3_600_000;

/** Parses a duration such as `500ms`, `90s`, `5m`, `4h` into milliseconds, at most `maxMs`. */
export function parseDuration(value: string, flag: string, maxMs = Infinity): number {
  const ms = durationMs(value);
  if (ms === undefined || !(ms > 0) || ms > maxMs) {
    const most = maxMs < Infinity ? ` (at most ${formatDuration(maxMs)})` : "";
    throw new UsageError(
      `Cannot parse --${flag}: expected a duration such as 90s, 5m or 4h${most}, got "${value}"`,
    );
  }
  return ms;
}

/** Parses a whole number from `min` to `max` given to `--flag`. */
export function parseCount(value: string, flag: string, range: { min: number; max: number }) {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < range.min || n > range.max) {
    throw new UsageError(
      `Cannot parse --${flag}: expected a whole number from ${range.min} to ${range.max}, got "${value}"`,
    );
  }
  return n;
}
