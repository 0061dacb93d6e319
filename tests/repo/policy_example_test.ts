// docs/policy.md's example policy is one a reader can try in dev mode: it parses, and its
// nodeSelector leaves some embedded workers to heal and protects others, not every one.
import assert from "node:assert/strict";
import { parsePolicy } from "../../lib/decide/policy.ts";
import { startEmbeddedCluster } from "../../lib/embedded/cluster.ts";

Deno.test("docs/policy.md's example nodeSelector matches some embedded workers and not others", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/policy.md", import.meta.url));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1];
  const selector = parsePolicy(yaml, "docs/policy.md's example").gates.nodeSelector;
  assert.ok(Object.keys(selector).length > 0, "the example sets a nodeSelector");
  await using cluster = await startEmbeddedCluster({ workers: 3 });
  const workers = ["heal-worker", "heal-worker2", "heal-worker3"].map((name) =>
    cluster.api.read("Node", name) as {
      metadata: { name: string; labels?: Record<string, string> };
    }
  );
  const selected = workers.filter((n) =>
    Object.entries(selector).every(([k, v]) => n.metadata.labels?.[k] === v)
  ).map((n) => n.metadata.name).sort();
  assert.deepEqual(selected, ["heal-worker", "heal-worker3"], "as docs/policy.md says");
});
