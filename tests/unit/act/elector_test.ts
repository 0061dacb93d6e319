// Leader election on a Lease against an in-memory client and a clock the test moves: a new install
// waits a lease duration, takeover only after a lease duration by the candidate's own clock (the
// Lease's word capped at it), renewal, the fence read on the monotonic clock (a pause, a late
// answer), stepping down at once when the Lease is another's or gone, no leader on a lost create,
// a Lease gone made again only a lease duration later, a leader whose Node watch fails handing
// over, release on stop, and skewed clocks.
import assert from "node:assert/strict";
import { type ElectorOptions, LeaderElector } from "../../../lib/act/elector.ts";
import type { LeaseRecord } from "../../../lib/act/kube/types.ts";
import { FakeClient } from "../../fakes/fake_client.ts";

const T0 = Date.parse("2026-11-28T12:00:00Z");
const KEY = "node-heal/node-heal";
/** client-go's defaults, which the elector takes: lease 15 s, renew deadline 10 s, retry 2 s. */
const LEASE = 15_000;
const DEADLINE = 10_000;

/** A clock per replica, each its own offset from the test's time (skew). */
function world() {
  let t = T0;
  return {
    advance: (ms: number) => t += ms,
    clock: (skewMs = 0) => () => new Date(t + skewMs),
  };
}

