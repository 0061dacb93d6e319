// Issue 25: a drain decided earlier (a cordon with drainAfter) is a plan, not a licence. When what
// it depends on changes before it is due, it does not start: node-heal paused (the namespace
// annotation, or the policy), the node no longer selected (gates.nodeSelector) or excluded
// (node-heal.io/exclude=true), its rule renamed (another rule, one that evicts standalone pods,
// must not stand in for it) or no longer draining. The node stays cordoned, and an Event
// NodeHealDrainHalted says why. A drain already running (blocked by a PodDisruptionBudget) stops
// within one round of a pause, with the same Event.
//
// The pause and the policy file are read every 5 s; drainAfter leaves room for that read and as
// much again. The global causes (the two pauses) are steps of their own, one fresh node each; the
// four per-node causes share one step, one fresh node each, each Event naming its own cause.
import assert from "node:assert/strict";
import { waitFor } from "../support/wait.ts";
import { type Chaos, figure, type KubeObject, observe, secs, startChaos } from "./harness.ts";

const DRAIN_AFTER_S = 12;
/** After the drain was due: time for a drain that wrongly started to show its first eviction. */
const MARGIN_MS = 3000;
/** The longest wait between two rounds of a drain blocked by a budget. */
const ROUND_MS = 5000;

const GATES = `gates:
  minHealthy: 0
  maxConcurrent: 20
  rate: { max: 10000, window: 1h }
  cooldown: 0s`;

/** The policy: one rule per step, and first the rule a renamed rule must not fall back to. */
function policy(
  options: { paused?: boolean; selector?: boolean; renamed?: boolean; noDrain?: boolean } = {},
): string {
  const rule = (name: string, alertname: string, extra = "") =>
    `  - name: ${name}\n    match: ['heal="true"', 'alertname="${alertname}"']\n${extra}`;
  return [
    "acknowledge: [minHealthyZero, highRate]",
    "rules:",
    rule(
      "standalone",
      "NodeStandalone",
      "    actions: [drain]\n    drain: { evictStandalone: true }",
    ),
    rule("heal", "NodeDown", `    actions: [drain]\n    drainAfter: ${DRAIN_AFTER_S}s`),
    rule(
      options.renamed ? "heal-renamed-v2" : "heal-renamed",
      "NodeRenamed",
      `    actions: [drain]\n    drainAfter: ${DRAIN_AFTER_S}s`,
    ),
    rule(
      "heal-nodrain",
      "NodeNoDrain",
      `    actions: [${options.noDrain ? "cordon" : "drain"}]\n    drainAfter: ${DRAIN_AFTER_S}s`,
    ),
    rule("heal-now", "NodeDrainNow", "    actions: [drain]"),
    GATES,
    ...(options.paused ? ["  paused: true"] : []),
    ...(options.selector ? ['  nodeSelector: { chaos-selected: "yes" }'] : []),
    "",
  ].join("\n");
}

/** What one halted drain left behind. */
interface Halt {
  cause: string;
  node: string;
  /** What the Event's message must name. */
  names: RegExp;
  due: number;
  seen: number;
  /**
   * When the cause was lifted, if it was (a pause): the drain, told and left due, may start from
   * then on, at the next look at its Node (the sweep, each minute).
   */
  lifted?: number;
}

/** The leader's /status. */
async function leaderStatus(chaos: Chaos): Promise<Record<string, unknown>> {
  const leader = await chaos.waitLeader();
  return (await leader.status())!;
}

/** Cordons `node` through an alert to the leader; the drain's due time (performance.now()). */
async function cordon(chaos: Chaos, node: string, alertname: string): Promise<number> {
  const leader = await chaos.waitLeader();
  const { status, answer } = await chaos.fire(leader, await chaos.alert(node, { alertname }));
  assert.equal(status, 200, JSON.stringify(answer));
  const drainAt = await waitFor(`${node} cordoned with a drain-at`, async () => {
    const n = await chaos.api.node(node);
    const at = n?.metadata.annotations?.["node-heal.io/drain-at"];
    return (n?.spec as { unschedulable?: boolean })?.unschedulable && at ? at : undefined;
  }, 10_000);
  return performance.now() + (Date.parse(drainAt) - Date.now());
}

