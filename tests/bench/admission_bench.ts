// `deno bench --allow-read --allow-env tests/bench/admission_bench.ts`: what taking one Node's
// node-heal.io state into the index costs (decide/admission.ts: the seal, the schema), then
// reading it as decisions do, for a Node of node-heal's own and for the hostile Node of issue 26
// (9,000 remediation times, 243 KB, unsealed; the same sealed). Reported, not asserted.
import { StateAdmission } from "../../lib/decide/admission.ts";
import { sealPatch, StateSeal } from "../../lib/decide/seal.ts";
import { ANNOTATIONS, HISTORY, readState, remediations } from "../../lib/decide/node_state.ts";
import type { Node } from "../../lib/base/node.ts";

const seal = new StateSeal(new Uint8Array(32).fill(3));
const admission = new StateAdmission({ seal, now: () => new Date(), report: () => {} });
const hostile = JSON.stringify(Array(9000).fill("2026-12-06T11:00:00.000Z"));

function node(annotations: Record<string, string>): Node {
  return { metadata: { name: "w1", uid: "u1", annotations }, spec: { unschedulable: true } };
}

/** `annotations` as node-heal writes them: whole, and sealed. */
function sealed(annotations: Record<string, string>): Record<string, string> {
  const patch = sealPatch(node({}), { metadata: { annotations } }, seal);
  return Object.fromEntries(
    Object.entries(patch.metadata.annotations!).filter(([, v]) => v !== null),
  ) as Record<string, string>;
}

const ours = sealed({
  [ANNOTATIONS.cordonedBy]: "node-heal",
  [ANNOTATIONS.step]: "draining",
  [ANNOTATIONS.alerts]: JSON.stringify({
    fp: { alertname: "NodeDown", since: "2026-12-06T10:00:00Z", seen: "2026-12-06T10:30:00Z" },
  }),
  [HISTORY.remediatedAt]: JSON.stringify(["2026-12-06T10:00:00.000Z"]),
});
const hostileSealed = sealed({ [HISTORY.remediatedAt]: hostile });

/** Admits a fresh Node object (as a watch event brings one) and reads it as decisions do. */
function look(annotations: Record<string, string>): void {
  const admitted = admission.admit(node({ ...annotations }));
  readState(admitted);
  remediations(admitted);
}

Deno.bench("a Node of node-heal's own, sealed", () => look(ours));
Deno.bench("a Node without node-heal's state", () => look({}));
Deno.bench(
  "the hostile Node: 9,000 remediation times, unsealed",
  () => look({ [HISTORY.remediatedAt]: hostile }),
);
Deno.bench("the hostile value sealed (a key holder's): refused unread", () => look(hostileSealed));
