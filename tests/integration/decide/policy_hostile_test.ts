// Hostile policy files against `main.ts serve` under the shipped heap (issue 27): each is refused
// at start-up in one line on stderr with exit code 2, and at a reload with the policy in force kept,
// the process alive, the log line and the NodeHealPolicyRefused Event short and free of the secret
// the file wrote inline. An acknowledged danger loads with one warning line each.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import {
  HOSTILE_POLICIES,
  INLINE_SECRET,
  writeHostilePolicy,
} from "../../support/hostile_policies.ts";
import { readyReplica, rssMiB, startServe, stop, watched } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

type Name = keyof typeof HOSTILE_POLICIES;
const NAMES = Object.keys(HOSTILE_POLICIES) as Name[];

/** What each refusal says, by file. */
const SAYS: Record<Name, RegExp> = {
  aliases: /it is larger than 262144 bytes \(\d+ bytes\); it was not read/,
  aliasesSmall: /it holds more than 20000 values \(an alias counts as all it repeats\)/,
  nestedSmall: /it nests collections deeper than 32 levels \(line 1\)/,
  nested: /it is larger than 262144 bytes/,
  nestedBlock: /it is larger than 262144 bytes/,
  huge: /it is larger than 262144 bytes/,
  inlineSecret: /unknown key "url" in notify\[0\]; valid keys here: /,
  secretDevice: /notify\[0\]\.urlFile: cannot read the file \/dev\/zero: it is not a regular file/,
  secretInFileField:
    /notify\[0\]\.urlFile: cannot read the file \(a path not shown: it does not look like one\): NotFound/,
  duration: /field "rules\[0\]\.drainAfter" must be a duration of at most 24h, got "99999999999h"/,
  dangerous: /it is dangerous: .*\(noHealOptIn\).*\(replaceByDefault\).*\(minHealthyZero\)/,
};

/** Files refused as their sinks are made, after the cluster is reached (a secret's file). */
const SINK_REFUSALS: readonly Name[] = ["secretDevice", "secretInFileField"];

/**
 * Starts serve with hostile file `name` as its policy against `kubeconfig`; asserts it ends with
 * exit code 2 and one short line on stderr saying why, no secret anywhere; gives the line.
 */
async function refusedAtStart(dir: string, name: Name, kubeconfig: string): Promise<string> {
  const path = await writeHostilePolicy(dir, name);
  const child = startServe([
    "--listen=127.0.0.1:0",
    `--kubeconfig=${kubeconfig}`,
    `--config=${path}`,
  ]);
  const [status, stdout, stderr] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  assert.equal(status.code, 2, `${name}: ${stderr.slice(0, 500)}`);
  const lines = stderr.split("\n").filter((l) => l.trim());
  assert.equal(lines.length, 1, `${name}: one line, got ${stderr.slice(0, 500)}`);
  assert.match(lines[0], SAYS[name], name);
  assert.ok(lines[0].length < 1000, `${name}: short (${lines[0].length})`);
  assert.ok(!(stdout + stderr).includes(INLINE_SECRET), `${name}: no secret`);
  assert.ok(!(stdout + stderr).includes("hooks.slack.com"), `${name}: no URL`);
  return lines[0].replace(path, "FILE");
}

