// What a hostile policy file costs `main.ts serve` under the shipped heap, at start-up and at a
// reload, measured from outside the process: its exit code, its peak RSS from ps, the time to the
// refusal, and what it said (stderr, the log, the NodeHealPolicyRefused Event). Not part of the
// tests (tests/integration/decide/policy_hostile_test.ts asserts the behaviour); this prints the figures:
//
//   deno run --allow-net=127.0.0.1,localhost --allow-read --allow-write --allow-run --allow-env \
//     tests/bench/hostile_policy.ts [--json] [name...]
import { startEmbeddedCluster } from "../../lib/embedded/cluster.ts";
import { HOSTILE_POLICIES, writeHostilePolicy } from "../support/hostile_policies.ts";
import { rssMiB, startServe } from "../support/processes.ts";

const JSON_OUT = Deno.args.includes("--json");
const only = Deno.args.filter((a) => !a.startsWith("--"));
const SECRET = "XXXXSECRETXXXX";

/** Polls a process's RSS until `done` settles; the largest seen (MiB). */
async function peakWhile(pid: number, done: Promise<unknown>): Promise<number> {
  let peak = 0;
  let over = false;
  done.finally(() => over = true);
  while (!over) {
    peak = Math.max(peak, await rssMiB(pid).catch(() => 0));
    await new Promise((r) => setTimeout(r, 25));
  }
  return peak;
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/** `serve --config FILE` to its end, or to its start-up line (then stopped): code, time, peak RSS. */
async function atStartup(path: string, kubeconfig: string) {
  const t0 = performance.now();
  const child = startServe([
    "--listen=127.0.0.1:0",
    `--kubeconfig=${kubeconfig}`,
    `--config=${path}`,
  ]);
  let stdout = "";
  const reading = (async () => {
    for await (const c of child.stdout.pipeThrough(new TextDecoderStream())) stdout += c;
  })();
  const stderrText = text(child.stderr);
  let code: number | null = null;
  const exited = child.status.then((s) => code = s.code);
  const started = (async () => {
    while (code === null && !stdout.includes("listening on")) {
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const peak = await peakWhile(child.pid, started);
  const ms = performance.now() - t0;
  const outcome = code === null ? "started" : `exited ${code}`;
  if (code === null) child.kill("SIGTERM");
  await exited;
  await reading;
  const stderr = await stderrText;
  return {
    outcome,
    ms: Math.round(ms),
    peakMiB: Math.round(peak),
    stderrLines: stderr.split("\n").filter((l) => l.trim()).length,
    stderrBytes: stderr.length,
    stderr: stderr.slice(0, 300),
    leaks: (stdout + stderr).includes(SECRET),
  };
}

/** `serve` on a valid policy, the file then replaced by the hostile one: what happened. */
async function atReload(path: string, kubeconfig: string, dir: string) {
  const file = `${dir}/reload.yaml`;
  await Deno.writeTextFile(file, "gates: { maxConcurrent: 3 }\n");
  const child = startServe([
    "--listen=127.0.0.1:0",
    `--kubeconfig=${kubeconfig}`,
    `--config=${file}`,
  ]);
  let log = "";
  const reading = Promise.all([child.stdout, child.stderr].map(async (s) => {
    for await (const c of s.pipeThrough(new TextDecoderStream())) log += c;
  }));
  const deadline = Date.now() + 20_000;
  while (!log.includes("listening on") && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /"url":"([^"]+)"/.exec(log)?.[1];
  const before = await rssMiB(child.pid);
  await Deno.copyFile(path, file);
  const t0 = performance.now();
  let exited: number | null = null;
  child.status.then((s) => exited = s.code);
  let outcome = "nothing within 30 s";
  const watching = (async () => {
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      if (exited !== null) return outcome = `exited ${exited}`;
      if (/Refused the edited policy/.test(log)) return outcome = "refused";
      if (/Applied the edited policy/.test(log)) return outcome = "applied";
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const peak = await peakWhile(child.pid, watching);
  const ms = Math.round(performance.now() - t0);
  let alive = false;
  if (url && exited === null) {
    alive = await fetch(`${url}/healthz`).then(async (r) => (await r.body?.cancel(), r.ok))
      .catch(() => false);
  }
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  await child.status;
  await reading;
  const line = log.split("\n").find((l) => l.includes("Refused the edited policy")) ?? "";
  return {
    outcome,
    ms,
    rssBeforeMiB: Math.round(before),
    peakMiB: Math.round(peak),
    alive,
    logLineBytes: line.length,
    leaks: log.includes(SECRET),
  };
}

async function main() {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-hostile-policy-" });
  await using cluster = await startEmbeddedCluster({ workers: 3 });
  const kubeconfig = `${dir}/kubeconfig`;
  await Deno.writeTextFile(kubeconfig, cluster.kubeconfig());
  const results: Record<string, unknown> = {};
  for (const name of Object.keys(HOSTILE_POLICIES)) {
    if (only.length && !only.includes(name)) continue;
    const path = await writeHostilePolicy(dir, name as keyof typeof HOSTILE_POLICIES);
    const startup = await atStartup(path, kubeconfig);
    const reload = await atReload(path, kubeconfig, dir);
    results[name] = { startup, reload };
    if (!JSON_OUT) console.log(name, JSON.stringify({ startup, reload }));
  }
  if (JSON_OUT) console.log(JSON.stringify(results));
  await Deno.remove(dir, { recursive: true });
}

await main();