/** Waits until the leader's /status says `check`; when (performance.now()). */
async function seen(
  chaos: Chaos,
  what: string,
  check: (status: Record<string, unknown>) => boolean,
): Promise<number> {
  await waitFor(what, async () => check(await leaderStatus(chaos)), 15_000);
  return performance.now();
}

const pauses = (s: Record<string, unknown>) => s.pauses as { policy: boolean; cluster: boolean };

Deno.test("a drain decided earlier is halted by what changed since, and its node stays cordoned", async () => {
  await using chaos = await startChaos({
    policy: policy(),
    workers: 7,
    beforeReplicas: async (api) => {
      // Every worker but heal-worker4 is in the selector that step 3 puts in force.
      for (const i of [1, 2, 3, 5, 6, 7]) {
        await api.patchNode(i === 1 ? "heal-worker" : `heal-worker${i}`, {
          metadata: { labels: { "chaos-selected": "yes" } },
        });
      }
    },
  });
  const podsOf = new Map<string, string[]>();
  for (const i of [1, 2, 3, 4, 5, 6, 7]) {
    const node = i === 1 ? "heal-worker" : `heal-worker${i}`;
    podsOf.set(node, (await chaos.api.pods(node)).map((p) => p.metadata.name));
  }
  const evictionsOf = (node: string, since = -Infinity) =>
    chaos.entries(["eviction"]).filter((e) =>
      e.t >= since && podsOf.get(node)!.includes(e.name ?? "")
    );
  const halts: Halt[] = [];
  const settle = async (steps: Halt[]) => {
    const until = Math.max(...steps.map((s) => s.due)) + MARGIN_MS;
    await observe(Math.max(0, until - performance.now()));
    for (const s of steps) {
      halts.push(s);
      figure(await describe(chaos, s, evictionsOf(s.node)));
    }
  };

  // 1. Paused by the namespace annotation.
  let due = await cordon(chaos, "heal-worker", "NodeDown");
  await chaos.api.annotateNamespace("node-heal", "node-heal.io/paused", "true");
  let at = await seen(chaos, "the namespace pause", (s) => pauses(s).cluster);
  await settle([{ cause: "namespace pause", node: "heal-worker", names: /paused/, due, seen: at }]);
  halts[halts.length - 1].lifted = performance.now();
  await chaos.api.annotateNamespace("node-heal", "node-heal.io/paused", null);
  await seen(chaos, "the namespace pause lifted", (s) => !pauses(s).cluster);

  // 2. Paused by the policy.
  due = await cordon(chaos, "heal-worker2", "NodeDown");
  await chaos.setPolicy(policy({ paused: true }));
  at = await seen(chaos, "the policy pause", (s) => pauses(s).policy);
  await settle([{ cause: "policy pause", node: "heal-worker2", names: /paused/, due, seen: at }]);
  halts[halts.length - 1].lifted = performance.now();
  await chaos.setPolicy(policy());
  await seen(chaos, "the policy pause lifted", (s) => !pauses(s).policy);

  // 3 to 6, one fresh node each: not selected, excluded, rule renamed, rule no longer drains.
  const dues = {
    selector: await cordon(chaos, "heal-worker4", "NodeDown"),
    excluded: await cordon(chaos, "heal-worker5", "NodeDown"),
    renamed: await cordon(chaos, "heal-worker3", "NodeRenamed"),
    noDrain: await cordon(chaos, "heal-worker6", "NodeNoDrain"),
  };
  await chaos.api.patchNode("heal-worker5", {
    metadata: { labels: { "node-heal.io/exclude": "true" } },
  });
  await chaos.setPolicy(policy({ selector: true, renamed: true, noDrain: true }));
  at = await seen(chaos, "the edited policy", (s) => {
    const rules = (s.policy as { rules: { name: string }[] }).rules.map((r) => r.name);
    return rules.includes("heal-renamed-v2");
  });
  await settle([
    {
      cause: "nodeSelector",
      node: "heal-worker4",
      names: /protected|nodeSelector/,
      due: dues.selector,
      seen: at,
    },
    {
      cause: "exclude label",
      node: "heal-worker5",
      names: /excluded/,
      due: dues.excluded,
      seen: at,
    },
    {
      cause: "rule renamed",
      node: "heal-worker3",
      names: /heal-renamed/,
      due: dues.renamed,
      seen: at,
    },
    {
      cause: "drain removed from the rule",
      node: "heal-worker6",
      names: /heal-nodrain/,
      due: dues.noDrain,
      seen: at,
    },
  ]);

  // 7. A drain running (its eviction blocked by a budget) when the namespace pause comes.
  const running = "heal-worker7";
  await chaos.api.blockEviction(running);
  await cordon(chaos, running, "NodeDrainNow");
  await waitFor("two blocked evictions", () => evictionsOf(running).length >= 2, 15_000);
  await chaos.api.annotateNamespace("node-heal", "node-heal.io/paused", "true");
  const pausedAt = await seen(chaos, "the namespace pause", (s) => pauses(s).cluster);
  await observe(ROUND_MS + 500 + 4000);
  const afterRound = evictionsOf(running, pausedAt + ROUND_MS + 500);
  const runningEvent = await haltEvent(chaos, running);
  figure(
    `running drain of ${running}, namespace pause seen: ${
      evictionsOf(running, pausedAt).length
    } evictions after, ${afterRound.length} more than one round (${secs(ROUND_MS)}) after; ${
      eventText(runningEvent)
    }`,
  );

  // Whole-run checks: nothing evicted from a halted node while its cause held (a pause lifted lets
  // the drain start, as designed), every node cordoned, every Event naming its cause.
  const failures: string[] = [];
  for (const h of halts) {
    const evicted = evictionsOf(h.node).filter((e) => h.lifted === undefined || e.t < h.lifted);
    if (h.seen > h.due) failures.push(`${h.cause}: seen only after the drain was due`);
    if (evicted.length > 0) {
      failures.push(`${h.cause}: ${evicted.length} evictions from ${h.node}`);
    }
    if (!(await chaos.api.cordoned(h.node))) failures.push(`${h.cause}: ${h.node} uncordoned`);
    const event = await haltEvent(chaos, h.node);
    if (
      !event || !h.names.test(event.message ?? "") || !/stays cordoned/.test(event.message ?? "")
    ) {
      failures.push(`${h.cause}: ${eventText(event)}`);
    }
  }
  if (afterRound.length > 0) {
    failures.push(
      `running drain: ${afterRound.length} evictions more than one round after the pause`,
    );
  }
  if (!(await chaos.api.cordoned(running))) failures.push(`running drain: ${running} uncordoned`);
  if (!runningEvent || !/paused/.test(runningEvent.message ?? "")) {
    failures.push(`running drain: ${eventText(runningEvent)}`);
  }
  assert.deepEqual(failures, []);
});