Deno.test("serve refuses each hostile policy at start-up in one line on stderr, exit code 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-hostile-start-" });
  try {
    for (const name of NAMES.filter((n) => !SINK_REFUSALS.includes(n))) {
      const line = await refusedAtStart(dir, name, `${dir}/none`);
      assert.ok(line.startsWith("node-heal: Cannot load policy FILE: "), line);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve refuses a policy whose secret file is a device, or a secret where its path belongs, at start-up: one line, exit code 2", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 1 });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-hostile-sink-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  try {
    for (const name of SINK_REFUSALS) await refusedAtStart(dir, name, `${dir}/kubeconfig`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve refuses each hostile edit of its policy, keeps the one in force, and says so briefly", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 3 });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-hostile-reload-" });
  const kubeconfig = `${dir}/kubeconfig`;
  await Deno.writeTextFile(kubeconfig, cluster.kubeconfig());
  const policy = `${dir}/policy.yaml`;
  await Deno.writeTextFile(policy, "gates: { maxConcurrent: 3 }\n");
  const p = watched(
    startServe(["--listen=127.0.0.1:0", `--kubeconfig=${kubeconfig}`, `--config=${policy}`]),
  );
  const config = new k8s.KubeConfig();
  config.loadFromString(cluster.kubeconfig());
  const core = config.makeApiClient(k8s.CoreV1Api);
  try {
    const url = await readyReplica(p);
    const before = await rssMiB(p.child.pid);
    const refusals = () =>
      core.listNamespacedEvent({ namespace: "default" }).then((l) =>
        l.items.filter((e) => e.reason === "NodeHealPolicyRefused")
      );
    let peak = before;
    for (const [i, name] of NAMES.entries()) {
      const hostile = await writeHostilePolicy(dir, name);
      await Deno.copyFile(hostile, policy);
      // Each refusal counted once: on an Event of its own, or, from the 10th distinct message
      // within 10 minutes, on the one combined Event, whose message is the latest.
      const events = await waitFor(`the refusal of ${name}`, async () => {
        peak = Math.max(peak, await rssMiB(p.child.pid));
        const found = await refusals();
        return found.reduce((n, e) => n + (e.count ?? 1), 0) === i + 1 && found;
      }, 20_000);
      const event = events.find((e) => e.message!.match(SAYS[name]));
      assert.ok(event, `${name}: an Event saying why`);
      assert.match(
        event.message!,
        /^(\(combined from similar events\): )?Refused the edited policy .*, keeping the one in force: /,
      );
      assert.ok(event.message!.length < 1100, `${name}: short (${event.message!.length})`);
      assert.ok(!event.message!.includes(INLINE_SECRET), `${name}: no secret in the Event`);
      const health = await fetch(`${url}/healthz`);
      await health.body?.cancel();
      assert.ok(health.ok, `${name}: alive`);
      const status = await (await fetch(`${url}/status`)).json();
      assert.equal(status.policy.gates.maxConcurrent, 3, `${name}: the policy in force kept`);
    }
    console.log(
      `RSS ${before.toFixed(0)} MiB before the hostile edits, ${peak.toFixed(0)} at most`,
    );
    // An acknowledged danger loads, with one warning line each.
    await Deno.writeTextFile(
      policy,
      HOSTILE_POLICIES.dangerous() +
        "acknowledge: [noHealOptIn, replaceByDefault, minHealthyZero]\n",
    );
    await waitFor("the acknowledged policy applied", async () => {
      const status = await (await fetch(`${url}/status`)).json();
      return status.policy.gates.maxConcurrent === 1;
    }, 20_000);
  } finally {
    const { code, stderr } = await stop(p);
    // Every log line, stdout's and stderr's (JSON lines too).
    const errors = [
      ...p.out.records,
      ...stderr.split("\n").flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    ];
    await Deno.remove(dir, { recursive: true });
    assert.equal(code, 0, stderr.slice(0, 2000));
    const all = JSON.stringify(p.out.records) + stderr;
    assert.ok(!all.includes(INLINE_SECRET), "no secret in the log");
    const text = (r: Record<string, unknown>) =>
      String((r.properties as { message?: string } | undefined)?.message ?? r.message);
    const warned = errors.filter((r) => text(r).startsWith("The policy acknowledges a danger"));
    assert.deepEqual(
      warned.map((r) => /\((\w+)\)$/.exec(text(r))?.[1]),
      ["noHealOptIn", "replaceByDefault", "minHealthyZero"],
    );
    const refusedLines = errors.filter((r) => text(r).startsWith("Refused the edited policy"));
    assert.equal(refusedLines.length, NAMES.length, "one log line per refused edit");
    for (const r of refusedLines) assert.ok(text(r).length < 1100);
  }
});
