import assert from "node:assert/strict";
import fc from "fast-check";
import { DomainPeaks, MAX_DOMAINS_PER_KEY } from "../../../lib/backtest/domain_peaks.ts";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { isAvailable } from "../../../lib/decide/selection.ts";
import type { Node } from "../../../lib/base/node.ts";
import { workerNode } from "../../fakes/fake_client.ts";

const ZONE = "topology.kubernetes.io/zone";
const POLICY = parsePolicy(`
gates:
  domains: [{ key: ${ZONE}, maxUnavailable: 1 }]
  breaker: { key: karpenter.sh/nodepool, alerting: 3, within: 5m, quiet: 15m }
`);

function node(i: number, o: { zone: string; pool?: string; out?: boolean; cp?: boolean }): Node {
  const n = workerNode(`w${i}`, `10.0.0.${i + 1}`);
  n.metadata.labels![ZONE] = o.zone;
  if (o.pool) n.metadata.labels!["karpenter.sh/nodepool"] = o.pool;
  if (o.cp) n.metadata.labels!["node-role.kubernetes.io/control-plane"] = "";
  if (o.out) n.spec = { unschedulable: true };
  return n;
}

Deno.test("DomainPeaks follows the keys of gates.domains and the breaker, and keeps each domain's highest out and when first reached", () => {
  const peaks = new DomainPeaks(POLICY.gates);
  assert.deepEqual(peaks.keys, [ZONE, "karpenter.sh/nodepool"]);
  const t = (m: number) => new Date(Date.UTC(2026, 10, 2, 0, m));
  for (let i = 0; i < 4; i++) peaks.set(node(i, { zone: "a", pool: "p" }));
  peaks.set(node(9, { zone: "a", cp: true, out: true })); // protected: never counted
  peaks.note(t(0));
  peaks.set(node(0, { zone: "a", pool: "p", out: true }));
  peaks.note(t(1));
  peaks.set(node(1, { zone: "a", pool: "p", out: true }));
  peaks.note(t(2));
  peaks.set(node(0, { zone: "a", pool: "p" }));
  peaks.set(node(2, { zone: "a", pool: "p", out: true }));
  peaks.note(t(3)); // back to 2 out: not a new peak
  peaks.remove("w1");
  peaks.note(t(4));
  assert.deepEqual(peaks.peaks(), [
    { key: ZONE, value: "a", nodes: 4, peak: 2, at: t(2).toISOString() },
    { key: "karpenter.sh/nodepool", value: "p", nodes: 4, peak: 2, at: t(2).toISOString() },
  ]);
});

Deno.test("DomainPeaks' peak is the most out ever counted at a note, for any sequence of changes", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          i: fc.integer({ min: 0, max: 5 }),
          zone: fc.constantFrom("a", "b"),
          out: fc.boolean(),
        }),
        { maxLength: 30 },
      ),
      (steps) => {
        const peaks = new DomainPeaks(POLICY.gates, [ZONE]);
        const nodes = new Map<string, Node>();
        const best = new Map<string, number>();
        for (const [m, s] of steps.entries()) {
          const n = node(s.i, { zone: s.zone, out: s.out });
          nodes.set(n.metadata.name, n);
          peaks.set(n);
          peaks.note(new Date(m * 60_000));
          for (const zone of ["a", "b"]) {
            const out = [...nodes.values()].filter((x) =>
              x.metadata.labels![ZONE] === zone && !isAvailable(x)
            ).length;
            best.set(zone, Math.max(best.get(zone) ?? 0, out));
          }
        }
        for (const p of peaks.peaks()) assert.equal(p.peak, best.get(p.value) ?? 0, p.value);
      },
    ),
  );
});

Deno.test("DomainPeaks lists at most MAX_DOMAINS_PER_KEY domains of a key, the highest peaks first", () => {
  const peaks = new DomainPeaks(POLICY.gates, ["kubernetes.io/hostname"]);
  for (let i = 0; i < MAX_DOMAINS_PER_KEY + 10; i++) {
    peaks.set(node(i, { zone: "a", out: i % 7 === 0 }));
  }
  peaks.note(new Date(0));
  const list = peaks.peaks();
  assert.equal(list.length, MAX_DOMAINS_PER_KEY);
  assert.equal(list.filter((p) => p.peak === 1).length, Math.ceil((MAX_DOMAINS_PER_KEY + 10) / 7));
  assert.equal(list[0].peak, 1);
});
