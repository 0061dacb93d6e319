// Every alert of manifests/alert-rule.yaml reaches node-heal through the real Alertmanager (0.25),
// configured in both forms we ship:
//   (a) full config: what kube-prometheus-stack renders from manifests/kube-prometheus-stack-values.yaml
//       (tests/support/helpers.ts's alertmanagerConfig, the chart's default config merged as Helm does);
//   (b) AlertmanagerConfig: what the prometheus-operator generates from
//       manifests/alertmanager-config/alertmanager-config.yaml with its default OnNamespace
//       matcher strategy, added to
//       the chart's default config.
// The labels each alert leaves with are promtool's: it evaluates the rules on the series of
// tests/rules/alert-rule.test.yaml and prints what fired. amtool checks every alert's route in
// both forms; then a running Alertmanager per form delivers every alert to a local receiver
// standing in for node-heal's webhook, and keeps alerts without heal="true" away from it.
import assert from "node:assert/strict";
import { parse, stringify } from "yaml";
import { alertmanagerConfig, manifest, waitFor } from "../support/helpers.ts";
import { freePort } from "../support/processes.ts";
import { operatorConfig } from "../support/operator_config.ts";

type Labels = Record<string, string>;
// deno-lint-ignore no-explicit-any
type Config = any;

async function run(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; out: string; stdout: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const stdout = new TextDecoder().decode(o.stdout);
  return { ok: o.success, out: stdout + new TextDecoder().decode(o.stderr), stdout };
}

async function found(cmd: string): Promise<boolean> {
  try {
    await new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    console.warn(`SKIPPED routes e2e: ${cmd} is not on PATH`);
    return false;
  }
}

const TOOLS = await found("promtool") && await found("amtool") &&
  await found("prometheus-alertmanager");

/**
 * The labels of every alert the rules fire on the unit tests' series, as promtool computes them:
 * every firing expectation is replaced by an impossible one, so promtool prints what it got.
 */
