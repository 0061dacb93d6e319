// The API server's 429 says when to come back (Retry-After, details.retryAfterSeconds): node-heal
// waits that long before its next try, rather than its own short fixed backoff.
import assert from "node:assert/strict";
import { notification, withService } from "../../support/helpers.ts";

Deno.test("a 429 from the API server is tried again after its Retry-After, not on the fixed backoff", async () => {
  await using f = await withService({});
  // The first patch of a node is answered 429 with Retry-After: 1.
  f.cluster.api.injectFault({
    verb: "patch",
    resource: "nodes",
    status: 429,
    retryAfterSeconds: 1,
    times: 1,
  });
  const t0 = performance.now();
  const res = await f.post(notification("firing", [{
    labels: { alertname: "NodeHighCPU", heal: "true", instance: "172.18.0.3:9100" },
    fingerprint: "ra",
  }]));
  const answer = await res.json();
  const took = performance.now() - t0;
  assert.equal(answer.alerts[0].outcome, "cordon");
  const patches = f.cluster.api.traffic.requests.filter((r) =>
    r.verb === "patch" && r.resource === "nodes"
  );
  assert.deepEqual(patches.map((r) => r.code), [429, 200]);
  assert.ok(
    took >= 1000,
    `the retry waited the second asked for (answered after ${Math.round(took)} ms)`,
  );
});
