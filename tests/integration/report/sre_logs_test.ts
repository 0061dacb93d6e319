// What an SRE reads from a running `main.ts serve`: rejected webhook requests at warning with
// their reason (one line per reason per window), debug lines along an alert's way, the dry run
// said in the answer, JSON answers ending with a newline, pause changes, and pretty logs without
// colour codes when stdout is not a terminal.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { nodeAddress, workerName } from "../../../lib/embedded/seed/topology.ts";
import { notification } from "../../support/alerts.ts";
import { readyReplica, startServe } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

type Record_ = Record<string, unknown> & { level?: string; properties?: Record<string, unknown> };

/** Reads JSON log lines from a stream as they come, skipping other lines (the runtime's). */
function jsonLines(stream: ReadableStream<Uint8Array>, into: Record_[]): Promise<void> {
  return (async () => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        try {
          into.push(JSON.parse(line));
        } catch {
          // Not a log record.
        }
      }
    }
  })();
}

/**
 * `main.ts serve` with its log records from both streams, as they come: the console sink writes
 * warnings and errors to stderr, the rest to stdout.
 */
function serve(args: string[]) {
  const child = startServe(args);
  const records: Record_[] = [];
  const done = Promise.all([jsonLines(child.stdout, records), jsonLines(child.stderr, records)]);
  const out = { records, done: done.then(() => {}) };
  return {
    out,
    records,
    async stop() {
      child.kill("SIGTERM");
      const status = await child.status;
      await done;
      assert.equal(status.code, 0);
    },
  };
}

function post(url: string, body: string, type = "application/json") {
  return fetch(`${url}/webhook`, { method: "POST", headers: { "content-type": type }, body });
}

Deno.test("serve logs rejections once per reason, debug lines per alert, and answers a dry run as not done", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 3 });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-sre-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  const p = serve([
    "--listen=127.0.0.1:0",
    `--kubeconfig=${dir}/kubeconfig`,
    "--log-level=debug",
    "--dry-run",
  ]);
  const records = p.records;
  const rejections = (status: number) =>
    records.filter((r) =>
      r.level === "WARN" && String(r.message).startsWith("Rejected") &&
      r.properties?.status === status
    );
  try {
    const url = await readyReplica({ out: p.out } as Parameters<typeof readyReplica>[0]);
    for (let i = 0; i < 3; i++) {
      const r = await post(url, "{}", "text/plain");
      assert.equal(r.status, 415);
      assert.ok((await r.text()).endsWith("}\n"), "a JSON answer ends with a newline");
    }
    assert.equal((await post(url, "{not json")).status, 400);
    await waitFor("the 400's warning", () => rejections(400).length === 1);
    assert.equal(rejections(415).length, 1, "three 415s in a row: one line");
    assert.match(
      String(rejections(415)[0].properties?.error),
      /Unsupported content type "text\/plain"/,
    );

    const body = notification("firing", [{
      labels: { alertname: "NodeDown", heal: "true", instance: `${nodeAddress(1)}:9100` },
      fingerprint: "f-1",
    }]);
    const answer = await post(url, JSON.stringify(body));
    const text = await answer.text();
    assert.equal(answer.status, 200, text);
    assert.ok(text.endsWith("\n"));
    const result = JSON.parse(text) as { alerts: { outcome: string; message: string }[] };
    assert.equal(result.alerts[0].outcome, "cordon");
    assert.ok(
      result.alerts[0].message.startsWith(`Dry run, not done: Cordoned ${workerName(1)}`),
      result.alerts[0].message,
    );
    await waitFor(
      "the debug lines of the alert's way",
      () =>
        records.some((r) =>
          r.level === "DEBUG" && String(r.message).startsWith("Received 1 alerts")
        ) &&
        records.some((r) =>
          r.level === "DEBUG" && r.properties?.node === workerName(1) &&
          r.properties?.outcome === "cordon"
        ),
    );
    const status = await fetch(`${url}/status`);
    assert.ok((await status.text()).endsWith("\n"));
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve logs a pause set on its namespace and its end, once each", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 1 });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-pause-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  const kc = new k8s.KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const annotate = (value: string) =>
    core.patchNamespace(
      { name: "node-heal", body: { metadata: { annotations: { "node-heal.io/paused": value } } } },
      k8s.setHeaderOptions("Content-Type", "application/merge-patch+json"),
    );
  const p = serve(["--listen=127.0.0.1:0", `--kubeconfig=${dir}/kubeconfig`]);
  const lines = (prefix: string) => p.records.filter((r) => String(r.message).startsWith(prefix));
  try {
    await readyReplica({ out: p.out } as Parameters<typeof readyReplica>[0]);
    await annotate("true");
    await waitFor("the pause line", () => lines("Paused by").length === 1, 15_000);
    await annotate("false");
    await waitFor("the resume line", () => lines("Resumed").length === 1, 15_000);
    assert.equal(lines("Paused by").length, 1, "said once, not at every read");
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pretty logs piped to a file hold no colour codes", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 1 });
  const dir = await Deno.makeTempDir({ prefix: "node-heal-pretty-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  const child = startServe([
    "--listen=127.0.0.1:0",
    `--kubeconfig=${dir}/kubeconfig`,
    "--log-format=pretty",
  ]);
  let text = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  try {
    await waitFor("the start-up line", () => text.includes("listening on"), 15_000);
    assert.ok(!text.includes("\x1b["), `no escape codes in:\n${text}`);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stderr.cancel();
    await reading;
    await Deno.remove(dir, { recursive: true });
  }
});
