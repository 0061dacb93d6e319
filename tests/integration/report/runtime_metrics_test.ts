// `main.ts serve` as a process, scraped as Prometheus would: the build info agrees with
// `--version`, and the process and runtime metrics the Grafana dashboard reads are there.
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { readyReplica, startServe, stop, watched } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

/** The value of one sample in a Prometheus text exposition, or undefined when it is absent. */
function sample(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

Deno.test("a running serve exports nodeheal_build_info as --version says, and process and runtime metrics", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 1 });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-runtime-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  const p = watched(startServe(["--listen=127.0.0.1:0", `--kubeconfig=${dir}/kubeconfig`]));
  try {
    const url = await readyReplica(p);
    const version = await new Deno.Command(Deno.execPath(), {
      args: ["run", new URL("../../../main.ts", import.meta.url).pathname, "--version"],
      stdout: "piped",
    }).output();
    const [, v, deno] = /^node-heal (\S+) \(deno (\S+)\)$/.exec(
      new TextDecoder().decode(version.stdout).trim(),
    )!;
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.equal(sample(text, `nodeheal_build_info{version="${v}",deno="${deno}"}`), 1);
    assert.ok(sample(text, "process_resident_memory_bytes")! > 1e6);
    assert.ok(sample(text, "nodeheal_heap_used_bytes")! > 1e5);
    assert.ok(sample(text, "process_cpu_seconds_total")! > 0);
    const start = sample(text, "process_start_time_seconds")!;
    assert.ok(start > Date.now() / 1000 - 600 && start <= Date.now() / 1000, `start ${start}`);
    // Under --allow-read Deno refuses /proc/self: the metric is left out rather than shown as 0.
    assert.equal(sample(text, "process_open_fds"), undefined);
    // The lag sampler runs: a scrape shows a number, never a negative one.
    const lag = await waitFor("a lag sample", async () => {
      const t = await (await fetch(`${url}/metrics`)).text();
      return sample(t, "nodeheal_event_loop_lag_seconds");
    });
    assert.ok(lag >= 0);
    // The start-up line names the version too.
    const started = p.out.records.find((r) => String(r.message).includes("listening on"))!;
    assert.equal((started.properties as { version: string }).version, v);
  } finally {
    const { code, stderr } = await stop(p);
    assert.equal(code, 0, stderr);
    await Deno.remove(dir, { recursive: true });
  }
});
