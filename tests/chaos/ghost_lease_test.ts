// Issue 25: a Lease held by a replica that no longer exists ("ghost"), written with a lease
// duration of a day, keeps the replicas from leading no longer than their own --lease-duration
// (each candidate's own clock and duration, never the record's), plus a retry and a margin.
import assert from "node:assert/strict";
import { figure, PERMISSIVE_GATES, secs, SHORT_ELECTION, startChaos } from "./harness.ts";

/** An API MicroTime for now. */
function microNow(): string {
  return new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

Deno.test("a ghost holder of the Lease blocks the replicas for at most --lease-duration plus a few seconds", async () => {
  const spawned = performance.now();
  await using chaos = await startChaos({
    policy: `gates: ${PERMISSIVE_GATES}\nacknowledge: [minHealthyZero, highRate]\n`,
    election: SHORT_ELECTION,
    beforeReplicas: async (api) => {
      await api.createLease({
        holderIdentity: "ghost",
        leaseDurationSeconds: 86_400,
        acquireTime: microNow(),
        renewTime: microNow(),
        leaseTransitions: 0,
      });
    },
  });
  const ready = performance.now();
  // The lease duration (3 s), a retry period (0.5 s), and 3 s for the candidates' first tries.
  const bound = 3000 + 500 + 3000;
  let leader;
  try {
    leader = await chaos.waitLeader({ timeoutMs: bound + 4000 });
  } catch {
    leader = undefined;
  }
  const led = performance.now();
  if (leader) {
    figure(
      `ghost Lease (leaseDurationSeconds 86400): ${leader.name} led ${
        secs(led - ready)
      } after the replicas were ready (${secs(led - spawned)} after start); bound ${secs(bound)}`,
    );
  } else {
    const holder = (await chaos.api.lease())?.spec as { holderIdentity?: string } | undefined;
    figure(
      `ghost Lease (leaseDurationSeconds 86400): no replica led within ${
        secs(led - ready)
      } of being ready; the Lease is still held by "${holder?.holderIdentity}"; bound ${
        secs(bound)
      }`,
    );
  }
  assert.ok(
    leader,
    `no replica led within ${secs(led - ready)}: the ghost's 86400 s were honoured`,
  );
  assert.ok(led - ready <= bound, `the first leader came after ${secs(led - ready)}`);
  const lease = await chaos.api.lease();
  assert.equal((lease?.spec as { holderIdentity?: string }).holderIdentity, leader.name);
});
