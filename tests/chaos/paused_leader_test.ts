// Issue 25: a leader frozen mid-drain (SIGSTOP: a long GC pause, a stalled VM) is deposed; the new
// leader resolves the alert and uncordons the node; the budget that blocked the drain goes, so an
// eviction would now succeed. Woken (SIGCONT), the old leader must send nothing it queued before:
// no eviction, no pod delete, no Node patch, no ConfigMap write; only Lease calls.
import assert from "node:assert/strict";
import { waitFor } from "../support/wait.ts";
import { figure, observe, PERMISSIVE_GATES, startChaos } from "./harness.ts";

const NODE = "heal-worker";

Deno.test("a paused-then-resumed deposed leader writes nothing", async () => {
  await using chaos = await startChaos({
    policy:
      `rules: [{ name: heal, match: ['heal="true"'], actions: [drain] }]\ngates: ${PERMISSIVE_GATES}\nacknowledge: [minHealthyZero, highRate]\n`,
  });
  const { budget } = await chaos.api.blockEviction(NODE);
  const old = await chaos.waitLeader();
  const alert = await chaos.alert(NODE);
  assert.equal((await chaos.fire(old, alert)).status, 200);
  // The drain retries the blocked eviction round after round.
  await waitFor(
    "two blocked evictions",
    () => old.proxy.evictions().filter((e) => e.status === 429).length >= 2,
    15_000,
  );
  const podsBefore = (await chaos.api.pods(NODE)).map((p) => p.metadata.name).sort();

  old.pause();
  const others = chaos.replicas.filter((r) => r !== old);
  const next = await chaos.waitLeader({ among: others, what: "a new leader" });
  const resolved = await chaos.resolve(next, alert);
  assert.equal(resolved.status, 200, JSON.stringify(resolved.answer));
  await waitFor("the node uncordoned", async () => !(await chaos.api.cordoned(NODE)), 10_000);
  await chaos.api.unblockEviction(budget);

  const woke = performance.now();
  old.resume();
  // Long enough for every timer that expired while it was frozen, and a drain round (5 s at most).
  await waitFor("the old leader to answer again", () => old.status(), 10_000);
  await observe(6000);

  const since = (kind: Parameters<typeof old.proxy.entries>[0]) =>
    old.proxy.entries(kind, woke).length;
  const evictions = since(["eviction"]);
  const answers = old.proxy.evictions(woke).map((e) => e.status).join(", ");
  const podDeletes = since(["pod-delete"]);
  const nodePatches = since(["node-patch"]);
  const configMaps = since(["configmap-write"]);
  const lease = since(["lease-read", "lease-write"]);
  const podsAfter = (await chaos.api.pods(NODE)).map((p) => p.metadata.name).sort();
  const leads = await old.leading();
  figure(
    `resumed deposed leader ${old.name} sent ${evictions} evictions${
      answers ? ` (answered ${answers})` : ""
    }, ${podDeletes} pod deletes, ` +
      `${nodePatches} Node patches, ${configMaps} ConfigMap writes after SIGCONT ` +
      `(and ${lease} Lease calls); ${podsAfter.length} of ${podsBefore.length} pods left on ${NODE}; ` +
      `${old.name} ${leads ? "says it leads" : "does not lead"}; ${next.name} leads`,
  );
  assert.equal(evictions, 0, "evictions after SIGCONT");
  assert.equal(podDeletes, 0, "pod deletes after SIGCONT");
  assert.equal(nodePatches, 0, "Node patches after SIGCONT");
  assert.equal(configMaps, 0, "ConfigMap writes after SIGCONT");
  assert.deepEqual(podsAfter, podsBefore, `the pods on ${NODE}`);
  assert.equal(await chaos.api.cordoned(NODE), false);
});
