// node-heal behind a real Alertmanager (0.25 from Debian's prometheus-alertmanager): alerts
// posted to Alertmanager's API reach node-heal through a real route and webhook receiver.
import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import {
  alertmanagerConfig,
  type ServiceFixture,
  waitFor,
  withService,
} from "../../support/helpers.ts";
import { freePort } from "../../support/processes.ts";

const strategic = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch);

async function findAlertmanager(): Promise<string | undefined> {
  const candidates = [Deno.env.get("ALERTMANAGER"), "prometheus-alertmanager", "alertmanager"];
  for (const bin of candidates) {
    if (!bin) continue;
    try {
      const out = await new Deno.Command(bin, {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (out.success) return bin;
    } catch {
      // Not on PATH; try the next name.
    }
  }
  return undefined;
}

const ALERTMANAGER = await findAlertmanager();
if (!ALERTMANAGER) {
  console.warn(
    "SKIPPED Alertmanager tests: neither prometheus-alertmanager nor alertmanager is on PATH " +
      "(apt-get install prometheus-alertmanager, or set ALERTMANAGER)",
  );
}

/** A real Alertmanager with the routing Helm renders from kube-prometheus-stack-values.yaml, at `webhook`. */
async function startAlertmanager(webhook: string) {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-am-" });
  const port = freePort();
  // JSON is YAML: Alertmanager reads the manifest's routing as it is, URL and delays aside.
  await Deno.writeTextFile(
    `${dir}/alertmanager.yml`,
    JSON.stringify(await alertmanagerConfig(webhook), null, 2),
  );
  const child = new Deno.Command(ALERTMANAGER!, {
    args: [
      `--config.file=${dir}/alertmanager.yml`,
      `--storage.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--cluster.listen-address=",
      "--log.level=warn",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const url = `http://127.0.0.1:${port}`;
  await waitFor("Alertmanager to be ready", async () => {
    const res = await fetch(`${url}/-/ready`);
    await res.body?.cancel();
    return res.ok;
  }, 15_000);
  return {
    /** Posts alerts to Alertmanager's v2 API; `resolved` sets endsAt in the past. */
    async alert(labels: Record<string, string>, resolved = false) {
      const now = Date.now();
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([{
          labels,
          annotations: { summary: `${labels.alertname} on ${labels.instance}` },
          startsAt: new Date(now - 60_000).toISOString(),
          ...(resolved ? { endsAt: new Date(now - 1000).toISOString() } : {}),
        }]),
      });
      assert.equal(res.status, 200, await res.text());
    },
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await stderr;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function reasons(f: ServiceFixture, node: string): Promise<string[]> {
  const list = await f.core.listEventForAllNamespaces({
    fieldSelector: `involvedObject.name=${node}`,
  });
  return list.items.map((e) => `${e.reason} x${e.count}`).sort();
}

async function cordoned(f: ServiceFixture, node: string): Promise<boolean> {
  return (await f.core.readNode({ name: node })).spec?.unschedulable === true;
}

Deno.test({
  name:
    "a real Alertmanager notification cordons, skips the control plane, keeps a manual cordon, and its resolution uncordons",
  ignore: !ALERTMANAGER,
  fn: async () => {
    await using f = await withService();
    await using am = await startAlertmanager(`${f.service.url}/webhook`);
    const cpu = (instance: string) => ({
      alertname: "NodeHighCPU",
      heal: "true",
      severity: "warning",
      instance,
    });

    const posted = performance.now();
    await am.alert(cpu("172.18.0.3:9100"));
    await waitFor("heal-worker to be cordoned", () => cordoned(f, "heal-worker"), 15_000);
    const elapsed = performance.now() - posted;
    console.log(`Alertmanager API post to heal-worker cordoned: ${elapsed.toFixed(0)} ms`);
    assert.deepEqual(await reasons(f, "heal-worker"), ["NodeHealCordoned x1"]);

    await am.alert(cpu("172.18.0.2:9100"));
    await waitFor(
      "a NodeHealSkipped Event on the control plane",
      async () => (await reasons(f, "heal-control-plane")).length > 0,
      15_000,
    );
    assert.deepEqual(await reasons(f, "heal-control-plane"), ["NodeHealSkipped x1"]);
    assert.equal(await cordoned(f, "heal-control-plane"), false);

    await f.core.patchNode(
      { name: "heal-worker2", body: { spec: { unschedulable: true } } },
      strategic,
    );
    await waitFor(
      "the manual cordon to be watched",
      () => f.service.index.get("heal-worker2")?.spec?.unschedulable === true,
    );
    await am.alert(cpu("172.18.0.4:9100"));
    await waitFor(
      "the firing alert on heal-worker2",
      async () => (await reasons(f, "heal-worker2")).length === 1,
      15_000,
    );
    await am.alert(cpu("172.18.0.4:9100"), true);
    await waitFor(
      "the resolved alert on heal-worker2",
      async () => (await reasons(f, "heal-worker2")).length === 2,
      15_000,
    );
    assert.equal(await cordoned(f, "heal-worker2"), true, "a manual cordon is never undone");

    await am.alert(cpu("172.18.0.3:9100"), true);
    await waitFor(
      "heal-worker to be uncordoned",
      async () => !(await cordoned(f, "heal-worker")),
      15_000,
    );
    await waitFor(
      "the NodeHealUncordoned Event",
      async () => (await reasons(f, "heal-worker")).length === 2,
    );
    assert.deepEqual(await reasons(f, "heal-worker"), [
      "NodeHealCordoned x1",
      "NodeHealUncordoned x1",
    ]);
  },
});
