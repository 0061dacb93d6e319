/**
 * Who gets a connection when they are scarce: each client (an IPv4 address, or an IPv6 /64) may
 * hold at most its share of the connections, and when every connection is taken an idle one is
 * shed for a newcomer before anything else, then one that has waited longest for its request head,
 * so that neither one address nor many holding a connection each can starve Alertmanager.
 */

/** What {@link admit} needs to know of an open connection. */
export interface Held {
  /** The client, as {@link clientOf} names it. */
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

/**
 * How long a connection waits for its request head before any newcomer may take its place. A
 * client sends its head as it connects: even with a TLS handshake first, a few round trips, far
 * under a second. Its shortness is what recycles slots that many addresses each hold with a head
 * they never finish, ten times faster than `--header-timeout`'s 10 s.
 */
export const SHED_GRACE_MS = 1000;

/**
 * The client a remote address counts for: an IPv4 address (also when IPv4-mapped, `::ffff:a.b.c.d`)
 * or an IPv6 /64 (`2001:db8:1:2::/64`), the block one host or one subscriber gets.
 */
export function clientOf(hostname: string): string {
  const address = hostname.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  if (!address.includes(":")) return address;
  const groups = ipv6Groups(address);
  if (!groups) return address;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (`::` and a dotted IPv4 tail expanded). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    if ([a, b, c, d].some((n) => n > 255)) return undefined;
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${
      ((c << 8) | d).toString(16)
    }`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string) => s === "" ? [] : s.split(":");
  const [head, tail] = [parse(halves[0]), halves.length === 2 ? parse(halves[1]) : []];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.map((g) => parseInt(g, 16));
}

/** The open connections, counted by client. */
export class ClientShares<C extends Held> {
  readonly open = new Set<C>();
  #byClient = new Map<string, number>();
  /** Connections shed for another client's newcomer in the last grace, oldest first. */
  #lost: { client: string; at: number }[] = [];
  #lostBy = new Map<string, number>();

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
   * Deletes a connection shed for `newcomer`'s: one another client lost still counts as its for
   * {@link SHED_GRACE_MS} when shedding is decided, so that a client whose connection was shed
   * cannot at once take another's place (and that one another's, round all of them).
   */
  shed(c: C, newcomer: string, now = performance.now()): void {
    this.delete(c);
    if (c.client === newcomer) return;
    this.#lost.push({ client: c.client, at: now });
    this.#lostBy.set(c.client, (this.#lostBy.get(c.client) ?? 0) + 1);
  }

  /**
   * Whether a new connection from `client` may open: `{ shed }` names a connection to close first
   * (with {@link shed}) to make room for it; a refusal says which limit refused it. A client at its
   * share may replace its own oldest idle connection. When all connections are taken, clients
   * weigh what they hold plus what they lost to shedding in the last grace, and only a connection
   * of a client weighing more than the newcomer, or the newcomer's own, is shed (so shedding never
   * makes shares less even):
   * the oldest idle one of the heaviest; failing one, the newcomer's own oldest idle one (shares
   * unchanged); failing one, the oldest waiting for its head of the heaviest, when it weighs at
   * least two more; failing one, the one that has waited longest for its head, for at least
   * {@link SHED_GRACE_MS}, whoever holds it (one connection is enough). A request being handled
   * is never shed.
   */
  admit(client: string, limits: ShareLimits, now = performance.now()): { shed?: C } | Refusal {
    if (this.held(client) >= limits.maxPerClient) {
      const own = this.#oldest((c) => c.client === client && c.phase === "idle");
      return own ? { shed: own } : "client";
    }
    if (this.open.size < limits.maxConnections) return {};
    this.#forget(now, limits.maxConnections);
    const mine = this.#weight(client);
    const idle = this.#oldest((c) => c.phase === "idle" && this.#weight(c.client) > mine, true);
    if (idle) return { shed: idle };
    const own = this.#oldest((c) => c.client === client && c.phase === "idle");
    if (own) return { shed: own };
    const heavy = this.#oldest(
      (c) => c.phase === "head" && this.#weight(c.client) > mine + 1,
      true,
    );
    if (heavy) return { shed: heavy };
    const waited = this.#oldest((c) =>
      c.phase === "head" && now - c.since >= SHED_GRACE_MS && this.#weight(c.client) > mine
    );
    return waited ? { shed: waited } : "connections";
  }

  /** What a client holds, and lost to shedding in the last grace. */
  #weight(client: string): number {
    return this.held(client) + (this.#lostBy.get(client) ?? 0);
  }

  /** Forgets losses older than the grace, and past the `most` newest. */
  #forget(now: number, most: number): void {
    let drop = 0;
    while (
      drop < this.#lost.length &&
      (now - this.#lost[drop].at >= SHED_GRACE_MS || this.#lost.length - drop > most)
    ) {
      const { client } = this.#lost[drop++];
      const n = this.#lostBy.get(client)! - 1;
      if (n > 0) this.#lostBy.set(client, n);
      else this.#lostBy.delete(client);
    }
    this.#lost.splice(0, drop);
  }

  /** The oldest connection that `fits`, from the client weighing the most when `heaviest`. */
  #oldest(fits: (c: C) => boolean, heaviest = false): C | undefined {
    let best: C | undefined;
    for (const c of this.open) {
      if (!fits(c)) continue;
      if (!best) {
        best = c;
        continue;
      }
      const [mine, theirs] = [this.#weight(c.client), this.#weight(best.client)];
      if (heaviest && mine !== theirs ? mine > theirs : c.since < best.since) best = c;
    }
    return best;
  }
}