function elector(
  client: FakeClient,
  identity: string,
  now: () => Date,
  seen: string[] = [],
  options: Partial<ElectorOptions> = {},
) {
  return new LeaderElector({
    client,
    namespace: "node-heal",
    name: "node-heal",
    identity,
    now,
    leading: (l, why) =>
      seen.push(`${identity} ${l ? "leads" : why ? `steps down: ${why.reason}` : "stops"}`),
    ...options,
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

/** `first` takes the Lease of a new install (after the lease duration it waits), `others` see it. */
async function install(
  w: ReturnType<typeof world>,
  first: LeaderElector,
  ...others: LeaderElector[]
) {
  for (const e of [first, ...others]) assert.equal(await e.tick(), false, "no Lease yet");
  w.advance(LEASE);
  assert.equal(await first.tick(), true);
  for (const e of others) assert.equal(await e.tick(), false);
}

/** Someone else's write of the Lease (a person, a ghost): a new resourceVersion. */
function write(client: FakeClient, change: Partial<LeaseRecord>) {
  const current = client.leases.get(KEY)!;
  client.leases.set(KEY, {
    ...current,
    ...change,
    resourceVersion: `${current.resourceVersion}-edited`,
  });
}

Deno.test("a new install has no leader for a lease duration; then the first takes the Lease and another waits a lease duration of unchanged record", async () => {
  const { client, w, seen, a, b } = pair();
  assert.equal(await a.tick(), false, "no Lease: a waits before making one");
  assert.equal(await b.tick(), false);
  w.advance(LEASE - 1);
  assert.equal(await a.tick(), false, "not before a whole lease duration");
  assert.equal(client.leases.size, 0);
  w.advance(1);
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
  assert.equal(a.leading, false, "a's fence ran out before b may take over");
  assert.equal(await b.tick(), false);
  w.advance(1_500);
  assert.equal(await b.tick(), true);
  const lease = client.leases.get(KEY)!;
  assert.equal(lease.holder, "b");
  assert.equal(lease.leaseTransitions, 1);
  assert.deepEqual(seen, ["a leads", "a steps down: renew_deadline", "b leads"]);
});

Deno.test("a leader that cannot renew stops leading at its renew deadline, before anyone may take over", async () => {
  const { client, w, seen, a, b } = pair();
  await install(w, a, b);
  // The API refuses a's renewals (a partition of a from the API server).
  client.fail("getLease", 503);
  w.advance(2000);
  assert.equal(await a.tick(), true, "one missed renewal is not the deadline");
  w.advance(8000);
  assert.equal(a.leading, false, "10 s without a renewal: a stops at once");
  assert.deepEqual(seen, ["a leads", "a steps down: renew_deadline"]);
  // b, whose requests pass, may take over only after 15 s of an unchanged record.
  w.advance(4000);
  assert.equal(await b.tick(), false, "a's lease has not run out for b");
  w.advance(1000);
  assert.equal(await b.tick(), true);
});

Deno.test("leading reads the monotonic clock: a wall clock that stands still or jumps back changes nothing", async () => {
  const client = new FakeClient();
  let mono = 0;
  let wall = T0;
  const a = elector(client, "a", () => new Date(wall), [], { monotonic: () => mono });
  await a.tick();
  mono += LEASE;
  assert.equal(await a.tick(), true);
  // The wall clock jumps back an hour (NTP, a VM restored): the fence does not move.
  wall -= 3_600_000;
  mono += 2000;
  assert.equal(a.leading, true);
  // The wall clock stands still while time passes: the deadline comes all the same.
  mono += DEADLINE - 2000;
  assert.equal(a.leading, false);
});

Deno.test("a leader paused past its renew deadline (SIGSTOP) reads false the moment it wakes, before any renewal lands", async () => {
  const { w, seen, a, b } = pair();
  await install(w, a, b);
  w.advance(2000);
  assert.equal(await a.tick(), true);
  // Stopped for 11 s: nothing ran, no try was made; the first read of the fence says no.
  w.advance(11_000);
  assert.equal(a.leading, false);
  assert.deepEqual(seen, ["a leads", "a steps down: renew_deadline"]);
});

Deno.test("a renewal whose answer comes after the deadline of the try that sent it leads nothing", async () => {
  const { client, w, seen, a, b } = pair();
  await install(w, a, b);
  // The renewal is sent, then the process is paused (or the API server is slow) for 11 s.
  const update = client.updateLease.bind(client);
  client.updateLease = (...args) => {
    w.advance(11_000);
    return update(...args);
  };
  w.advance(1000);
  assert.equal(await a.tick(), false, "written, but 11 s after the try started");
  assert.equal(a.leading, false);
  assert.equal(client.leases.get(KEY)!.holder, "a");
  assert.deepEqual(seen, ["a leads", "a steps down: renew_deadline"]);
});

Deno.test("a renewal counts from when its try started, not from when its answer came", async () => {
  const { client, w, a, b } = pair();
  await install(w, a, b);
  const update = client.updateLease.bind(client);
  client.updateLease = (...args) => {
    w.advance(3000);
    return update(...args);
  };
  w.advance(5000);
  // Started at 5 s, answered at 8 s: leads until 15 s after the first renewal, not 18 s.
  assert.equal(await a.tick(), true);
  w.advance(DEADLINE - 3000 - 1);
  assert.equal(a.leading, true);
  w.advance(1);
  assert.equal(a.leading, false);
});

Deno.test("a leader steps down at its next read of a Lease held by another, and waits a lease duration for it like anyone", async () => {
  const { client, w, seen, a, b } = pair();
  await install(w, a, b);
  write(client, { holder: "x" });
  w.advance(2000);
  assert.equal(await a.tick(), false);
  assert.equal(a.leading, false);
  assert.deepEqual(seen, ["a leads", "a steps down: held_by_other"]);
  w.advance(LEASE - 1000);
  assert.equal(await a.tick(), false, "x's record is young by a's clock");
  w.advance(1000);
  assert.equal(await a.tick(), true);
});

Deno.test("a deleted Lease: the leader steps down at its next read, and nobody makes it again before a lease duration since each first found it missing", async () => {
  const { client, w, seen, a, b } = pair();
  await install(w, a, b);
  client.leases.delete(KEY);
  w.advance(1000);
  assert.equal(await b.tick(), false);
  // b made nothing: the last holder may still lead until its renew deadline.
  assert.equal(client.leases.size, 0);
  w.advance(500);
  assert.equal(await a.tick(), false);
  assert.equal(a.leading, false, "a stepped down at once, not at its renew deadline");
  assert.deepEqual(seen, ["a leads", "a steps down: lease_gone"]);
  // Each waits a lease duration by its own clock from when it found the Lease missing.
  for (let t = 0; t < LEASE - 1000; t += 1000) {
    w.advance(1000);
    assert.equal(await a.tick(), false);
    assert.equal(await b.tick(), false);
    assert.equal(client.leases.size, 0, `no Lease ${t + 2500} ms after the deletion`);
  }
  w.advance(500);
  assert.equal(await a.tick(), false, "a found it missing 500 ms after b");
  assert.equal(await b.tick(), true, "b's lease duration has passed");
  assert.equal(await a.tick(), false);
  assert.deepEqual(seen, ["a leads", "a steps down: lease_gone", "b leads"]);
});

Deno.test("a renewal answered 409 steps down at once", async () => {
  const { client, w, seen, a, b } = pair();
  await install(w, a, b);
  client.fail("updateLease", 409);
  w.advance(2000);
  assert.equal(await a.tick(), false);
  assert.equal(a.leading, false);
  assert.deepEqual(seen, ["a leads", "a steps down: update_conflict"]);
});

Deno.test("a renewal answered 404 steps down at once, and the Lease is not made again before a lease duration", async () => {
  const { client, w, seen, a, b } = pair();
  await install(w, a, b);
  // Deleted between a's read and its write.
  const update = client.updateLease.bind(client);
  client.updateLease = (...args) => {
    client.leases.delete(KEY);
    client.updateLease = update;
    return update(...args);
  };
  w.advance(2000);
  assert.equal(await a.tick(), false);
  assert.deepEqual(seen, ["a leads", "a steps down: lease_gone"]);
  w.advance(LEASE - 1);
  assert.equal(await a.tick(), false);
  assert.equal(client.leases.size, 0);
  w.advance(1);
  assert.equal(await a.tick(), true);
});

Deno.test("a create answered 409 (another replica made the Lease first) leads nothing", async () => {
  const { client, w, seen, a } = pair();
  await a.tick();
  w.advance(LEASE);
  // b makes it between a's read and a's create.
  const create = client.createLease.bind(client);
  client.createLease = (namespace, name, record) => {
    client.createLease = create;
    create(namespace, name, { ...record, holder: "b" });
    return create(namespace, name, record);
  };
  assert.equal(await a.tick(), false);
  assert.equal(a.leading, false);
  assert.deepEqual(seen, []);
  // Now a knows b's record, and waits for it a lease duration like any other.
  w.advance(2000);
  assert.equal(await a.tick(), false);
  assert.equal(a.leader, "b");
});

Deno.test("three candidates at once: the resourceVersion lets only one win, the others' creates answer 409", async () => {
  const client = new FakeClient();
  const w = world();
  const seen: string[] = [];
  const candidates = ["a", "b", "c"].map((id) => elector(client, id, w.clock(), seen));
  await Promise.all(candidates.map((c) => c.tick()));
  w.advance(LEASE);
  const won = await Promise.all(candidates.map((c) => c.tick()));
  assert.equal(won.filter(Boolean).length, 1);
  assert.equal(candidates.filter((c) => c.leading).length, 1);
  assert.equal(client.calls.filter((c) => c.method === "createLease").length, 3);
  // Released, then the two others try at once again: still one.
  await candidates[won.indexOf(true)].stop();
  const others = candidates.filter((_, i) => !won[i]);
  await Promise.all(others.map((c) => c.tick()));
  w.advance(1000);
  const again = await Promise.all(others.map((c) => c.tick()));
  assert.equal(again.filter(Boolean).length, 1);
  assert.equal(seen.filter((s) => s.endsWith("leads")).length, 2);
});

Deno.test("a ghost holder with leaseDurationSeconds 86400 is taken over after this replica's own lease duration", async () => {
  const { client, w, a, b } = pair();
  await install(w, a, b);
  write(client, { holder: "ghost", leaseDurationSeconds: 86_400 });
  w.advance(2000);
  assert.equal(await b.tick(), false);
  w.advance(LEASE - 1);
  assert.equal(await b.tick(), false);
  w.advance(1);
  assert.equal(await b.tick(), true, "15 s, not a day");
});

Deno.test("a Lease whose leaseDurationSeconds is zero or negative lasts this replica's own lease duration", async () => {
  for (const leaseDurationSeconds of [0, -5, Number.NaN]) {
    const { client, w, a, b } = pair();
    await install(w, a, b);
    write(client, { holder: "ghost", leaseDurationSeconds });
    w.advance(2000);
    assert.equal(await b.tick(), false);
    w.advance(LEASE - 1);
    assert.equal(await b.tick(), false, `leaseDurationSeconds ${leaseDurationSeconds}`);
    w.advance(1);
    assert.equal(await b.tick(), true);
  }
});

Deno.test("a replica whose Node watch is unhealthy never takes the Lease, missing, released or expired; healthy again, it does", async () => {
  const client = new FakeClient();
  const w = world();
  let unhealthySince: number | undefined = T0;
  const a = elector(client, "a", w.clock(), [], { watchUnhealthySince: () => unhealthySince });
  await a.tick();
  w.advance(LEASE);
  assert.equal(await a.tick(), false, "missing for a lease duration, yet not made");
  assert.equal(client.leases.size, 0);
  // Released by someone: still not taken.
  await client.createLease("node-heal", "node-heal", {
    holder: "",
    leaseDurationSeconds: 1,
    leaseTransitions: 0,
  });
  w.advance(2000);
  assert.equal(await a.tick(), false);
  // Held by x, who stops renewing: expired, still not taken.
  write(client, { holder: "x" });
  w.advance(2000);
  await a.tick();
  w.advance(LEASE);
  assert.equal(await a.tick(), false);
  assert.equal(client.calls.filter((c) => c.method === "updateLease").length, 0, "never written");
  unhealthySince = undefined;
  assert.equal(await a.tick(), true);
});

Deno.test("a leader whose Node watch is unhealthy keeps the Lease for the timeout, then releases it for a healthy replica and does not take it back", async () => {
  const client = new FakeClient();
  const w = world();
  const seen: string[] = [];
  let unhealthySince: number | undefined;
  const a = elector(client, "a", w.clock(), seen, {
    watchUnhealthySince: () => unhealthySince,
    watchFailureTimeoutMs: 20_000,
  });
  const b = elector(client, "b", w.clock(), seen);
  await install(w, a, b);
  // a's watch fails at T: a keeps leading, and renewing, for 20 s.
  unhealthySince = w.advance(1000);
  for (let t = 2000; t < 20_000; t += 2000) {
    w.advance(2000);
    assert.equal(await a.tick(), true, `${t} ms unhealthy`);
  }
  w.advance(1999);
  assert.equal(a.leading, true, "19.999 s unhealthy");
  w.advance(1);
  // The fence says no at once; the next try releases the Lease.
  assert.equal(a.leading, false, "20 s unhealthy");
  assert.deepEqual(seen, ["a leads", "a steps down: watch_unhealthy"]);
  assert.equal(await a.tick(), false);
  assert.equal(client.leases.get(KEY)!.holder, "", "released");
  // b takes it a second later; a does not take it back while its watch fails.
  assert.equal(await b.tick(), false);
  w.advance(1000);
  assert.equal(await b.tick(), true);
  w.advance(LEASE * 2);
  assert.equal(await a.tick(), false);
  assert.equal(client.leases.get(KEY)!.holder, "b");
  assert.deepEqual(seen, ["a leads", "a steps down: watch_unhealthy", "b leads"]);
  // Healthy again, a is a candidate like any other: b holds the Lease and renews it.
  unhealthySince = undefined;
  assert.equal(await b.tick(), true);
  assert.equal(await a.tick(), false);
});

Deno.test("a renewal under way when the leader steps down for its watch does not make it lead again; its next try releases the Lease", async () => {
  const client = new FakeClient();
  const w = world();
  const seen: string[] = [];
  const watch: { unhealthySince?: number } = {};
  const a = elector(client, "a", w.clock(), seen, {
    watchUnhealthySince: () => watch.unhealthySince,
  });
  await install(w, a);
  watch.unhealthySince = w.advance(0);
  for (let t = 0; t < 18_000; t += 2000) {
    w.advance(2000);
    assert.equal(await a.tick(), true);
  }
  // A renewal is sent at 18 s; the fence is read at 20 s, before its answer lands.
  const update = client.updateLease.bind(client);
  client.updateLease = (...args) => {
    w.advance(2000);
    assert.equal(a.leading, false, "20 s unhealthy");
    client.updateLease = update;
    return update(...args);
  };
  assert.equal(await a.tick(), false);
  assert.equal(a.leading, false);
  assert.deepEqual(seen, ["a leads", "a steps down: watch_unhealthy"]);
  assert.equal(await a.tick(), false);
  assert.equal(client.leases.get(KEY)!.holder, "", "released");
});

Deno.test("a leader whose Node watch recovers within the timeout keeps leading", async () => {
  const client = new FakeClient();
  const w = world();
  let unhealthySince: number | undefined;
  const a = elector(client, "a", w.clock(), [], { watchUnhealthySince: () => unhealthySince });
  await install(w, a);
  unhealthySince = w.advance(0);
  for (let t = 0; t < 19_000; t += 1900) {
    w.advance(1900);
    assert.equal(await a.tick(), true);
  }
  unhealthySince = undefined;
  w.advance(2000);
  assert.equal(await a.tick(), true);
  assert.equal(a.leading, true);
});

Deno.test("a watch failure timeout shorter than the retry period is refused", () => {
  assert.throws(
    () => elector(new FakeClient(), "a", world().clock(), [], { watchFailureTimeoutMs: 1000 }),
    /watch failure timeout must be at least the retry period/,
  );
});

Deno.test("a leader that stops releases the Lease, and a successor takes it at its next try", async () => {
  const client = new FakeClient();
  const w = world();
  const a = elector(client, "a", w.clock());
  const b = elector(client, "b", w.clock());
  await install(w, a, b);
  await a.stop();
  assert.equal(a.leading, false);
  assert.equal(client.leases.get(KEY)!.holder, "");
  assert.equal(client.leases.get(KEY)!.leaseDurationSeconds, 1);
  // b sees the release, and takes it once the release's own second has passed by its clock.
  assert.equal(await b.tick(), false);
  w.advance(999);
  assert.equal(await b.tick(), false);
  w.advance(1);
  assert.equal(await b.tick(), true, "one second, not a lease duration");
  assert.equal(client.leases.get(KEY)!.leaseTransitions, 1);
});

Deno.test("a holder blanked by hand is taken only after the Lease's own duration: the old leader's fence has run out by then", async () => {
  const { client, w, seen, a, b } = pair();
  await install(w, a, b);
  // A person empties the holder and leaves the duration, 15 s.
  write(client, { holder: "" });
  assert.equal(await b.tick(), false, "not at once");
  // a reads it at its next try and steps down at once; b waits the record's 15 s.
  w.advance(2000);
  assert.equal(await a.tick(), false);
  assert.deepEqual(seen, ["a leads", "a steps down: held_by_other"]);
  w.advance(LEASE - 2001);
  assert.equal(await b.tick(), false);
  w.advance(1);
  assert.equal(await b.tick(), true, "a lease duration after b saw it blanked");
});

Deno.test("clocks skewed by minutes change nothing: takeover waits on each candidate's own clock", async () => {
  const client = new FakeClient();
  const w = world();
  // a's clock runs 10 minutes behind, b's 10 minutes ahead: the renewTime a writes looks
  // 20 minutes old to b, yet b waits until it has seen the record unchanged for 15 s.
  const a = elector(client, "a", w.clock(-600_000));
  const b = elector(client, "b", w.clock(600_000));
  await install(w, a, b);
  w.advance(2000);
  await a.tick();
  assert.equal(await b.tick(), false);
  w.advance(15_001);
  assert.equal(await b.tick(), true);
});

Deno.test("a Lease whose holder a person sets to another replica is not taken by it at once: the old leader may still act until its next read", async () => {
  const { client, w, seen, a, b } = pair();
  await install(w, a, b);
  // A hand-over by hand: `kubectl patch lease node-heal -p '{"spec":{"holderIdentity":"b"}}'`.
  // a has not read the Lease since; its last renewal is recent, so it still leads.
  write(client, { holder: "b" });
  w.advance(500);
  assert.equal(a.leading, true, "a has not read the Lease yet");
  assert.equal(await b.tick(), false, "b must not lead while a may still act");
  assert.deepEqual(seen, ["a leads"]);
  // a reads it and steps down; b takes it once the record is a lease duration old by its clock.
  w.advance(1500);
  assert.equal(await a.tick(), false);
  w.advance(LEASE - 1501);
  assert.equal(await b.tick(), false, "b first saw it 500 ms after the edit");
  w.advance(1);
  assert.equal(await b.tick(), true);
  assert.deepEqual(seen, ["a leads", "a steps down: held_by_other", "b leads"]);
});

Deno.test("a Lease whose holder is set by hand to another replica is not taken by it while the old leader, unable to read the Lease, is within its renew deadline", async () => {
  const { client, w, a, b } = pair();
  await install(w, a, b);
  write(client, { holder: "b" });
  // a cannot read the Lease (its read times out, 503 here): it leads on until its renew deadline.
  client.fail("getLease", 503);
  w.advance(2000);
  assert.equal(await a.tick(), true, "a's read failed: it still leads");
  assert.equal(await b.tick(), false, "b must not lead while a may still act");
  w.advance(DEADLINE - 2000);
  assert.equal(a.leading, false);
});

Deno.test("a leaseDurationSeconds lowered by hand (the holder left as it is) lets nobody take the Lease while its holder may still act", async () => {
  const { client, w, seen, a, b } = pair();
  await install(w, a, b);
  write(client, { leaseDurationSeconds: 1 });
  assert.equal(await b.tick(), false);
  w.advance(1000);
  assert.equal(a.leading, true, "a renewed 1 s ago: it still leads");
  assert.equal(await b.tick(), false, "b must not lead while a may still act");
  assert.deepEqual(seen, ["a leads"]);
});
