/**
 * Who gets a connection when they are scarce: each client (remote address) may hold at most its
 * share of the connections, and when every connection is taken an idle one is shed for a newcomer
 * before anything else, so that one address cannot starve Alertmanager.
 */

/** What {@link admit} needs to know of an open connection. */
export interface Held {
  /** The client's address. */
  client: string;
  /** `idle` between requests; `head` while a request's head arrives; `request` while handled. */
  phase: "head" | "request" | "idle";
  /** When it last changed phase (ms, monotonic). */
  since: number;
}

/** The limits {@link admit} applies. */
export interface ShareLimits {
  maxConnections: number;
  /** Connections one client may hold at once. */
  maxPerClient: number;
}

/** Why a connection was refused, or why one was shed. */
export type Refusal = "connections" | "client";

/** The open connections, counted by client. */
export class ClientShares<C extends Held> {
  readonly open = new Set<C>();
  #byClient = new Map<string, number>();

  /** Connections `client` holds. */
  held(client: string): number {
    return this.#byClient.get(client) ?? 0;
  }

  add(c: C): void {
    this.open.add(c);
    this.#byClient.set(c.client, this.held(c.client) + 1);
  }

  delete(c: C): void {
    if (!this.open.delete(c)) return;
    const n = this.held(c.client) - 1;
    if (n > 0) this.#byClient.set(c.client, n);
    else this.#byClient.delete(c.client);
  }

  /**
   * Whether a new connection from `client` may open: `{ shed }` names a connection to close first
   * to make room for it; a refusal says which limit refused it. A client at its share may replace
   * its own oldest idle connection. When all connections are taken, the oldest idle connection of
   * the client holding the most (more than the newcomer) goes first; failing one, a connection
   * still waiting for its head from a client holding more than the newcomer will; a request being
   * handled is never shed.
   */
  admit(client: string, limits: ShareLimits): { shed?: C } | Refusal {
    if (this.held(client) >= limits.maxPerClient) {
      const own = this.#oldest((c) => c.client === client && c.phase === "idle");
      return own ? { shed: own } : "client";
    }
    if (this.open.size < limits.maxConnections) return {};
    // Only from a client holding more than the newcomer: shedding never makes shares less even.
    const mine = this.held(client);
    const idle = this.#oldest((c) => c.phase === "idle" && this.held(c.client) > mine, true);
    if (idle) return { shed: idle };
    const waiting = this.#oldest((c) => c.phase === "head" && this.held(c.client) > mine + 1, true);
    return waiting ? { shed: waiting } : "connections";
  }

  /** The oldest connection that `fits`, from the client holding the most when `heaviest`. */
  #oldest(fits: (c: C) => boolean, heaviest = false): C | undefined {
    let best: C | undefined;
    for (const c of this.open) {
      if (!fits(c)) continue;
      if (!best) {
        best = c;
        continue;
      }
      const [mine, theirs] = [this.held(c.client), this.held(best.client)];
      if (heaviest && mine !== theirs ? mine > theirs : c.since < best.since) best = c;
    }
    return best;
  }
}
