import assert from "node:assert/strict";
import {
  clientOf,
  ClientShares,
  type Held,
  SHED_GRACE_MS,
} from "../../../lib/server/client_shares.ts";

let clock = 0;
function conn(client: string, phase: Held["phase"]): Held {
  return { client, phase, since: clock++ };
}

const LIMITS = { maxConnections: 4, maxPerClient: 3 };

Deno.test("ClientShares admits a client up to its share, then only in place of its own oldest idle connection", () => {
  const shares = new ClientShares<Held>();
  const [a, b] = [conn("a", "idle"), conn("a", "idle")];
  for (const c of [a, b, conn("a", "request")]) {
    assert.deepEqual(shares.admit("a", LIMITS), {});
    shares.add(c);
  }
  assert.deepEqual(shares.admit("a", LIMITS), { shed: a });
  shares.delete(a);
  shares.delete(b);
  shares.add(conn("a", "head"));
  assert.equal(shares.held("a"), 2);
  shares.add(conn("a", "head"));
  assert.equal(shares.admit("a", LIMITS), "client");
  assert.deepEqual(shares.admit("b", LIMITS), {});
});

Deno.test("ClientShares, when every connection is taken, sheds an idle one of the client holding the most first", () => {
  const shares = new ClientShares<Held>();
  const idleOfB = conn("b", "idle");
  const heavy = [conn("a", "head"), conn("a", "idle"), conn("a", "head")];
  for (const c of [idleOfB, ...heavy]) shares.add(c);
  assert.deepEqual(shares.admit("c", LIMITS), { shed: heavy[1] });
});

Deno.test("ClientShares sheds a fresh connection waiting for its head only from a client holding at least two more than the newcomer", () => {
  const shares = new ClientShares<Held>();
  const waiting = [conn("a", "head"), conn("a", "head")];
  for (const c of [...waiting, conn("b", "request"), conn("c", "request")]) shares.add(c);
  assert.deepEqual(shares.admit("d", LIMITS, clock), { shed: waiting[0] });
  // b holds 1 and a 2: within the grace a newcomer from b is refused, as one from a is.
  assert.equal(shares.admit("b", LIMITS, clock), "connections");
  assert.equal(shares.admit("a", LIMITS, clock), "connections");
  // Past it, a's oldest head goes for b's newcomer (they swap), never for a's own.
  assert.deepEqual(shares.admit("b", LIMITS, clock + SHED_GRACE_MS), { shed: waiting[0] });
  assert.equal(shares.admit("a", LIMITS, clock + SHED_GRACE_MS), "connections");
});

Deno.test("ClientShares never sheds a request being handled, nor an idle connection of a client holding no more than the newcomer", () => {
  const shares = new ClientShares<Held>();
  for (const c of ["a", "b", "c", "d"]) shares.add(conn(c, c === "d" ? "idle" : "request"));
  assert.equal(shares.admit("a", LIMITS), "connections");
  assert.deepEqual(shares.admit("e", LIMITS), {
    shed: [...shares.open].find((c) => c.client === "d"),
  });
});

Deno.test("ClientShares, with every connection taken by clients holding one head each, sheds the one that waited longest past the grace", () => {
  const shares = new ClientShares<Held>();
  const heads = ["a", "b", "c"].map((c) => conn(c, "head"));
  const handled = conn("d", "request");
  handled.since = -1; // The oldest, but handled: never shed.
  for (const c of [...heads, handled]) shares.add(c);
  // Not while the oldest head is within the grace.
  assert.equal(shares.admit("e", LIMITS, heads[0].since + SHED_GRACE_MS - 1), "connections");
  const now = heads[0].since + SHED_GRACE_MS;
  assert.deepEqual(shares.admit("e", LIMITS, now), { shed: heads[0] });
  shares.shed(heads[0], "e", now);
  shares.add(conn("e", "request"));
  // a lost its connection a moment ago: it weighs one still, and takes no one's place at once
  // (else each shed address would shed the next, round all of them)...
  assert.equal(shares.admit("a", LIMITS, now + SHED_GRACE_MS - 1), "connections");
  // ...while a newcomer holding nothing still gets in, and a does once the grace is over.
  assert.deepEqual(shares.admit("f", LIMITS, now + 1), { shed: heads[1] });
  assert.deepEqual(shares.admit("a", LIMITS, now + SHED_GRACE_MS), { shed: heads[1] });
});

Deno.test("ClientShares, when every connection is taken, lets a newcomer replace its own idle connection before anyone's head", () => {
  const shares = new ClientShares<Held>();
  const mine = conn("a", "idle");
  const heads = ["b", "c", "d"].map((c) => conn(c, "head"));
  for (const c of [mine, ...heads]) shares.add(c);
  assert.deepEqual(shares.admit("a", LIMITS, clock + SHED_GRACE_MS), { shed: mine });
  // Replacing one's own connection costs no share: the next newcomer from a still sheds a head.
  shares.shed(mine, "a");
  shares.add(conn("a", "request"));
  assert.equal(shares.admit("a", LIMITS, clock), "connections");
});

Deno.test("clientOf groups IPv6 addresses by /64 and IPv4-mapped ones as their IPv4 address", () => {
  assert.equal(clientOf("192.0.2.7"), "192.0.2.7");
  assert.equal(clientOf("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(clientOf("[::FFFF:c000:207]"), "192.0.2.7");
  const net = "2001:db8:1:2::/64";
  for (const a of ["2001:db8:1:2::1", "2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::5%eth0"]) {
    assert.equal(clientOf(a), net);
  }
  assert.equal(clientOf("2001:0db8:0001:0002:0:0:0:9"), net);
  assert.equal(clientOf("2001:db8:1:3::1"), "2001:db8:1:3::/64");
  assert.equal(clientOf("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(clientOf("::1"), "0:0:0:0::/64");
  assert.equal(clientOf("64:ff9b::192.0.2.7"), "64:ff9b:0:0::/64");
  // Not an address: counted as given.
  assert.equal(clientOf("2001:db8::1::2"), "2001:db8::1::2");
});
