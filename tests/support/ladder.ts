// What the whole-ladder tests of the replacement providers share (tests/integration/
// replace_ladder*_test.ts): the policy, the alert, and what they read back through the real client
// library: the ledger, the Events of a Node, the Ready successor.
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { parsePolicy, type Policy } from "../../lib/decide/policy.ts";
import type { Replacement } from "../../lib/decide/replacements.ts";
import { notification, type ServiceFixture, waitFor } from "./helpers.ts";

/** The Events of a replaced Node, sorted. */
export const REPLACED_REASONS = [
  "NodeHealCordoned",
  "NodeHealDrainStarted",
  "NodeHealDrained",
  "NodeHealReplaceStarted",
  "NodeHealReplaced",
];

/** The Events of a Node whose replacement was refused, sorted. */
export const REFUSED_REASONS = [
  "NodeHealCordoned",
  "NodeHealDrainStarted",
  "NodeHealDrained",
  "NodeHealReplaceFailed",
  "NodeHealReplaceStarted",
];

/** A policy replacing through `replace` (the `replace:` map's keys, as YAML flow text). */
export function ladderPolicy(replace: string, timeout = "1m"): Policy {
  return parsePolicy(ladderPolicyText(replace, timeout));
}

/** {@link ladderPolicy}'s YAML, as a policy file holds it. */
export function ladderPolicyText(replace: string, timeout = "1m"): string {
  return `
rules:
  - name: heal
    match: ['heal="true"']
    actions: [cordon, drain, replace]
    replace: { ${replace}, timeout: ${timeout} }
acknowledge: [minHealthyZero]
gates: { minHealthy: 0, maxReplacing: 1 }
`;
}

/** The replace request for the Node at `ip` (heal-worker is 172.18.0.3), as Alertmanager posts it. */
export async function postReplace(
  f: Pick<ServiceFixture, "post">,
  ip = "172.18.0.3",
): Promise<void> {
  const res = await f.post(notification("firing", [{
    labels: {
      alertname: "NodeBroken",
      heal: "true",
      heal_action: "replace",
      instance: `${ip}:9100`,
    },
    fingerprint: `fp-${ip}`,
  }]));
  assert.equal(res.status, 200);
  await res.body?.cancel();
}

/** The replacement ledger as stored, read with the client library. */
export async function ledger(core: k8s.CoreV1Api): Promise<Replacement[]> {
  try {
    const cm = await core.readNamespacedConfigMap({
      name: "node-heal-replacements",
      namespace: "node-heal",
    });
    return JSON.parse(cm.data?.["replacements.json"] ?? "[]");
  } catch (err) {
    if ((err as { code?: number }).code === 404) return [];
    throw err;
  }
}

/** Waits for the first replacement in the ledger to end; returns its record. */
export function ended(f: ServiceFixture, timeoutMs = 20_000): Promise<Replacement> {
  return waitFor("the replacement's end", async () => {
    const [r] = await ledger(f.core);
    return (r?.phase === "replaced" || r?.phase === "failed") && r;
  }, timeoutMs);
}

/** The reasons of node-heal's Events on Node `node`, sorted. */
export async function reasons(core: k8s.CoreV1Api, node: string): Promise<string[]> {
  const events = await core.listNamespacedEvent({
    namespace: "default",
    fieldSelector: `involvedObject.name=${node}`,
  });
  return events.items.filter((e) => e.source?.component === "node-heal").map((e) => e.reason!)
    .sort();
}

/** Waits until the Events on `node` include `last`, then returns them all, sorted. */
export async function reasonsUntil(
  core: k8s.CoreV1Api,
  node: string,
  last: string,
): Promise<string[]> {
  await waitFor(`${last} on ${node}`, async () => (await reasons(core, node)).includes(last));
  return await reasons(core, node);
}

/** Asserts that Node `name` exists, was created after `since`, and is Ready; returns it. */
export async function assertReadySuccessor(
  core: k8s.CoreV1Api,
  name: string | undefined,
  since: string,
): Promise<k8s.V1Node> {
  assert.ok(name, "the record names a successor");
  const node = await core.readNode({ name });
  assert.equal(node.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
  assert.ok(
    new Date(node.metadata!.creationTimestamp!).getTime() >= Date.parse(since) - 1000,
    `${name} was created after the replacement started`,
  );
  assert.notEqual(node.spec?.unschedulable, true, `${name} is not cordoned`);
  return node;
}

/** Asserts that a refused replacement left Node `name` cordoned at step replace-failed. */
export async function assertLeftCordoned(core: k8s.CoreV1Api, name: string): Promise<void> {
  const node = await core.readNode({ name });
  assert.equal(node.spec?.unschedulable, true, `${name} stays cordoned`);
  assert.equal(node.metadata?.annotations?.["node-heal.io/step"], "replace-failed");
}
