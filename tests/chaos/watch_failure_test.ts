// Issue 25: a leader whose Node watch fails (every list and watch of Nodes answered 500, its open
// watch cut) while its Lease calls still pass must not keep the Lease: after
// --watch-failure-timeout of an unhealthy watch it releases it, and a replica whose watch works
// leads and acts on the webhook's posts. And a leader whose open watch goes silent (its proxy
// stops forwarding it and holds every later Node list and watch) must not take the silence for a
// quiet cluster: the watch fails at --watch-timeout plus 10 s at the latest, and the same hand-over
// follows.
import assert from "node:assert/strict";
import { waitFor } from "../support/wait.ts";
import { BEFORE, figure, PERMISSIVE_GATES, type Replica, secs, startChaos } from "./harness.ts";

const WATCH_FAILURE_MS = 3000;
const LEASE_MS = 3000;
/** `--watch-timeout` of the held-watch scenario: a watch not ended 10 s after it fails. */
const WATCH_TIMEOUT_MS = 2000;
const WATCH_MARGIN_MS = 10_000;

Deno.test("a leader whose Node watch fails hands over to a replica whose watch works", async () => {
  await using chaos = await startChaos({
    policy:
      `rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]\ngates: ${PERMISSIVE_GATES}\nacknowledge: [minHealthyZero, highRate]\n`,
    // The unfixed serve refuses the flag (exit code 2): NODE_HEAL_CHAOS_BEFORE=1 measures it without.
    serveArgs: BEFORE ? [] : [`--watch-failure-timeout=${WATCH_FAILURE_MS / 1000}s`],
  });
  const leader = await chaos.waitLeader();
  const others = chaos.replicas.filter((r) => r !== leader);
  const alert = await chaos.alert("heal-worker");

  leader.proxy.fault({ name: "nodes-500", path: "/api/v1/nodes", action: { status: 500 } });
  const faultAt = performance.now();
  leader.proxy.endWatches();

  // What the failing leader answers meanwhile (another worker, so as not to touch heal-worker).
  await new Promise((r) => setTimeout(r, 1000));
  const meanwhile = await chaos.fire(leader, await chaos.alert("heal-worker2"));
  const meanwhileOutcome = (meanwhile.answer.alerts as { outcome: string }[] | undefined)?.[0]
    ?.outcome;

  const bound = WATCH_FAILURE_MS + LEASE_MS + 3000;
  let ledAt: { replica: Replica; t: number } | undefined;
  let acted: { replica: Replica; t: number } | undefined;
  try {
    acted = await waitFor("another replica to lead and act", async () => {
      for (const r of others) {
        if (await r.leading() !== true) continue;
        ledAt ??= { replica: r, t: performance.now() };
        const { status, answer } = await chaos.fire(r, alert);
        const outcome = (answer.alerts as { outcome: string }[] | undefined)?.[0]?.outcome;
        if (status === 200 && outcome === "cordon") return { replica: r, t: performance.now() };
      }
      return undefined;
    }, bound + 5000);
  } catch {
    acted = undefined;
  }
  const end = performance.now();
  const stillLeads = await leader.leading();
  const lists = leader.proxy.entries(["node-list", "node-watch"], faultAt).length;
  figure(
    `Node watch of leader ${leader.name} failing (500)${
      BEFORE ? " [before: no --watch-failure-timeout]" : ""
    }: ${
      acted
        ? `${acted.replica.name} led after ${secs(ledAt!.t - faultAt)} and acted after ${
          secs(acted.t - faultAt)
        }`
        : `no other replica led and acted within ${secs(end - faultAt)}`
    }; ${leader.name} ${
      stillLeads ? "still leads" : "no longer leads"
    }, answered a post 1 s into the fault ${meanwhile.status}${
      meanwhileOutcome ? ` (${meanwhileOutcome})` : ""
    }, tried ${lists} Node lists and watches; bound ${secs(bound)}`,
  );
  assert.ok(acted, `no other replica led and acted within ${secs(end - faultAt)}`);
  assert.ok(acted.t - faultAt <= bound, `hand-over took ${secs(acted.t - faultAt)}`);
  assert.equal(stillLeads, false, `${leader.name} still says it leads`);
  assert.ok(await chaos.api.cordoned("heal-worker"));
});

