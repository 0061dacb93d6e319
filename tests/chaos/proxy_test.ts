// The chaos proxy itself, in front of an embedded cluster: it passes requests and watch streams
// on, logs each with its kind and status, answers faults by rule, and ends watches when told.
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../lib/embedded/cluster.ts";
import { waitFor } from "../support/wait.ts";
import { classify, startProxy } from "./proxy.ts";

Deno.test("the chaos proxy passes requests on and logs each with its kind and status", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 1 });
  await using proxy = await startProxy({ upstream: cluster.url, replica: "r1" });
  const list = await fetch(`${proxy.url}/api/v1/nodes?limit=100`);
  assert.equal(list.status, 200);
  assert.equal((await list.json()).items.length, 2);
  const missing = await fetch(`${proxy.url}/api/v1/nodes/nowhere`, {
    method: "PATCH",
    headers: { "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ metadata: { labels: { a: "b" } } }),
  });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  assert.deepEqual(
    proxy.log.map((e) => [e.replica, e.method, e.kind, e.status, e.name]),
    [
      ["r1", "GET", "node-list", 200, undefined],
      ["r1", "PATCH", "node-patch", 404, "nowhere"],
    ],
  );
  assert.equal(proxy.log[1].body, '{"metadata":{"labels":{"a":"b"}}}');
  assert.equal(proxy.nodeLists().length, 1);
  assert.equal(proxy.actions().length, 1);
});

Deno.test("the chaos proxy answers faults by rule: a Status, an in-band watch ERROR, a hold", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 1 });
  await using proxy = await startProxy({ upstream: cluster.url, replica: "r1" });
  const remove = proxy.fault({ name: "nodes-500", path: "/api/v1/nodes", action: { status: 500 } });
  const failed = await fetch(`${proxy.url}/api/v1/nodes`);
  assert.equal(failed.status, 500);
  assert.deepEqual(
    [(await failed.json()).kind, proxy.log[0].fault],
    ["Status", "nodes-500"],
  );
  remove();
  proxy.fault({
    name: "gone",
    path: "/api/v1/nodes",
    watch: true,
    action: { watchError: 410, reason: "Expired" },
  });
  const watch = await fetch(`${proxy.url}/api/v1/nodes?watch=true&resourceVersion=1`);
  const event = JSON.parse((await watch.text()).trim());
  assert.deepEqual([event.type, event.object.code, event.object.reason], ["ERROR", 410, "Expired"]);
  // A list still passes: the rule is for watches.
  const list = await fetch(`${proxy.url}/api/v1/nodes`);
  assert.equal(list.status, 200);
  await list.body?.cancel();

  const { promise: release, resolve } = Promise.withResolvers<void>();
  proxy.fault({ name: "hold", path: "/version", action: { hold: release }, times: 1 });
  const held = fetch(`${proxy.url}/version`);
  await waitFor("the held request logged", () => proxy.log.some((e) => e.fault === "hold"));
  assert.equal(proxy.log.at(-1)!.status, undefined);
  resolve();
  const version = await held;
  assert.equal(version.status, 200);
  await version.body?.cancel();
});

Deno.test("the chaos proxy streams watch events and ends open watches when told", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 1 });
  await using proxy = await startProxy({ upstream: cluster.url, replica: "r1" });
  const res = await fetch(`${proxy.url}/api/v1/nodes?watch=true`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("heal-worker")) text += (await reader.read()).value ?? "";
  assert.equal(proxy.openWatches, 1);
  assert.equal(proxy.endWatches(), 1);
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
  assert.equal(proxy.openWatches, 0);
  assert.equal(proxy.log[0].kind, "node-watch");
});

Deno.test("the chaos proxy holds open watches when told: nothing passes until they are let go, then what was held follows", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 1 });
  await using proxy = await startProxy({ upstream: cluster.url, replica: "r1" });
  const res = await fetch(`${proxy.url}/api/v1/nodes?watch=true`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("heal-worker")) text += (await reader.read()).value ?? "";
  const { promise: release, resolve } = Promise.withResolvers<void>();
  assert.equal(proxy.holdWatches(release), 1);
  const patched = await fetch(`${cluster.url}/api/v1/nodes/heal-worker`, {
    method: "PATCH",
    headers: { "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ metadata: { labels: { held: "yes" } } }),
  });
  assert.equal(patched.status, 200);
  await patched.body?.cancel();
  // What was on its way before the hold may still come; the change made after it may not.
  let heard = "";
  const reading = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      heard += r.value;
      if (heard.includes('"held":"yes"')) return;
    }
  })();
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(!heard.includes('"held":"yes"'), "nothing passed while held");
  assert.equal(proxy.openWatches, 1, "the stream stays open");
  resolve();
  await reading;
  assert.ok(heard.includes('"held":"yes"'), "what was held follows");
  await reader.cancel();
});

Deno.test("classify() tells evictions, deletes and ledger writes apart", () => {
  const kind = (method: string, path: string) => classify(method, new URL(`http://x${path}`));
  assert.equal(kind("POST", "/api/v1/namespaces/default/pods/web-1/eviction"), "eviction");
  assert.equal(kind("DELETE", "/api/v1/namespaces/default/pods/web-1"), "pod-delete");
  assert.equal(kind("PATCH", "/api/v1/nodes/heal-worker"), "node-patch");
  assert.equal(kind("DELETE", "/api/v1/nodes/heal-worker"), "node-delete");
  assert.equal(
    kind("DELETE", "/apis/karpenter.sh/v1/nodeclaims/general-abcde"),
    "nodeclaim-delete",
  );
  assert.equal(
    kind("DELETE", "/apis/cluster.x-k8s.io/v1beta1/namespaces/default/machines/m-1"),
    "machine-delete",
  );
  assert.equal(
    kind("PUT", "/api/v1/namespaces/node-heal/configmaps/node-heal-replacements"),
    "configmap-write",
  );
  assert.equal(
    kind("PUT", "/apis/coordination.k8s.io/v1/namespaces/node-heal/leases/node-heal"),
    "lease-write",
  );
  assert.equal(
    kind("GET", "/apis/coordination.k8s.io/v1/namespaces/node-heal/leases/node-heal"),
    "lease-read",
  );
  assert.equal(kind("POST", "/api/v1/namespaces/default/events"), "event-write");
  assert.equal(kind("GET", "/api/v1/nodes?limit=100"), "node-list");
  assert.equal(kind("GET", "/api/v1/nodes?watch=true"), "node-watch");
  assert.equal(kind("GET", "/api/v1/nodes/heal-worker"), "read");
});