/** The NodeHealDrainHalted Event on `node`, if there is one. */
async function haltEvent(chaos: Chaos, node: string): Promise<KubeObject | undefined> {
  return (await chaos.api.events(node)).find((e) => e.reason === "NodeHealDrainHalted");
}

function eventText(event: KubeObject | undefined): string {
  return event ? `Event NodeHealDrainHalted "${event.message}"` : "no NodeHealDrainHalted Event";
}

/** One line of figures for a halted drain. */
async function describe(
  chaos: Chaos,
  h: Halt,
  evictions: { replica: string; name?: string }[],
): Promise<string> {
  const cordoned = await chaos.api.cordoned(h.node);
  const by = [...new Set(evictions.map((e) => e.replica))].join(", ");
  const step = (await chaos.api.node(h.node))?.metadata.annotations?.["node-heal.io/step"];
  return `drain halted by ${h.cause} on ${h.node} (seen ${
    secs(h.due - h.seen)
  } before due): ${evictions.length} evictions${by ? ` by ${by}` : ""}${
    evictions.length ? ` (${evictions.map((e) => e.name).join(", ")})` : ""
  }, ${cordoned ? "still cordoned" : "uncordoned"} (step ${step}), ${
    eventText(await haltEvent(chaos, h.node))
  }`;
}
