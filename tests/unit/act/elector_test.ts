// Leader election on a Lease against an in-memory client and a clock the test moves: takeover
// only after a lease duration by the candidate's own clock, renewal, a leader that cannot renew
// stepping down before anyone may take over, release on stop, and skewed clocks.
import assert from "node:assert/strict";
import { LeaderElector } from "../../../lib/act/elector.ts";
import { FakeClient } from "../../fake_client.ts";

const T0 = Date.parse("2026-11-28T12:00:00Z");

/** A clock per replica, each its own offset from the test's time (skew). */
function world() {
  let t = T0;
  return {
    advance: (ms: number) => t += ms,
    clock: (skewMs = 0) => () => new Date(t + skewMs),
  };
}

function elector(client: FakeClient, identity: string, now: () => Date, seen: string[] = []) {
  return new LeaderElector({
    client,
    namespace: "node-heal",
    name: "node-heal",
    identity,
    now,
    leading: (l) => seen.push(`${identity} ${l ? "leads" : "stops"}`),
  });
}

/** Two candidates, a and b, on one client and one clock, and what they said. */
function pair() {
  const client = new FakeClient();
  const w = world();
  const seen: string[] = [];
  return {
    client,
    w,
    seen,
    a: elector(client, "a", w.clock(), seen),
    b: elector(client, "b", w.clock(), seen),
  };
}

Deno.test("the first candidate takes the Lease; another waits a lease duration of unchanged record by its own clock", async () => {
  const { client, w, seen, a, b } = pair();
  assert.equal(await a.tick(), true);
  assert.equal(await b.tick(), false);
  assert.equal(b.leader, "a");
  // a renews every retry period: b never takes over however long it waits.
  for (let i = 0; i < 20; i++) {
    w.advance(2000);
    assert.equal(await a.tick(), true);
    assert.equal(await b.tick(), false);
  }
  // a goes silent: b takes over only once the record has not changed for 15 s by b's clock.
  w.advance(14_000);
  assert.equal(await b.tick(), false);
  w.advance(1_500);
  assert.equal(await b.tick(), true);
  const lease = client.leases.get("node-heal/node-heal")!;
  assert.equal(lease.holder, "b");
  assert.equal(lease.leaseTransitions, 1);
  assert.deepEqual(seen, ["a leads", "b leads"]);
});

Deno.test("a leader that cannot renew stops leading at its renew deadline, before anyone may take over", async () => {
  const { client, w, seen, a, b } = pair();
  assert.equal(await a.tick(), true);
  assert.equal(await b.tick(), false);
  // The API refuses a's renewals (a partition of a from the API server).
  client.fail("getLease", 503);
  w.advance(2000);
  assert.equal(await a.tick(), true, "one missed renewal is not the deadline");
  w.advance(8000);
  assert.equal(a.leading, false, "10 s without a renewal: a stops at once");
  assert.deepEqual(seen, ["a leads", "a stops"]);
  // b, whose requests pass, may take over only after 15 s of an unchanged record.
  const stoppedAt = 10_000;
  w.advance(4000);
  assert.equal(await b.tick(), false, `b at ${stoppedAt + 4000} ms: a's lease has not run out`);
  w.advance(1000);
  assert.equal(await b.tick(), true);
});

Deno.test("a leader that stops releases the Lease, and a successor takes it at its next try", async () => {
  const client = new FakeClient();
  const w = world();
  const a = elector(client, "a", w.clock());
  const b = elector(client, "b", w.clock());
  await a.tick();
  await b.tick();
  await a.stop();
  assert.equal(a.leading, false);
  assert.equal(client.leases.get("node-heal/node-heal")!.holder, "");
  w.advance(2000);
  assert.equal(await b.tick(), true, "no lease duration to wait");
  assert.equal(client.leases.get("node-heal/node-heal")!.leaseTransitions, 1);
});

Deno.test("clocks skewed by minutes change nothing: takeover waits on each candidate's own clock", async () => {
  const client = new FakeClient();
  const w = world();
  // a's clock runs 10 minutes behind, b's 10 minutes ahead: the renewTime a writes looks
  // 20 minutes old to b, yet b waits until it has seen the record unchanged for 15 s.
  const a = elector(client, "a", w.clock(-600_000));
  const b = elector(client, "b", w.clock(600_000));
  assert.equal(await a.tick(), true);
  assert.equal(await b.tick(), false);
  w.advance(2000);
  await a.tick();
  assert.equal(await b.tick(), false);
  w.advance(15_001);
  assert.equal(await b.tick(), true);
});

Deno.test("two candidates at once: the resourceVersion lets only one win", async () => {
  const client = new FakeClient();
  const w = world();
  const candidates = ["a", "b", "c"].map((id) => elector(client, id, w.clock()));
  const won = await Promise.all(candidates.map((c) => c.tick()));
  assert.equal(won.filter(Boolean).length, 1);
  // Released, then all three try at once again: still one.
  await candidates[won.indexOf(true)].stop();
  const again = await Promise.all(
    candidates.filter((_, i) => !won[i]).map((c) => c.tick()),
  );
  assert.equal(again.filter(Boolean).length, 1);
});
