// `deno task dev` (lib/dev/dev_mode.ts) and `main.ts serve` as real processes: flags, kubeconfig,
// webhook, shutdown; and the production entry point's module graph.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import firing from "../../fixtures/alertmanager-0.25-firing.json" with { type: "json" };
import { kubectlFor, kubectlVersion, waitFor } from "../../support/helpers.ts";
import {
  CLIENT_LIBRARY,
  commandsOf,
  embeddedInProduction,
  graphOf,
  layoutProblems,
  libraryProblems,
  loadedFrom,
  staticallyFrom,
  upwardImports,
} from "../../support/production_graph.ts";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import { logLines } from "../../support/processes.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;
const DEV = new URL("../../../lib/dev/dev_mode.ts", import.meta.url).pathname;

/** Starts `main.ts serve ARGS`, or dev mode's entry point for `dev ARGS`. */
function start(args: string[], env?: Record<string, string>) {
  const [command, ...rest] = args;
  const entry = command === "dev" ? [DEV, ...rest] : [MAIN, ...args];
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "--allow-write", "--allow-env", ...entry],
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
}

/** Waits for a process that is expected to end by itself; returns its status and stderr. */
async function exited(child: Deno.ChildProcess) {
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    child.stdout.cancel(),
  ]);
  return { status, stderr };
}

/** Waits for a started node-heal's start-up log line and readiness; returns the line's properties. */
async function readyService(
  out: { records: Record<string, unknown>[] },
): Promise<{ url: string; config: Record<string, unknown> }> {
  const started = await waitFor(
    "the start-up line",
    () => out.records.find((r) => String(r.message).includes("listening on")),
    15_000,
  );
  const props = started.properties as { url: string; config: Record<string, unknown> };
  await waitFor("readiness", async () => {
    const r = await fetch(`${props.url}/readyz`);
    await r.body?.cancel();
    return r.ok;
  });
  return props;
}

