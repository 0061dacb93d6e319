import assert from "node:assert/strict";
import { alertOf } from "../../support/alerts.ts";
import { otherCluster } from "../../../lib/decide/cluster_guard.ts";

Deno.test("otherCluster() lets every alert through when the policy names no cluster", () => {
  assert.equal(otherCluster(alertOf({ cluster: "staging" }), undefined), undefined);
  assert.equal(otherCluster(alertOf({}), undefined), undefined);
});

Deno.test("otherCluster() takes an alert as this cluster's only when it carries every label asked for", () => {
  const prod = { cluster: "prod", region: "eu-1" };
  assert.equal(otherCluster(alertOf({ cluster: "prod", region: "eu-1", x: "y" }), prod), undefined);
  assert.equal(
    otherCluster(alertOf({ cluster: "staging", region: "eu-1" }), prod),
    'The alert says cluster="staging": this node-heal acts for cluster="prod" alone (policy cluster)',
  );
  assert.equal(
    otherCluster(alertOf({ cluster: "prod" }), prod),
    'The alert has no label region: this node-heal acts for region="eu-1" alone (policy cluster)',
  );
  assert.match(
    otherCluster(alertOf({ cluster: "", region: "eu-1" }), prod)!,
    /has no label cluster/,
  );
  // Values compare exactly, as Prometheus's labels do.
  assert.match(otherCluster(alertOf({ cluster: "Prod", region: "eu-1" }), prod)!, /"Prod"/);
  assert.match(otherCluster(alertOf({ cluster: "prod ", region: "eu-1" }), prod)!, /"prod "/);
});

Deno.test("otherCluster() quotes and clips what the alert says, so its message stays one short line", () => {
  const said = otherCluster(alertOf({ cluster: `x\n${"y".repeat(500)}` }), { cluster: "prod" })!;
  assert.ok(!said.includes("\n"));
  assert.ok(said.length < 200, said);
});
