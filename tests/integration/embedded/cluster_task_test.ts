// `deno task cluster` (lib/dev/cluster_mode.ts) as a real process, with the task's permissions, and
// two `main.ts serve` replicas against it: the high-availability set-up of docs/development.md.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import firing from "../../fixtures/alertmanager-0.25-firing.json" with { type: "json" };
import { waitFor } from "../../support/helpers.ts";
import {
  clusterModeArgs,
  readyReplica,
  startServe,
  stop,
  watched,
} from "../../support/processes.ts";

/** Starts cluster mode with the permissions of `deno task cluster`, writing only under `dir`. */
function startCluster(args: string[], dir = ".dev") {
  return new Deno.Command(Deno.execPath(), {
    args: clusterModeArgs(dir, args),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("deno task cluster serves the embedded cluster alone, and two serve replicas share it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-cluster-" });
  const kubeconfig = `${dir}/nested/kubeconfig`;
  const cluster = watched(startCluster([
    "--embedded-api-listen=127.0.0.1:0",
    `--embedded-kubeconfig-out=${kubeconfig}`,
    "--embedded-workers=4",
    "--log-format=json",
  ], dir));
  const replicas: ReturnType<typeof watched>[] = [];
  try {
    const yaml = await waitFor("the kubeconfig", async () => {
      try {
        return await Deno.readTextFile(kubeconfig);
      } catch {
        return undefined;
      }
    }, 15_000);
    assert.equal((await Deno.stat(kubeconfig)).mode! & 0o777, 0o600);
    const server = /server: (http:\/\/127\.0\.0\.1:\d+)/.exec(yaml)?.[1];
    assert.ok(server, yaml);
    const listening = await waitFor(
      "the cluster's start-up line",
      () => cluster.out.records.find((r) => String(r.message).startsWith("Embedded Kubernetes")),
    );
    assert.equal((listening.properties as { api: string }).api, server);
    const hint = await waitFor(
      "the cluster's hint",
      () => cluster.out.records.find((r) => String(r.message).startsWith("Try:")),
    );
    assert.match(
      String(hint?.message),
      /deno task serve --kubeconfig .* --instance a --leader-elect$/,
    );
    // The cluster alone: nothing answers a webhook beside it.
    assert.ok(!cluster.out.records.some((r) => String(r.message).includes("listening on")));

    for (const instance of ["replica-a", "replica-b"]) {
      replicas.push(watched(startServe([
        `--kubeconfig=${kubeconfig}`,
        "--listen=127.0.0.1:0",
        `--instance=${instance}`,
        "--log-format=json",
      ])));
    }
    const [a, b] = await Promise.all(replicas.map(readyReplica));
    assert.notEqual(a, b);

    const res = await fetch(`${b}/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(firing),
    });
    assert.equal(res.status, 200);
    const answer = await res.json();
    assert.equal(answer.alerts[0].outcome, "cordon", JSON.stringify(answer));

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const nodes = await core.listNode();
    assert.equal(nodes.items.length, 5);
    const worker = nodes.items.find((n) => n.metadata?.name === "heal-worker");
    assert.equal(worker?.spec?.unschedulable, true);
    const events = await core.listNamespacedEvent({
      namespace: "default",
      fieldSelector: "involvedObject.name=heal-worker",
    });
    assert.ok(
      events.items.some((e) =>
        e.reason === "NodeHealCordoned" && e.reportingInstance === "replica-b"
      ),
      JSON.stringify(events.items.map((e) => [e.reason, e.reportingInstance])),
    );
    // The other replica sees the cordon through its own watch: heal-worker is under remediation.
    await waitFor("replica-a to see the cordon", async () => {
      const status = await (await fetch(`${a}/status`)).json();
      return (status.nodes as { node: string; cordoned: boolean }[]).some((n) =>
        n.node === "heal-worker" && n.cordoned
      );
    });
  } finally {
    const stopped = await Promise.all(replicas.map(stop));
    const last = await stop(cluster);
    await Deno.remove(dir, { recursive: true });
    for (const { code, stderr } of stopped) assert.equal(code, 0, stderr);
    assert.equal(last.code, 0, last.stderr);
  }
  const messages = cluster.out.records.map((r) => String(r.message));
  assert.ok(messages.includes('Shutting down on "SIGTERM"'), messages.join("\n"));
  assert.equal(messages.at(-1), "Stopped");
  for (const replica of replicas) assert.equal(replica.out.records.at(-1)?.message, "Stopped");
});

Deno.test("deno task cluster stops cleanly on SIGINT too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-cluster-" });
  const cluster = watched(startCluster([
    "--embedded-api-listen=127.0.0.1:0",
    `--embedded-kubeconfig-out=${dir}/kubeconfig`,
    "--log-format=json",
  ], dir));
  await waitFor("the kubeconfig", () => Deno.stat(`${dir}/kubeconfig`).then(() => true), 15_000);
  cluster.child.kill("SIGINT");
  const status = await cluster.child.status;
  await cluster.out.done;
  await Deno.remove(dir, { recursive: true });
  assert.equal(status.code, 0, await cluster.stderr);
  assert.equal(cluster.out.records.at(-1)?.message, "Stopped");
});

/** Runs cluster mode to its end; gives its exit code and output. */
async function run(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: clusterModeArgs(".dev", args),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("deno task cluster --help lists its flags, not node-heal's", async () => {
  const { code, stdout } = await run(["--help"]);
  assert.equal(code, 0);
  for (const flag of ["--embedded-api-listen", "--embedded-workers", "--embedded-kubeconfig-out"]) {
    assert.ok(stdout.includes(flag), `help mentions ${flag}`);
  }
  assert.match(stdout, /\(default 127\.0\.0\.1:6443\)/);
  // Replicas that share a cluster elect a leader: without --leader-elect each would act.
  assert.match(
    stdout,
    /deno task serve --kubeconfig \.dev\/kubeconfig --listen 127\.0\.0\.1:8001 --instance a --leader-elect\n/,
  );
  assert.doesNotMatch(stdout, /--listen LISTEN|--embedded-cluster|--dry-run/);
});

Deno.test("deno task cluster refuses unknown and node-heal's flags with exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /Cannot parse flags: Unknown option '--bogus'/],
    [
      ["--listen", "127.0.0.1:8000"],
      /--listen is node-heal's, not the cluster's: .*deno task serve/,
    ],
    [["--auth-token-file=/t"], /--auth-token-file is node-heal's/],
    [["--embedded-cluster"], /give --embedded-cluster to deno task dev/],
    [
      ["--embedded-api-listen", "nowhere"],
      /Cannot parse --embedded-api-listen: expected HOST:PORT/,
    ],
    [["--log-level", "loud"], /Cannot configure logging: level must be one of/],
    [["positional"], /Cannot parse flags: Unexpected argument 'positional'/],
  ];
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await run(args);
    assert.equal(code, 2, args.join(" "));
    assert.match(stderr, message);
    assert.match(stderr, /^node-heal cluster: [^\n]+; see deno task cluster --help\n$/);
    assert.equal(stdout, "");
  }
});
