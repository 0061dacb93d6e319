// The defaults of the server's limits, apart from the server: the flags show them in `--help`
// without loading the HTTP server. `docs/limits.md` lists them with their flags.

/** Defaults of the webhook's limits. */
export const SERVER_DEFAULTS = {
  maxBodyBytes: 1024 * 1024,
  requestTimeoutMs: 30_000,
  maxInFlight: 32,
} as const;

/** Defaults of the connection limits. */
export const GUARD_DEFAULTS = {
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxConnections: 1024,
  maxConnectionsPerClient: 64,
} as const;
