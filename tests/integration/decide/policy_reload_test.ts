// A policy edit without a restart, as a ConfigMap mount makes it (a symlink swap): a valid edit is
// in force within a few reads, an invalid one is refused with the policy in force kept, and each
// is said in the log's metric and an Event on node-heal's namespace.
import assert from "node:assert/strict";
import { parsePolicy } from "../../../lib/decide/policy.ts";
import { notification, waitFor, withService } from "../../support/helpers.ts";

/** A directory laid out as kubelet mounts a ConfigMap: `policy.yaml` -> `..data/policy.yaml`. */
async function configMapDir(text: string) {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-policy-" });
  let version = 0;
  const write = async (content: string) => {
    const data = `..${++version}`;
    await Deno.mkdir(`${dir}/${data}`);
    await Deno.writeTextFile(`${dir}/${data}/policy.yaml`, content);
    // The swap: a new link renamed over the old, atomically.
    await Deno.symlink(data, `${dir}/..data_tmp`);
    await Deno.rename(`${dir}/..data_tmp`, `${dir}/..data`);
  };
  await write(text);
  await Deno.symlink("..data/policy.yaml", `${dir}/policy.yaml`);
  return { dir, path: `${dir}/policy.yaml`, write };
}

async function metric(url: string, pattern: RegExp): Promise<boolean> {
  return pattern.test(await (await fetch(`${url}/metrics`)).text());
}

Deno.test("a policy edit takes effect without a restart; an invalid edit is refused and the policy in force kept", async () => {
  const paused = "acknowledge: [minHealthyZero]\ngates: { minHealthy: 0, paused: true }\n";
  const mount = await configMapDir(paused);
  await using f = await withService({
    policy: parsePolicy(paused),
    policyFile: mount.path,
    policyPollMs: 50,
  });
  const alert = (ip: string) => ({
    labels: { alertname: "NodeHighCPU", heal: "true", instance: `${ip}:9100` },
    fingerprint: `fp-${ip}`,
  });
  const send = async (ip: string) => {
    const res = await f.post(notification("firing", [alert(ip)]));
    return (await res.json()).alerts[0];
  };
  assert.equal((await send("172.18.0.3")).gate, "paused");

  await mount.write("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0, paused: false }\n");
  await waitFor(
    "the edit applied",
    () => metric(f.service.url, /nodeheal_policy_reload_total\{result="applied"\} 1/),
  );
  assert.equal((await send("172.18.0.4")).outcome, "cordon");
  const status = await (await fetch(`${f.service.url}/status`)).json();
  assert.equal(status.policy.gates.paused, false);

  await mount.write("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0, paused: maybe }\n");
  await waitFor(
    "the edit refused",
    () => metric(f.service.url, /nodeheal_policy_reload_total\{result="refused"\} 1/),
  );
  const events = await f.core.listNamespacedEvent({
    namespace: "default",
    fieldSelector: "involvedObject.kind=Namespace,involvedObject.name=node-heal",
  });
  const refused = events.items.find((e) => e.reason === "NodeHealPolicyRefused");
  assert.ok(refused, "an Event on node-heal's namespace");
  assert.equal(refused.type, "Warning");
  assert.match(refused.message!, /field "gates\.paused"/);
  assert.match(refused.message!, /keeping the one in force/);
  // The policy in force is the last valid one: not paused.
  assert.equal((await send("172.18.0.5")).outcome, "cordon");
  // Refused once, not at every read.
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(await metric(f.service.url, /nodeheal_policy_reload_total\{result="refused"\} 1\n/));
  await Deno.remove(mount.dir, { recursive: true });
});

Deno.test("a reloaded policy brings its own gates and sinks: the new gate counts at once", async () => {
  const mount = await configMapDir("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }\n");
  await using f = await withService({
    policy: parsePolicy("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }\n"),
    policyFile: mount.path,
    policyPollMs: 50,
  });
  await mount.write(
    "acknowledge: [minHealthyZero]\ngates: { minHealthy: 0, rate: { max: 1, window: 1h } }\nnotify: [{ name: dev, type: log }]\n",
  );
  await waitFor(
    "the edit applied",
    () => metric(f.service.url, /nodeheal_policy_reload_total\{result="applied"\} 1/),
  );
  const send = async (ip: string, fp: string) =>
    (await (await f.post(notification("firing", [{
      labels: { alertname: "NodeHighCPU", heal: "true", instance: `${ip}:9100` },
      fingerprint: fp,
    }]))).json()).alerts[0];
  assert.equal((await send("172.18.0.3", "a")).outcome, "cordon");
  assert.equal((await send("172.18.0.4", "b")).gate, "rate");
  await waitFor(
    "the log sink's notification",
    () => metric(f.service.url, /nodeheal_notifications_total\{sink="dev",result="sent"\} [1-9]/),
  );
  await Deno.remove(mount.dir, { recursive: true });
});

Deno.test("--cluster-name holds across reloads of a policy without cluster:, and a policy's own cluster: wins", async () => {
  const mount = await configMapDir("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }\n");
  await using f = await withService({
    policy: parsePolicy("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }\n"),
    clusterName: "prod",
    policyFile: mount.path,
    policyPollMs: 50,
  });
  const send = async (cluster: string) => {
    const labels = { alertname: "NodeHighCPU", heal: "true", instance: "172.18.0.3:9100", cluster };
    const res = await f.post(notification("firing", [{ labels, fingerprint: `fp-${cluster}` }]));
    return (await res.json()).alerts[0];
  };
  const cluster = async () =>
    (await (await fetch(`${f.service.url}/status`)).json()).policy.cluster;
  assert.equal((await send("staging")).outcome, "otherCluster");

  await mount.write("acknowledge: [minHealthyZero]\ngates: { minHealthy: 0, cooldown: 5m }\n");
  await waitFor(
    "the edit applied",
    () => metric(f.service.url, /nodeheal_policy_reload_total\{result="applied"\} 1/),
  );
  assert.deepEqual(await cluster(), { cluster: "prod" });
  assert.equal((await send("staging")).outcome, "otherCluster");

  await mount.write(
    "cluster: { cluster: staging }\nacknowledge: [minHealthyZero]\ngates: { minHealthy: 0 }\n",
  );
  await waitFor(
    "the second edit applied",
    () => metric(f.service.url, /nodeheal_policy_reload_total\{result="applied"\} 2/),
  );
  assert.deepEqual(await cluster(), { cluster: "staging" });
  assert.equal((await send("prod")).outcome, "otherCluster");
  assert.equal((await send("staging")).outcome, "cordon");
  await Deno.remove(mount.dir, { recursive: true });
});
