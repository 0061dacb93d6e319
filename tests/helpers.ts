import * as k8s from "@kubernetes/client-node";
import { type EmbeddedCluster, startEmbeddedCluster } from "../lib/embedded/cluster.ts";
import type { EmbeddedClusterOptions } from "../lib/embedded/cluster.ts";

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** An embedded cluster with a KubeConfig of the real client library pointed at it. */
export interface ClusterFixture {
  cluster: EmbeddedCluster;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts an embedded cluster on a free loopback port and a client for it; dispose to stop it. */
export async function withCluster(options: EmbeddedClusterOptions = {}): Promise<ClusterFixture> {
  const cluster = await startEmbeddedCluster(options);
  const kc = new k8s.KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  return {
    cluster,
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    [Symbol.asyncDispose]: () => cluster.close(),
  };
}

/** The HTTP status code carried by an error from the client library. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: number; statusCode?: number };
  return e?.code ?? e?.statusCode;
}

/** Runs `fn`, expecting it to fail with HTTP `status`; returns the parsed Status body. */
export async function expectStatus(
  status: number,
  fn: () => Promise<unknown>,
): Promise<Record<string, unknown>> {
  try {
    await fn();
  } catch (err) {
    const code = statusOf(err);
    if (code !== status) {
      throw new Error(`Expected HTTP ${status}, got ${code}: ${(err as Error).message}`);
    }
    const body = (err as { body?: unknown }).body;
    return typeof body === "string" ? JSON.parse(body) : (body as Record<string, unknown>) ?? {};
  }
  throw new Error(`Expected HTTP ${status}, but the call succeeded`);
}
