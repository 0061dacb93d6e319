// Issue 25: an API server that answers every Node watch 410 Gone (as one whose watch cache keeps
// expiring does) must not be listed in a tight loop: each replica relists with a backoff, as
// client-go's reflector does (800 ms doubling to 30 s, jittered): at most 7 full lists in 30 s.
// Both forms at once, one replica each: an HTTP 410 Status (r1) and a 200 watch whose first event
// is an in-band ERROR with a 410 Status (r2); r3's watch is left alone.
import assert from "node:assert/strict";
import { figure, observe, PERMISSIVE_GATES, startChaos } from "./harness.ts";

const WINDOW_MS = 30_000;
const MAX_LISTS = 7;

Deno.test("Node watches answered 410 Gone are relisted with a backoff: at most 7 lists in 30 s", async () => {
  await using chaos = await startChaos({
    policy:
      `rules: [{ name: heal, match: ['heal="true"'], actions: [cordon] }]\ngates: ${PERMISSIVE_GATES}\nacknowledge: [minHealthyZero, highRate]\n`,
  });
  const [r1, r2, r3] = chaos.replicas;
  const message = "too old resource version: 1 (2)";
  r1.proxy.fault({
    name: "watch-http-410",
    path: "/api/v1/nodes",
    watch: true,
    action: { status: 410, reason: "Expired", message },
  });
  r2.proxy.fault({
    name: "watch-event-410",
    path: "/api/v1/nodes",
    watch: true,
    action: { watchError: 410, reason: "Expired", message },
  });
  const start = performance.now();
  r1.proxy.endWatches();
  r2.proxy.endWatches();
  await observe(WINDOW_MS);
  const end = performance.now();
  const lists = (r: typeof r1) => r.proxy.nodeLists(start).filter((e) => e.t < end).length;
  const watches = (r: typeof r1) =>
    r.proxy.entries(["node-watch"], start).filter((e) => e.t < end).length;
  const [l1, l2, l3] = [lists(r1), lists(r2), lists(r3)];
  figure(
    `410 storm, full Node lists in 30 s: ${r1.name} (HTTP 410) ${l1} (${
      watches(r1)
    } watches), ${r2.name} (in-band ERROR 410) ${l2} (${
      watches(r2)
    } watches), ${r3.name} (no fault) ${l3}; bound ${MAX_LISTS}`,
  );
  assert.ok(l1 <= MAX_LISTS, `${r1.name} listed Nodes ${l1} times in 30 s (HTTP 410)`);
  assert.ok(l2 <= MAX_LISTS, `${r2.name} listed Nodes ${l2} times in 30 s (in-band ERROR 410)`);
  assert.equal(l3, 0, `${r3.name}, whose watch was left alone, listed Nodes`);
});
