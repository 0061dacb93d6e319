// node-heal's route in each Alertmanager form we ship, checked by the real amtool: the values
// snippet as kube-prometheus-stack renders it, the AlertmanagerConfig, and the plain fragment.
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { helmAlertmanagerConfig, manifest } from "../support/helpers.ts";
import { hasTool, runTool } from "../support/processes.ts";

const AMTOOL = await hasTool("amtool", "apt-get install prometheus-alertmanager");

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-manifests-" });
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, text);
  return path;
}

/** The Alertmanager configuration kube-prometheus-stack renders with our values, as YAML. */
async function alertmanagerYaml(): Promise<string> {
  return stringify(await helmAlertmanagerConfig());
}

/** Checks an Alertmanager configuration with amtool; its receivers for labels, as amtool routes them. */
async function amtoolRoutes(path: string) {
  const check = await runTool("amtool", ["check-config", path]);
  assert.ok(check?.ok, check?.out ?? "");
  return async (...labels: string[]) =>
    (await runTool("amtool", ["config", "routes", "test", `--config.file=${path}`, ...labels]))
      ?.stdout
      .trim();
}

Deno.test({
  name:
    'amtool accepts the Alertmanager config Helm renders from the values snippet and routes heal="true" alerts, and only those, to node-heal and on to the root receiver',
  ignore: !AMTOOL,
  fn: async () => {
    const path = await tempFile("alertmanager.yaml", await alertmanagerYaml());
    const route = await amtoolRoutes(path);
    assert.equal(
      await route("alertname=NodeHighCPU", "heal=true", "instance=10.0.0.1:9100"),
      "node-heal,null",
      "the chart's root receiver, null, still gets it (tests/repo/paging_routes_test.ts)",
    );
    assert.equal(await route("alertname=Watchdog", "severity=none"), "null");
    assert.equal(await route("alertname=NodeHighCPU", "heal=false"), "null");
  },
});

Deno.test("the webhook receiver sends resolved notifications to node-heal's Service", async () => {
  const config = (await import("yaml")).parse(await alertmanagerYaml());
  const receiver = config.receivers.find((r: { name: string }) => r.name === "node-heal");
  assert.deepEqual(receiver.webhook_configs, [{
    url: "http://node-heal.node-heal.svc:8000/webhook",
    send_resolved: true,
    http_config: {
      authorization: {
        type: "Bearer",
        credentials_file: "/etc/alertmanager/secrets/node-heal-webhook/token",
      },
    },
  }]);
  const docs = await manifest("webhook-deployment.yaml");
  const service = docs.find((d) => d.kind === "Service") as {
    metadata: { name: string; namespace: string };
    spec: { ports: { port: number }[] };
  };
  assert.equal(`${service.metadata.name}.${service.metadata.namespace}`, "node-heal.node-heal");
  assert.equal(service.spec.ports[0].port, 8000);
});

Deno.test("the AlertmanagerConfig routes like the values snippet: same matcher, grouping, timing, receiver", async () => {
  const config = (await import("yaml")).parse(await alertmanagerYaml());
  const valuesRoute = config.route.routes.find((r: { receiver: string }) =>
    r.receiver === "node-heal"
  );
  const valuesHook = config.receivers.find((r: { name: string }) => r.name === "node-heal")
    .webhook_configs[0];
  const [amc] = await manifest("alertmanager-config/alertmanager-config.yaml");
  const spec = amc.spec as {
    route: Record<string, unknown>;
    receivers: { name: string; webhookConfigs: Record<string, unknown>[] }[];
  };
  assert.deepEqual(spec.route.matchers, [{ name: "heal", matchType: "=", value: "true" }]);
  assert.deepEqual(valuesRoute.matchers, ['heal="true"']);
  assert.deepEqual(spec.route.groupBy, valuesRoute.group_by);
  assert.equal(spec.route.groupWait, valuesRoute.group_wait);
  assert.equal(spec.route.groupInterval, valuesRoute.group_interval);
  assert.equal(spec.route.repeatInterval, valuesRoute.repeat_interval);
  const hook = spec.receivers[0].webhookConfigs[0] as {
    url: string;
    sendResolved: boolean;
    httpConfig: { authorization: { type: string; credentials: { name: string; key: string } } };
  };
  assert.equal(hook.url, valuesHook.url);
  assert.equal(hook.sendResolved, true);
  assert.equal(hook.httpConfig.authorization.type, "Bearer");
  assert.deepEqual(hook.httpConfig.authorization.credentials, {
    name: "node-heal-webhook",
    key: "token",
  });
  assert.equal(
    valuesHook.http_config.authorization.credentials_file,
    "/etc/alertmanager/secrets/node-heal-webhook/token",
  );
});

Deno.test({
  name:
    'the plain alertmanager.yml fragment is the values snippet\'s routes and receiver, and routes heal="true" first, and last to the root, in another config',
  ignore: !AMTOOL,
  fn: async () => {
    const { parse } = await import("yaml");
    const [fragment] = await manifest("alertmanager-route.yaml") as {
      route: { routes: { receiver?: string }[] };
      receivers: { name: string }[];
    }[];
    const helm = await helmAlertmanagerConfig();
    assert.deepEqual(fragment.route.routes, [helm.route.routes[0], helm.route.routes.at(-1)]);
    assert.deepEqual(fragment.receivers, [
      helm.receivers.find((r: { name: string }) => r.name === "node-heal"),
    ]);
    // Merged as its comment says into a configuration of someone else's: node-heal's route first
    // among the routes, the other last.
    const other = parse(`
route:
  receiver: team
  routes:
    - receiver: pager
      matchers: ['severity="critical"']
receivers:
  - name: team
  - name: pager
`);
    const [first, last] = fragment.route.routes;
    other.route.routes = [first, ...other.route.routes, last];
    other.receivers.push(...fragment.receivers);
    const path = await tempFile("alertmanager.yaml", stringify(other));
    const route = await amtoolRoutes(path);
    assert.equal(await route("alertname=NodeHighCPU", "heal=true"), "node-heal,team");
    assert.equal(
      await route("alertname=NodeNotReady", "heal=true", "severity=critical"),
      "node-heal,pager",
      "continue: true: the pager still sees it",
    );
    assert.equal(await route("alertname=NodeNotReady", "severity=critical"), "pager");
    assert.equal(await route("alertname=Other"), "team");
  },
});

Deno.test("the backtest rebuilds notifications with the AlertmanagerConfig's route: grouping and timing", async () => {
  const { DEFAULT_ROUTE } = await import("../../lib/backtest/alertmanager_sim.ts");
  const { durationMs } = await import("../../lib/base/duration.ts");
  const [amc] = await manifest("alertmanager-config/alertmanager-config.yaml");
  const route = (amc.spec as { route: Record<string, string | string[]> }).route;
  assert.deepEqual(DEFAULT_ROUTE.groupBy, route.groupBy);
  assert.equal(DEFAULT_ROUTE.groupWaitMs, durationMs(route.groupWait as string));
  assert.equal(DEFAULT_ROUTE.groupIntervalMs, durationMs(route.groupInterval as string));
  assert.equal(DEFAULT_ROUTE.repeatIntervalMs, durationMs(route.repeatInterval as string));
});
