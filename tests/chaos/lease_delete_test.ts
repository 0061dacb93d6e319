// Issue 25: someone deletes the Lease (a runbook, a namespace clean-up). The leader must step down
// at once, and nobody may create the Lease again until a full lease duration after it went: at no
// moment do two replicas say they lead, and no two replicas send Node writes in overlapping
// periods. Alerts are posted to every replica all through, so that whoever leads writes. The
// Lease goes right after the leader renewed it, so that another replica finds it gone first.
import assert from "node:assert/strict";
import { ACTION_KINDS, type ProxyEntry } from "./proxy.ts";
import { waitFor } from "../support/wait.ts";
import { figure, observe, PERMISSIVE_GATES, secs, SHORT_ELECTION, startChaos } from "./harness.ts";

const LEASE_MS = 3000;

/** Pairs of replicas whose action writes (first to last) overlap in time. */
function overlappingPairs(writes: ProxyEntry[]): string[] {
  const spans = new Map<string, [number, number]>();
  for (const w of writes) {
    const s = spans.get(w.replica);
    spans.set(w.replica, s ? [Math.min(s[0], w.t), Math.max(s[1], w.t)] : [w.t, w.t]);
  }
  const names = [...spans.keys()].sort();
  const pairs: string[] = [];
  for (const [i, a] of names.entries()) {
    for (const b of names.slice(i + 1)) {
      const [a0, a1] = spans.get(a)!;
      const [b0, b1] = spans.get(b)!;
      if (a0 <= b1 && b0 <= a1) pairs.push(`${a}+${b}`);
    }
  }
  return pairs;
}

Deno.test("deleting the Lease never makes two replicas lead or act at once", async () => {
  await using chaos = await startChaos({
    policy:
      `rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]\ngates: ${PERMISSIVE_GATES}\nacknowledge: [minHealthyZero, highRate]\n`,
    election: SHORT_ELECTION,
  });
  const first = await chaos.waitLeader();
  const alert = await chaos.alert("heal-worker");

  // Alertmanager's way: every notification to every replica; the leader acts, the others say 503.
  let running = true;
  const load = (async () => {
    while (running) {
      for (const post of [chaos.fire.bind(chaos), chaos.resolve.bind(chaos)]) {
        await Promise.all(chaos.replicas.map((r) => post(r, alert).catch(() => undefined)));
      }
      await observe(50);
    }
  })();
  const samples: { t: number; leading: (boolean | undefined)[] }[] = [];
  const sampler = (async () => {
    while (running) {
      const t = performance.now();
      samples.push({ t, leading: await chaos.leadingNow(500) });
      await observe(25);
    }
  })();
  let deletedAt = 0;
  try {
    await observe(1000);
    // Deleted right after the leader renewed: every other replica tries before the leader's
    // next renewal, the worst moment (a deletion may come at any).
    const since = performance.now();
    await waitFor(
      "the leader's next renewal",
      () => first.proxy.entries(["lease-write"], since).some((e) => e.status === 200),
    );
    deletedAt = performance.now();
    await chaos.api.deleteLease();
    await observe(2 * LEASE_MS);
  } finally {
    running = false;
    await Promise.all([load, sampler]);
  }
  const after = samples.filter((s) => s.t >= deletedAt);
  const twice = after.filter((s) => s.leading.filter((l) => l === true).length >= 2);
  const firstStepDown = after.find((s) => s.leading[chaos.replicas.indexOf(first)] === false);
  const recreated = chaos.entries(["lease-write"]).find((e) =>
    e.t >= deletedAt && e.method === "POST" && e.status !== undefined && e.status < 300
  );
  // A leader again: the first sample after the Lease was re-created in which one replica leads.
  const again = after.find((s) =>
    recreated && s.t >= recreated.t && s.leading.filter((l) => l === true).length === 1
  );
  const writes = chaos.entries(ACTION_KINDS).filter((e) =>
    e.t >= deletedAt - 1000 && (e.kind === "node-patch" || e.kind === "eviction")
  );
  const overlaps = overlappingPairs(writes);
  const othersFirst = writes.find((w) => w.replica !== first.name && w.t >= deletedAt);
  const lateWrites = othersFirst
    ? writes.filter((w) => w.replica === first.name && w.t >= othersFirst.t).length
    : 0;
  const perReplica = chaos.replicas.map((r) =>
    `${r.name} ${writes.filter((w) => w.replica === r.name).length}`
  ).join(", ");
  figure(
    `Lease deleted under leader ${first.name}: 2 replicas said they led in ${twice.length} of ${after.length} samples${
      twice.length ? ` (first ${secs(twice[0].t - deletedAt)} after)` : ""
    }; ${first.name} stepped down ${
      firstStepDown ? `after ${secs(firstStepDown.t - deletedAt)}` : "never"
    }; Lease re-created ${
      recreated ? `by ${recreated.replica} after ${secs(recreated.t - deletedAt)}` : "never"
    }; one leader again ${again ? `after ${secs(again.t - deletedAt)}` : "never"}; ` +
      `Node writes from the second before on (${perReplica}) overlap between ${
        overlaps.length ? overlaps.join(", ") : "no replicas"
      }; ${first.name} sent ${lateWrites} after ${othersFirst?.replica ?? "another"}'s first`,
  );
  assert.equal(twice.length, 0, "samples in which two replicas said they led");
  assert.deepEqual(overlaps, [], "replicas whose Node writes overlapped in time");
  assert.ok(
    !recreated || recreated.t - deletedAt >= LEASE_MS,
    "the Lease was not re-created until a lease duration after it went",
  );
  await chaos.waitLeader({ what: "a leader again", timeoutMs: 3 * LEASE_MS });
});
