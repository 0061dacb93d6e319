import assert from "node:assert/strict";
import { nodesFromPrometheus } from "../../../lib/backtest/cluster_source.ts";
import { PrometheusApi } from "../../../lib/backtest/prometheus.ts";
import { DEFAULT_POLICY } from "../../../lib/decide/policy.ts";
import { startFakePrometheus, success } from "../../fakes/prometheus.ts";

const FROM = new Date("2026-11-01T00:00:00Z");
const TO = new Date("2026-11-02T00:00:00Z");

Deno.test("nodesFromPrometheus() leaves out a creation time that is not a time (+Inf, NaN, beyond a date's range)", async () => {
  const created: Record<string, string> = { a: "+Inf", b: "NaN", c: "1e20", d: "1793491200" };
  await using prom = startFakePrometheus(({ form }) => {
    const query = form.get("query")!;
    const nodes = Object.keys(created);
    if (query.includes("kube_node_info")) {
      return success("vector", nodes.map((node) => ({ metric: { node }, value: [0, "1"] })));
    }
    if (query.includes("kube_node_created")) {
      return success(
        "vector",
        nodes.map((node) => ({ metric: { node }, value: [0, created[node]] })),
      );
    }
    return success("vector", []);
  });
  const nodes = await nodesFromPrometheus(new PrometheusApi(prom.url), {
    from: FROM,
    to: TO,
    policy: [DEFAULT_POLICY],
  });
  assert.deepEqual(
    nodes.map((n) => [n.metadata.name, n.metadata.creationTimestamp]),
    [["a", undefined], ["b", undefined], ["c", undefined], ["d", "2026-11-01T00:00:00.000Z"]],
  );
});
