// runService (main.ts serve's and dev mode's run) catches what escapes every handler for the whole
// process: a rejection nobody handles, made while it serves, is logged and counted, the service
// goes on answering, and a SIGTERM still stops it cleanly.
import assert from "node:assert/strict";
import { parseConfig } from "../../../lib/service/config.ts";
import { startEmbeddedCluster } from "../../../lib/embedded/cluster.ts";
import type { Service } from "../../../lib/service/service.ts";
import { runService } from "../../../lib/service/run.ts";
import { waitFor } from "../../support/wait.ts";

Deno.test("a rejection nobody handles while node-heal serves is logged and counted, and node-heal answers and stops cleanly", async () => {
  await using cluster = await startEmbeddedCluster({ workers: 1 });
  const config = {
    ...parseConfig(["--listen=127.0.0.1:0", "--log-level=error"], "serve", () => undefined),
    kubeconfigYaml: cluster.kubeconfig(),
  };
  let service: Service | undefined;
  const code = runService(config, {
    mode: "serve",
    started: (s) => {
      service = s;
      // A bug's shape: a promise nobody awaits, rejected.
      Promise.reject(new Error("escaped every handler"));
    },
  });
  const unhandled = async () =>
    (await service?.metrics.unhandledErrors.get())?.values.find((v) =>
      v.labels.kind === "rejection"
    )?.value ?? 0;
  await waitFor("the rejection counted", async () => await unhandled() === 1);
  const health = await fetch(`${service!.url}/healthz`);
  await health.body?.cancel();
  assert.equal(health.status, 200);
  Deno.kill(Deno.pid, "SIGTERM");
  assert.equal(await code, 0);
});
