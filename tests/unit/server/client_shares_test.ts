import assert from "node:assert/strict";
import { ClientShares, type Held } from "../../../lib/server/client_shares.ts";

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

Deno.test("ClientShares sheds a connection waiting for its head only from a client holding more than the newcomer will", () => {
  const shares = new ClientShares<Held>();
  const waiting = [conn("a", "head"), conn("a", "head")];
  for (const c of [...waiting, conn("b", "request"), conn("c", "request")]) shares.add(c);
  assert.deepEqual(shares.admit("d", LIMITS), { shed: waiting[0] });
  // b holds 1 and a 2: a newcomer from b would leave them even; one from a is refused.
  assert.equal(shares.admit("b", LIMITS), "connections");
  assert.equal(shares.admit("a", LIMITS), "connections");
});

Deno.test("ClientShares never sheds a request being handled, nor an idle connection of a client holding no more than the newcomer", () => {
  const shares = new ClientShares<Held>();
  for (const c of ["a", "b", "c", "d"]) shares.add(conn(c, c === "d" ? "idle" : "request"));
  assert.equal(shares.admit("a", LIMITS), "connections");
  assert.deepEqual(shares.admit("e", LIMITS), {
    shed: [...shares.open].find((c) => c.client === "d"),
  });
});
