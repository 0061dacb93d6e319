// Issue 25: the replacement ledger (ConfigMap node-heal-replacements, "replacements.json") emptied
// by hand while a replacement is in flight must not free its place: with maxReplacing 1, a second
// node's replacement waits until the first has ended (its Node gone, a successor Ready). Proven
// from the proxies' logs: one NodeClaim delete, whoever sent it, until the first successor is
// Ready. Twice: the leader that started the first replacement goes on leading; and it stops right
// after the ledger was emptied, so that the next leader knows the ledger only as emptied.
import assert from "node:assert/strict";
import { waitFor } from "../support/wait.ts";
import { figure, type KubeObject, observe, secs, startChaos } from "./harness.ts";

const POLICY = `rules:
  - name: replace
    match: ['heal="true"']
    actions: [replace]
    replace: { provider: karpenter }
gates:
  minHealthy: 0
  maxConcurrent: 20
  rate: { max: 10000, window: 1h }
  cooldown: 0s
  maxReplacing: 1
  replaceRate: { max: 100, window: 1h }
acknowledge: [replaceByDefault, minHealthyZero, highRate]
`;

const LEDGER = "/api/v1/namespaces/node-heal/configmaps/node-heal-replacements";

/** Whether a Node is Ready. */
function ready(node: KubeObject): boolean {
  const conditions = (node.status as { conditions?: { type: string; status: string }[] })
    ?.conditions ?? [];
  return conditions.some((c) => c.type === "Ready" && c.status === "True");
}

/** The phase of `node`'s replacement in a ledger write's body, if it records one. */
function phaseOf(body: string | undefined, node: string): string | undefined {
  try {
    const data = JSON.parse(body ?? "").data?.["replacements.json"];
    return (JSON.parse(data) as { node: string; phase: string }[]).find((r) => r.node === node)
      ?.phase;
  } catch {
    return undefined;
  }
}

/** `+1.2 s` after `from`. */
function plus(t: number, from: number): string {
  return `+${secs(t - from)}`;
}

async function emptiedLedger(options: { failover: boolean }) {
  await using chaos = await startChaos({ policy: POLICY });
  const claims = await chaos.api.nodeClaims();
  const [first, second] = ["heal-worker", "heal-worker2"];
  const seeded = new Set((await chaos.api.list("/api/v1/nodes")).map((n) => n.metadata.name));
  const leader = await chaos.waitLeader();
  const firstAlert = await chaos.alert(first, { alertname: "NodeBroken" });
  const secondAlert = await chaos.alert(second, { alertname: "NodeBroken" });
  assert.equal((await chaos.fire(leader, firstAlert)).status, 200);
  const deletes = () => chaos.entries(["nodeclaim-delete"]);
  const requested = await waitFor(
    `the NodeClaim of ${first} deleted`,
    () => deletes().find((e) => e.name === claims.get(first)),
    20_000,
  );
  // The first replacement ends when a successor is Ready: watched from here on, every 20 ms.
  let successor: { name: string; t: number } | undefined;
  const watching = waitFor("a successor Ready", async () => {
    const nodes = await chaos.api.list("/api/v1/nodes");
    const fresh = nodes.find((n) => !seeded.has(n.metadata.name) && ready(n));
    return fresh ? { name: fresh.metadata.name, t: performance.now() } : undefined;
  }, 30_000).then((s) => successor = s);

  // A person empties the ledger while the first replacement is in flight, once the leader has
  // recorded the provider's answer (phase "requested"): nothing it writes later refills it.
  await waitFor(
    "the first replacement recorded as requested",
    () =>
      leader.proxy.entries(["configmap-write"], requested.t).some((e) =>
        e.status !== undefined && e.status < 300 && phaseOf(e.body, first) === "requested"
      ),
    10_000,
  );
  const ledger = await waitFor<KubeObject>("the ledger", () => chaos.api.get(LEDGER), 5000);
  await chaos.api.must("PUT", LEDGER, {
    ...ledger,
    data: { ...ledger.data, "replacements.json": "[]" },
  });
  const emptied = performance.now();
  if (options.failover) await leader.stop();
  const next = await chaos.waitLeader({ what: "a leader" });
  assert.equal((await chaos.fire(next, secondAlert)).status, 200);
  await watching;
  await waitFor(
    `the NodeClaim of ${second} deleted`,
    () => deletes().some((e) => e.name === claims.get(second)),
    15_000,
  ).catch(() => undefined);
  await observe(500);

  const ended = successor!.t;
  const before = deletes().filter((e) => e.t < ended);
  const secondDelete = deletes().find((e) => e.name === claims.get(second));
  figure(
    `emptied ledger (${
      options.failover ? `leader ${leader.name} stopped after, ${next.name} leads` : "same leader"
    }): ${before.length} NodeClaim deletes while the first replacement was in flight; ` +
      `${first}'s by ${requested.replica} at +0.0 s, ledger emptied ${
        plus(emptied, requested.t)
      }, ${second}'s ${
        secondDelete
          ? `by ${secondDelete.replica} ${plus(secondDelete.t, requested.t)}`
          : "not deleted"
      }, successor ${successor!.name} Ready ${plus(ended, requested.t)}`,
  );
  assert.equal(
    before.length,
    1,
    `NodeClaim deletes before the first replacement ended: ${before.map((e) => e.name)}`,
  );
}

Deno.test("an emptied replacement ledger does not let a second replacement start while the first is in flight", async () => {
  await emptiedLedger({ failover: false });
});

Deno.test("an emptied replacement ledger does not let a second replacement start after a failover either", async () => {
  await emptiedLedger({ failover: true });
});