Deno.test(
  "dev mode serves the webhook beside the embedded cluster, writes a kubeconfig, and stops cleanly on SIGTERM",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "node-heal-dev-" });
    const kubeconfig = `${dir}/nested/kubeconfig`;
    const child = start([
      "dev",
      "--listen=127.0.0.1:0",
      "--embedded-api-listen=127.0.0.1:0",
      `--embedded-kubeconfig-out=${kubeconfig}`,
      "--embedded-workers=5",
      "--log-format=json",
    ]);
    const out = logLines(child.stdout);
    const stderr = new Response(child.stderr).text();
    try {
      const props = await readyService(out);
      assert.match(props.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(props.config.kubeconfigSource, "embedded");
      assert.equal((props.config.embeddedCluster as { workers: number }).workers, 5);
      assert.equal((await Deno.stat(kubeconfig)).mode! & 0o777, 0o600);

      const res = await fetch(`${props.url}/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(firing),
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(kubeconfig);
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const nodes = await core.listNode();
      assert.equal(nodes.items.length, 6);
      const worker = nodes.items.find((n) => n.metadata?.name === "heal-worker");
      assert.equal(worker?.spec?.unschedulable, true);
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      await out.done;
      await Deno.remove(dir, { recursive: true });
      assert.equal(status.code, 0, await stderr);
    }
    const messages = out.records.map((r) => String(r.message));
    assert.ok(messages.some((m) => m.startsWith("Cordoned heal-worker")), messages.join("\n"));
    assert.ok(messages.includes('Shutting down on "SIGTERM"'));
    assert.equal(messages.at(-1), "Stopped");
  },
);

Deno.test(
  'dev mode plays Karpenter: heal_action="replace" cordons, drains, replaces a worker, and a second waits for maxReplacing, as kubectl shows',
  { ignore: !(await kubectlVersion()) },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "node-heal-dev-" });
    const kubeconfig = `${dir}/kubeconfig`;
    const child = start([
      "dev",
      "--listen=127.0.0.1:0",
      "--embedded-api-listen=127.0.0.1:0",
      `--embedded-kubeconfig-out=${kubeconfig}`,
      "--log-format=json",
    ]);
    const out = logLines(child.stdout);
    const stderr = new Response(child.stderr).text();
    const kubectl = await kubectlFor(
      await waitFor("the kubeconfig", async () => {
        try {
          return await Deno.readTextFile(kubeconfig);
        } catch {
          return undefined;
        }
      }, 15_000),
    );
    const events = async (node: string) =>
      (await kubectl.output(
        "get",
        "events",
        "--field-selector",
        `involvedObject.name=${node}`,
        "-o",
        "jsonpath={range .items[*]}{.reason}{'\\t'}{.message}{'\\n'}{end}",
      )).stdout;
    try {
      const { url } = await readyService(out);
      // The fixture alert about heal-worker, then heal-worker2, each asking for the whole ladder.
      for (const [ip, fingerprint] of [["172.18.0.3", "r1"], ["172.18.0.4", "r2"]]) {
        const alert = structuredClone(firing) as typeof firing & {
          alerts: { labels: Record<string, string>; fingerprint: string }[];
        };
        alert.alerts[0].labels = {
          ...alert.alerts[0].labels,
          instance: `${ip}:9100`,
          heal_action: "replace",
        };
        alert.alerts[0].fingerprint = fingerprint;
        const res = await fetch(`${url}/webhook`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(alert),
        });
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      await waitFor(
        "heal-worker2 waiting for maxReplacing",
        async () =>
          /NodeHealSkipped\tWaiting to replace heal-worker2: .*\(gate maxReplacing\)/.test(
            await events("heal-worker2"),
          ),
        20_000,
      );
      await waitFor("both replaced", async () => {
        const nodes = (await kubectl.output("get", "nodes", "--no-headers")).stdout;
        return !/^heal-worker2? /m.test(nodes) &&
          (nodes.match(/^heal-worker-r\d+\s+Ready\s/gm) ?? []).length === 2;
      }, 30_000);
      const worker = await events("heal-worker");
      for (
        const reason of [
          "NodeHealCordoned",
          "NodeHealDrainStarted",
          "NodeHealDrained",
          "NodeHealReplaceStarted",
          "NodeHealReplaced",
        ]
      ) assert.match(worker, new RegExp(`^${reason}\t`, "m"));
      const claims = (await kubectl.output("get", "nodeclaims", "--no-headers")).stdout;
      assert.doesNotMatch(claims, /\sheal-worker2?\s/, "their NodeClaims are gone");
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      await out.done;
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(kubectl.dir, { recursive: true });
      assert.equal(status.code, 0, await stderr);
    }
  },
);

Deno.test("main.ts refuses malformed flags with a clear error and exit code 2, an unreadable file with 1", async () => {
  const cases: [string[], RegExp, number][] = [
    [
      ["dev", "--embedded-api-listen", "nowhere"],
      /Cannot parse --embedded-api-listen: expected HOST:PORT/,
      2,
    ],
    [
      ["serve", "--log-format", "xml"],
      /Cannot parse --log-format: expected json or pretty, got "xml"/,
      2,
    ],
    [["serve", "--bogus"], /Cannot parse flags: Unknown option '--bogus'/, 2],
    [
      ["dev", "--config", "/nonexistent/policy.yaml"],
      /Cannot load policy \/nonexistent\/policy\.yaml: /,
      1,
    ],
  ];
  for (const [args, message, code] of cases) {
    const child = start(args);
    const { status, stderr } = await exited(child);
    assert.equal(status.code, code, args.join(" "));
    assert.match(stderr, message);
  }
});

Deno.test("main.ts serve without any kubeconfig exits 1 naming what it tried", async () => {
  const home = await Deno.makeTempDir({ prefix: "node-heal-home-" });
  // A home without ~/.kube, no $KUBECONFIG, no service account; Deno keeps its own cache.
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const denoDir = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;
  const child = start(["serve", "--listen=127.0.0.1:0"], {
    HOME: home,
    DENO_DIR: denoDir,
    KUBECONFIG: "",
    KUBERNETES_SERVICE_HOST: "",
  });
  const { status, stderr } = await exited(child);
  await Deno.remove(home, { recursive: true });
  assert.equal(status.code, 1);
  assert.match(
    stderr,
    /Cannot load a kubeconfig: no --kubeconfig, no in-cluster service account .*, no \$KUBECONFIG and no ~\/\.kube\/config/,
  );
});

/** The `--help` text of `serve` or dev mode. */
async function help(command: "serve" | "dev"): Promise<string> {
  const child = start([command, "--help"]);
  const [status, stdout] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    child.stderr.cancel(),
  ]);
  assert.equal(status.code, 0);
  return stdout;
}

Deno.test("main.ts serve --help lists every flag with its environment variable", async () => {
  const stdout = await help("serve");
  for (const flag of ["--listen", "--kubeconfig", "--dry-run", "--log-format", "--log-level"]) {
    assert.ok(stdout.includes(flag), `help mentions ${flag}`);
  }
  assert.match(stdout, /env NODE_HEAL_DRY_RUN/);
  // The embedded cluster is dev mode's: serve neither lists nor takes its flags.
  assert.doesNotMatch(stdout, /--embedded-/);
  const refused = await exited(start(["serve", "--embedded-cluster"]));
  assert.equal(refused.status.code, 2);
  assert.match(refused.stderr, /Unknown option '--embedded-cluster': it is dev mode's/);
});

Deno.test("deno task dev --help lists the embedded cluster's flags beside serve's", async () => {
  const stdout = await help("dev");
  for (const flag of ["--listen", "--embedded-cluster", "--embedded-workers", "--dry-run"]) {
    assert.ok(stdout.includes(flag), `help mentions ${flag}`);
  }
});

Deno.test("the production entry point main.ts imports nothing of the embedded cluster", async () => {
  const { modules, embedded } = await embeddedInProduction();
  assert.ok(modules.some((m) => m.endsWith("/lib/service/service.ts")), "the graph was read");
  assert.deepEqual(embedded, []);
  // The binary's `dev` says where dev mode went.
  const dev = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", MAIN, "dev"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(dev.code, 2);
  assert.match(new TextDecoder().decode(dev.stderr), /deno task dev/);
});

Deno.test("imports point only down in main.ts's and dev mode's graphs, and a backtest loads no server", async () => {
  assert.deepEqual(await layoutProblems(), []);
  const backtest = loadedFrom(await graphOf("main.ts"), "lib/backtest/cli.ts");
  assert.ok(backtest.includes("lib/backtest/replay.ts"), "the backtest's graph was walked");
  assert.ok(!backtest.some((m) => m.startsWith("lib/server/") || m === "lib/service/flags.ts"));
});

Deno.test("the layout check names an import that points up, a type import too", () => {
  const repo = new URL("../../../", import.meta.url).href;
  const graph = {
    modules: [{
      specifier: `${repo}lib/act/node_writer.ts`,
      dependencies: [
        { specifier: "../report/metrics.ts", type: { specifier: `${repo}lib/report/metrics.ts` } },
        { specifier: "../decide/seal.ts", code: { specifier: `${repo}lib/decide/seal.ts` } },
      ],
    }, {
      specifier: `${repo}lib/attic/old.ts`,
    }],
  };
  assert.deepEqual(upwardImports(graph), [
    "lib/act/node_writer.ts → lib/report/metrics.ts (act may not import report)",
    "lib/attic/old.ts is in no room: add its folder to ROOMS",
  ]);
});

Deno.test("main.ts's commands load the client library only through a dynamic import, which stays in the graph", async () => {
  const graph = await graphOf("main.ts");
  assert.deepEqual(libraryProblems(graph), []);
  assert.ok(commandsOf(graph).includes("lib/service/run.ts"), "serve's graph was walked");
  assert.ok(staticallyFrom(graph, "lib/service/run.ts").includes("lib/act/kube/raw.ts"));
});

Deno.test("the library check names a command that loads the client library statically, and one that lost it", () => {
  const repo = new URL("../../../", import.meta.url).href;
  const lib = {
    specifier: "@kubernetes/client-node",
    code: { specifier: `${CLIENT_LIBRARY}@2.0.1` },
  };
  const graph = (dynamic: boolean) => ({
    modules: [{
      specifier: `${repo}main.ts`,
      dependencies: [{
        specifier: "./lib/service/run.ts",
        code: { specifier: `${repo}lib/service/run.ts` },
        isDynamic: true,
      }],
    }, {
      specifier: `${repo}lib/service/run.ts`,
      dependencies: [{ ...lib, isDynamic: dynamic }],
    }],
  });
  assert.deepEqual(libraryProblems(graph(true)), []);
  assert.deepEqual(libraryProblems(graph(false)), [
    `lib/service/run.ts loads the client library statically: ${CLIENT_LIBRARY}@2.0.1`,
  ]);
  assert.deepEqual(libraryProblems({ modules: [{ specifier: `${repo}main.ts` }] }), [
    `main.ts no longer imports ${CLIENT_LIBRARY}: the binary would not embed it`,
  ]);
});

Deno.test("main.ts refuses an invalid policy file at start-up, naming the field and the value", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-policy-" });
  const path = `${dir}/policy.yaml`;
  await Deno.writeTextFile(path, "gates:\n  minHealthy: lots\n");
  const child = start([
    "dev",
    `--config=${path}`,
    "--listen=127.0.0.1:0",
    "--embedded-api-listen=127.0.0.1:0",
  ]);
  const { status, stderr } = await exited(child);
  await Deno.remove(dir, { recursive: true });
  // A policy refused is a usage error, in dev mode as in serve: exit code 2.
  assert.equal(status.code, 2);
  assert.match(stderr, /Cannot load policy .*policy\.yaml: field "gates\.minHealthy" .*got "lots"/);
});

Deno.test("on SIGTERM, serve finishes the notification in flight, then exits 0", async () => {
  await using cluster = await startEmbeddedCluster();
  const dir = await Deno.makeTempDir({ prefix: "node-heal-shutdown-" });
  await Deno.writeTextFile(`${dir}/kubeconfig`, cluster.kubeconfig());
  // The cordon takes a second: SIGTERM arrives while it is in flight.
  cluster.api.injectFault({ verb: "patch", resource: "nodes", latencyMs: 1000, times: 1 });
  const child = start([
    "serve",
    "--listen=127.0.0.1:0",
    `--kubeconfig=${dir}/kubeconfig`,
    "--log-format=json",
  ]);
  const out = logLines(child.stdout);
  const stderr = new Response(child.stderr).text();
  const { url } = await readyService(out);
  const inFlight = fetch(`${url}/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(firing),
  });
  await waitFor(
    "the cordon to be in flight",
    () => cluster.api.traffic.requests.some((r) => r.verb === "patch" && r.resource === "nodes"),
  );
  const stopAt = performance.now();
  child.kill("SIGTERM");
  const res = await inFlight;
  assert.equal(res.status, 200, "the notification in flight was answered");
  await res.body?.cancel();
  const status = await child.status;
  const took = performance.now() - stopAt;
  await out.done;
  await Deno.remove(dir, { recursive: true });
  assert.equal(status.code, 0, await stderr);
  assert.ok(took < 10_000, `stopped within the bound (${took.toFixed(0)} ms)`);
  assert.equal(
    (cluster.api.read("Node", "heal-worker")?.spec as { unschedulable?: boolean }).unschedulable,
    true,
  );
  assert.equal(out.records.at(-1)?.message, "Stopped");
});

Deno.test("dev mode enforces credentials once given: --auth-token-file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-dev-auth-" });
  await Deno.writeTextFile(`${dir}/token`, "dev-token\n");
  const child = start([
    "dev",
    "--listen=127.0.0.1:0",
    "--embedded-api-listen=127.0.0.1:0",
    `--embedded-kubeconfig-out=${dir}/kubeconfig`,
    `--auth-token-file=${dir}/token`,
    "--log-format=json",
  ]);
  const out = logLines(child.stdout);
  const stderr = new Response(child.stderr).text();
  try {
    const { url } = await readyService(out);
    const send = (headers: Record<string, string>) =>
      fetch(`${url}/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(firing),
      });
    const denied = await send({});
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const allowed = await send({ authorization: "Bearer dev-token" });
    assert.equal(allowed.status, 200);
    await allowed.body?.cancel();
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    await out.done;
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, await stderr);
  }
});