Deno.test("a leader whose open Node watch is held silent hands over within --watch-timeout plus 10 s, the watch failure timeout and a lease", async () => {
  await using chaos = await startChaos({
    policy:
      `rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]\ngates: ${PERMISSIVE_GATES}\nacknowledge: [minHealthyZero, highRate]\n`,
    serveArgs: BEFORE ? [] : [
      `--watch-failure-timeout=${WATCH_FAILURE_MS / 1000}s`,
      `--watch-timeout=${WATCH_TIMEOUT_MS / 1000}s`,
    ],
  });
  const leader = await chaos.waitLeader();
  const others = chaos.replicas.filter((r) => r !== leader);
  const alert = await chaos.alert("heal-worker");
  await waitFor("the leader's watch open", () => leader.proxy.openWatches === 1, 10_000);

  // The proxy stops forwarding: the open watch says nothing more (its connection stays open), and
  // every later Node list or watch is held unanswered. Lease calls pass.
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  leader.proxy.fault({ name: "nodes-held", path: "/api/v1/nodes", action: { hold: released } });
  const heldAt = performance.now();
  const held = leader.proxy.holdWatches(released);

  // Warnings go to stderr, one JSON object a line.
  const failures = () =>
    leader.stderr.split("\n").filter((l) => l.includes("Node watch failed")).map((l) => {
      try {
        return String(JSON.parse(l).message);
      } catch {
        return l;
      }
    });
  const failuresBefore = failures().length;
  const deadline = WATCH_TIMEOUT_MS + WATCH_MARGIN_MS;
  const bound = deadline + WATCH_FAILURE_MS + LEASE_MS + 3000;
  let failedAt: number | undefined;
  let ledAt: { replica: Replica; t: number } | undefined;
  let acted: { replica: Replica; t: number } | undefined;
  try {
    acted = await waitFor("another replica to lead and act", async () => {
      if (failedAt === undefined && failures().length > failuresBefore) {
        failedAt = performance.now();
      }
      for (const r of others) {
        if (await r.leading() !== true) continue;
        ledAt ??= { replica: r, t: performance.now() };
        const { status, answer } = await chaos.fire(r, alert);
        const outcome = (answer.alerts as { outcome: string }[] | undefined)?.[0]?.outcome;
        if (status === 200 && outcome === "cordon") return { replica: r, t: performance.now() };
      }
      return undefined;
    }, bound + 5000);
  } catch {
    acted = undefined;
  } finally {
    release();
  }
  const end = performance.now();
  const stillLeads = await leader.leading();
  const failure = failures()[failuresBefore];
  figure(
    `Node watch of leader ${leader.name} held silent (${held} open watch held, later Node ` +
      `requests held)${
        BEFORE ? " [before: no --watch-timeout, no --watch-failure-timeout]" : ""
      }: ${
        failedAt === undefined
          ? "its watch never failed"
          : `its watch failed after ${secs(failedAt - heldAt)} (${failure?.slice(0, 110)})`
      }; ${
        acted
          ? `${acted.replica.name} led after ${secs(ledAt!.t - heldAt)} and acted after ${
            secs(acted.t - heldAt)
          }`
          : `no other replica led and acted within ${secs(end - heldAt)}`
      }; ${leader.name} ${stillLeads ? "still leads" : "no longer leads"}; bound ${secs(bound)}`,
  );
  assert.equal(held, 1, "the leader's open watch was held");
  assert.ok(failedAt !== undefined, "the held watch failed");
  assert.ok(
    failedAt - heldAt <= deadline + 1000,
    `the watch failed after ${secs(failedAt - heldAt)}`,
  );
  assert.ok(acted, `no other replica led and acted within ${secs(end - heldAt)}`);
  assert.ok(acted.t - heldAt <= bound, `hand-over took ${secs(acted.t - heldAt)}`);
  assert.equal(stillLeads, false, `${leader.name} still says it leads`);
  assert.ok(await chaos.api.cordoned("heal-worker"));
});
