import * as k8s from "@kubernetes/client-node";

/**
 * A KubeConfig whose requests share one connection pool. The client library makes a new HTTP
 * agent for every request it authenticates (a TLS cluster, or one that skips TLS verification),
 * so every call opened a new connection; this keeps the first agent made for each cluster and
 * user and gives it to every later request, the watch's included, so calls reuse kept-alive
 * connections. Credentials (headers, tokens) are still applied per request; a client certificate
 * that changes on disk takes effect at the next restart.
 */
export class PooledKubeConfig extends k8s.KubeConfig {
  #pools = new Map<string, unknown>();

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const made = context.getDispatcher();
    if (made === undefined) return;
    const key = `${this.getCurrentCluster()?.name ?? ""}\u0000${this.getCurrentUser()?.name ?? ""}`;
    const pool = this.#pools.get(key);
    if (pool === undefined) this.#pools.set(key, made);
    else context.setDispatcher(pool as typeof made);
  }
}
