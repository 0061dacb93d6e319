// Leader election against the embedded API server through the real client: one of three
// candidates leads (a new install, after a lease duration), the Lease reads back over HTTP, and a
// stopped leader hands over at once.
import assert from "node:assert/strict";
import { LeaderElector } from "../../../lib/act/elector.ts";
import { connect } from "../../../lib/act/kube/client.ts";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { waitFor } from "../../support/wait.ts";

Deno.test("three candidates, one leader; stopped, it releases the Lease and another takes it", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 1 });
  const clients = ["a", "b", "c"].map(() =>
    connect({ kubeconfigYaml: cluster.kubeconfig() }).client
  );
  const electors = clients.map((client, i) =>
    new LeaderElector({
      client,
      namespace: "default",
      name: "node-heal",
      identity: ["a", "b", "c"][i],
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 100,
    })
  );
  try {
    for (const e of electors) e.start();
    // No Lease yet: the first is made a lease duration (3 s) after the candidates found none.
    const first = await waitFor("a leader", () => electors.find((e) => e.leading), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(electors.filter((e) => e.leading).length, 1, "one leader, however many tries");
    const lease = cluster.api.read("Lease", "node-heal", "default") as {
      spec: { holderIdentity: string; leaseDurationSeconds: number; leaseTransitions: number };
    };
    assert.equal(lease.spec.holderIdentity, ["a", "b", "c"][electors.indexOf(first)]);
    assert.equal(lease.spec.leaseDurationSeconds, 3);
    await first.stop();
    // Released, not left to expire: read at once, the Lease names no holder and lasts a second
    // (client-go's release), unless a candidate's next try has already taken it.
    const released = cluster.api.read("Lease", "node-heal", "default") as {
      spec: { holderIdentity?: string; leaseDurationSeconds: number };
    };
    const firstName = ["a", "b", "c"][electors.indexOf(first)];
    if (!released.spec.holderIdentity) {
      assert.equal(released.spec.leaseDurationSeconds, 1, "a released Lease lasts a second");
    } else {
      assert.notEqual(released.spec.holderIdentity, firstName, "the stopped leader let go");
    }
    const next = await waitFor(
      "another leader",
      () => electors.find((e) => e !== first && e.leading),
    );
    const after = cluster.api.read("Lease", "node-heal", "default") as {
      spec: { holderIdentity: string; leaseTransitions: number };
    };
    assert.equal(after.spec.holderIdentity, ["a", "b", "c"][electors.indexOf(next)]);
    assert.equal(after.spec.leaseTransitions, 1);
  } finally {
    await Promise.all(electors.map((e) => e.stop()));
    await Promise.all(clients.map((c) => c.close?.()));
  }
});