async function firedAlerts(dir: string): Promise<Map<string, Labels[]>> {
  const [rule] = await manifest("alert-rule.yaml");
  await Deno.writeTextFile(`${dir}/rules.yaml`, stringify(rule.spec));
  const tests = parse(
    await Deno.readTextFile(new URL("../rules/alert-rule.test.yaml", import.meta.url)),
  );
  for (const t of tests.tests) {
    for (const a of t.alert_rule_test ?? []) {
      if (a.exp_alerts?.length) a.exp_alerts = [{ exp_labels: { promtool_prints_got: "1" } }];
    }
  }
  await Deno.writeTextFile(`${dir}/rules.test.yaml`, stringify(tests));
  const result = await run("promtool", ["test", "rules", `${dir}/rules.test.yaml`]);
  assert.ok(!result.ok, "promtool failed every firing expectation, as meant");
  const fired = new Map<string, Labels[]>();
  for (const m of result.out.matchAll(/alertname: (\w+), time: [^\n]*\n[\s\S]*?got:\[\n/g)) {
    const rest = result.out.slice(m.index! + m[0].length);
    const block = rest.slice(0, rest.search(/^\s*\]\s*$/m));
    for (const l of block.matchAll(/Labels:\{(.*)\}/g)) {
      const labels: Labels = {};
      for (const p of l[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        labels[p[1]] = JSON.parse(`"${p[2]}"`);
      }
      fired.set(m[1], [...(fired.get(m[1]) ?? []), labels]);
    }
  }
  const groups = (rule.spec as { groups: { rules: { alert?: string }[] }[] }).groups;
  for (const r of groups.flatMap((g) => g.rules)) {
    if (r.alert) assert.ok(fired.get(r.alert)?.length, `promtool fired ${r.alert}: ${result.out}`);
  }
  return fired;
}

/** A local stand-in for node-heal's webhook: records what Alertmanager posts. */
function startReceiver() {
  const received: { authorization: string | null; body: Config }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received.push({ authorization: req.headers.get("authorization"), body: await req.json() });
    return new Response(null, { status: 200 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/webhook`,
    received,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

async function startAlertmanager(dir: string, config: Config) {
  await Deno.writeTextFile(`${dir}/alertmanager.yml`, JSON.stringify(config, null, 2));
  const port = freePort();
  const child = new Deno.Command("prometheus-alertmanager", {
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
  try {
    await waitFor("Alertmanager to be ready", async () => {
      const res = await fetch(`${url}/-/ready`);
      await res.body?.cancel();
      return res.ok;
    }, 15_000);
  } catch (err) {
    child.kill("SIGTERM");
    await child.status;
    throw new Error(`${err}\n${await stderr}`);
  }
  return {
    async post(alerts: Labels[]) {
      const startsAt = new Date(Date.now() - 60_000).toISOString();
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(alerts.map((labels) => ({ labels, startsAt }))),
      });
      assert.equal(res.status, 200, await res.text());
    },
    /** Alertmanager's own view: each active alert and the receivers its route gave it. */
    async alerts(): Promise<{ labels: Labels; receivers: { name: string }[] }[]> {
      const res = await fetch(`${url}/api/v2/alerts`);
      assert.equal(res.status, 200);
      return await res.json();
    },
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await stderr;
    },
  };
}

const key = (l: Labels) => JSON.stringify(Object.entries(l).sort());
const without = (l: Labels, name: string) =>
  Object.fromEntries(Object.entries(l).filter(([k]) => k !== name));

Deno.test({
  name:
    "every rule's alert reaches node-heal through the values snippet's and the operator's AlertmanagerConfig route; none without heal=\"true\" does",
  ignore: !TOOLS,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "node-heal-routes-" });
    try {
      const fired = await firedAlerts(dir);
      const healing = [...fired.values()].flat();
      for (const labels of healing) assert.equal(labels.heal, "true", JSON.stringify(labels));
      // Alerts node-heal must not get: each of ours without heal, and the chart's Watchdog.
      const others = [
        ...healing.map((l) => without(l, "heal")),
        { alertname: "Watchdog", severity: "none", namespace: "monitoring" },
      ];

      await using receiver = startReceiver();
      const [amc] = await manifest("alertmanager-config/alertmanager-config.yaml") as Config[];
      const chart = parse(
        await Deno.readTextFile(
          new URL("../fixtures/kube-prometheus-stack-alertmanager-config.yaml", import.meta.url),
        ),
      );
      delete chart.templates; // a directory of the chart's pod
      const operator = operatorConfig(chart, amc, (ref) => {
        assert.deepEqual(ref, { name: "node-heal-webhook", key: "token" });
        return "test-token";
      });
      for (const r of operator.receivers) {
        for (const w of r.webhook_configs ?? []) w.url = receiver.url;
      }
      const shorten = (route: Config) => {
        if ("group_wait" in route) route.group_wait = "0s";
        if ("group_interval" in route) route.group_interval = "1s";
        for (const r of route.routes ?? []) shorten(r);
      };
      shorten(operator.route);
      const ns = amc.metadata.namespace;
      const forms = [
        { form: "values", config: await alertmanagerConfig(receiver.url), to: "node-heal" },
        { form: "operator", config: operator, to: `${ns}/${amc.metadata.name}/node-heal` },
      ];

      // The fast check: amtool, on the very configuration files Alertmanager runs below.
      for (const { form, config, to } of forms) {
        await Deno.mkdir(`${dir}/${form}`);
        const file = `${dir}/${form}/alertmanager.yml`;
        await Deno.writeTextFile(file, JSON.stringify(config, null, 2));
        const check = await run("amtool", ["check-config", file]);
        assert.ok(check.ok, check.out);
        const receivers = async (labels: Labels) => {
          const args = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
          const r = await run("amtool", [
            "config",
            "routes",
            "test",
            `--config.file=${file}`,
            ...args,
          ]);
          assert.ok(r.ok, r.out);
          return r.stdout.trim().split(",");
        };
        for (const labels of healing) {
          assert.ok((await receivers(labels)).includes(to), `${form}: ${key(labels)} to ${to}`);
        }
        for (const labels of others) {
          assert.ok(!(await receivers(labels)).includes(to), `${form}: ${key(labels)} not`);
        }
        if (form === "operator") {
          // The bug this guards against: without the namespace label, the route never matches.
          const bare = without(healing[0], "namespace");
          assert.ok(!(await receivers(bare)).includes(to), "no namespace label, no node-heal");
        }
      }

      // The real thing: each form in a running Alertmanager, every alert posted to it.
      for (const { form, config, to } of forms) {
        receiver.received.length = 0;
        await using am = await startAlertmanager(`${dir}/${form}`, config);
        await am.post([...others, ...healing]);
        const delivered = () =>
          new Set(
            receiver.received.flatMap((r) =>
              r.body.alerts.map((a: { labels: Labels }) => key(a.labels))
            ),
          );
        await waitFor(
          `${form}: every healing alert delivered to node-heal`,
          () => healing.every((l) => delivered().has(key(l))),
          20_000,
        );
        for (const r of receiver.received) {
          assert.equal(r.body.receiver, to, `${form}: delivered by node-heal's receiver`);
          assert.equal(r.authorization, "Bearer test-token", `${form}: with the bearer token`);
          for (const a of r.body.alerts) {
            assert.equal(a.labels.heal, "true", `${form}: only heal="true" reaches node-heal`);
          }
        }
        // Alertmanager's own routing of the others: it holds them, none for node-heal.
        const held = new Map((await am.alerts()).map((a) => [key(a.labels), a.receivers]));
        for (const labels of healing) {
          assert.ok(held.get(key(labels))?.some((r) => r.name === to), `${form}: ${key(labels)}`);
        }
        for (const labels of others) {
          const receivers = held.get(key(labels));
          assert.ok(receivers, `${form}: Alertmanager holds ${key(labels)}`);
          assert.ok(!receivers.some((r) => r.name === to), `${form}: ${key(labels)} not routed`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
