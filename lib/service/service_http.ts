// The service's HTTP side: the public listener is the connection guard, which ends TLS; the HTTP
// server behind it listens on loopback only.
import type { Background } from "../base/background.ts";
import type { Metrics } from "../report/metrics.ts";
import { startGuard } from "../server/guard.ts";
import { GUARD_DEFAULTS, SERVER_DEFAULTS } from "../server/limits.ts";
import { createHandler, type ServerDeps } from "../server/server.ts";
import type { ServiceConfig } from "./service_config.ts";

/** What the handler reads from the running service. */
export type HttpParts = Pick<ServerDeps, "handle" | "ready" | "status"> & {
  metrics: Metrics;
  background: Background;
};

/** A running HTTP side. */
export interface Http {
  /** Webhook base URL, such as `http://127.0.0.1:8000`. */
  url: string;
  /**
   * The HTTP server behind the guard, on loopback, which no limit of the guard covers: for the
   * bench, to tell what the guard costs (`noop_relay_cost`).
   */
  innerUrl: string;
  /** Stops accepting, answers bodies still arriving 503, and lets in-flight requests finish. */
  close(): Promise<void>;
}

/** Starts the guard and the HTTP server behind it. */
export async function startHttp(config: ServiceConfig, parts: HttpParts): Promise<Http> {
  const closing = new AbortController();
  const handler = createHandler({
    closing: closing.signal,
    handle: parts.handle,
    metrics: parts.metrics,
    credentials: config.credentials,
    statusAuth: config.statusAuth,
    requestTimeoutMs: config.requestTimeoutMs,
    maxBodyBytes: config.maxBodyBytes,
    maxInFlight: config.maxInFlight,
    ready: parts.ready,
    status: parts.status,
  });
  const guard = startGuard({
    listen: config.listen,
    tls: config.tls,
    headerTimeoutMs: config.headerTimeoutMs ?? GUARD_DEFAULTS.headerTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs ?? GUARD_DEFAULTS.idleTimeoutMs,
    maxConnections: config.maxConnections ?? GUARD_DEFAULTS.maxConnections,
    maxConnectionsPerClient: config.maxConnectionsPerClient ??
      GUARD_DEFAULTS.maxConnectionsPerClient,
    requestTimeoutMs: config.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs,
    // Twice the body limit, and room for chunk framing: the server reads bodies whole.
    maxRequestBytes: 2 * (config.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes) + 65_536,
    closed: (limit) => parts.metrics.connectionsClosed.inc({ limit }),
    background: parts.background,
  });
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => resolve(addr as Deno.NetAddr),
  }, guard.wrap(handler));
  const inner = await listening;
  guard.forward(inner.port);
  const addr = guard.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `${config.tls ? "https" : "http"}://${host}:${addr.port}`,
    innerUrl: `http://127.0.0.1:${inner.port}`,
    async close() {
      guard.stopAccepting();
      closing.abort();
      await server.shutdown();
      await guard.close();
    },
  };
}
