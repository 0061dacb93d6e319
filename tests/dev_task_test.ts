// `main.ts dev`, as `deno task dev` runs it: a real process, its kubeconfig, its shutdown.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { waitFor } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function startDev(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      new URL("../main.ts", import.meta.url).pathname,
      "dev",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test(
  "main.ts dev serves the embedded cluster, writes its kubeconfig and stops cleanly on SIGTERM",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "node-heal-dev-" });
    const kubeconfig = `${dir}/nested/kubeconfig`;
    const child = startDev([
      "--api-listen",
      "127.0.0.1:0",
      "--kubeconfig-out",
      kubeconfig,
      "--embedded-workers",
      "5",
      "--log-format",
      "json",
    ]);
    try {
      const text = await waitFor("the kubeconfig", async () => {
        const t = await Deno.readTextFile(kubeconfig);
        return t.includes("current-context") ? t : undefined;
      }, 15_000);
      const mode = (await Deno.stat(kubeconfig)).mode! & 0o777;
      assert.equal(mode, 0o600);
      const kc = new k8s.KubeConfig();
      kc.loadFromString(text);
      const nodes = await kc.makeApiClient(k8s.CoreV1Api).listNode();
      assert.equal(nodes.items.length, 6);
      assert.ok(nodes.items.some((n) => n.metadata?.name === "heal-worker5"));
    } finally {
      child.kill("SIGTERM");
      const [status, stdout] = await Promise.all([
        child.status,
        new Response(child.stdout).text(),
        child.stderr.cancel(),
      ]);
      await Deno.remove(dir, { recursive: true });
      assert.equal(status.code, 0);
      const records = stdout.trim().split("\n").map((l) => JSON.parse(l));
      const listening = records.find((r) => String(r.message).includes("listening on"));
      assert.ok(listening, `a start-up log line in ${stdout}`);
      assert.equal(listening.properties.nodes, 6);
      assert.match(listening.properties.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(records.some((r) => r.message === "Shutting down"));
    }
  },
);

Deno.test("main.ts dev refuses a malformed flag with a clear error and a non-zero exit", async () => {
  const child = startDev(["--api-listen", "nowhere"]);
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    child.stdout.cancel(),
  ]);
  assert.equal(status.code, 1);
  assert.match(
    stderr,
    /Cannot parse --api-listen: expected HOST:PORT such as 127\.0\.0\.1:6443, got "nowhere"/,
  );
});
