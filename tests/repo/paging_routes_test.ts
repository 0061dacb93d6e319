// People keep being paged once node-heal is installed. Alertmanager gives its root route's receiver
// only the alerts no route matched; node-heal's route matches every heal="true" alert (and goes
// on, continue: true), so without more a root receiver that pages would never hear of a failing
// node again. Each form ships, or docs/install.md says to add, a last route heal="true" that
// inherits the root's receiver. For a team whose root receiver pages, the real amtool routes every
// alert, in each form, to the receivers it reached before node-heal, plus node-heal for heal="true".
import assert from "node:assert/strict";
import { parse, stringify } from "yaml";
import { helmMerge, manifest } from "../support/helpers.ts";
import { operatorConfig } from "../support/operator_config.ts";
import { hasTool, runTool } from "../support/processes.ts";
import { tempDir } from "./install_overlay.ts";
import { codeBlocks, ROOT } from "./doc_links.ts";

const AMTOOL = await hasTool("amtool", "apt-get install prometheus-alertmanager");

// deno-lint-ignore no-explicit-any
type Config = any;
type Route = { receiver?: string; matchers?: string[]; continue?: boolean };

const read = (path: string) => Deno.readTextFile(new URL(`../${path}`, import.meta.url));

/** A team's Alertmanager before node-heal: the root pages, one team has its own route. */
const TEAM: Config = parse(`
route:
  receiver: pager
  routes:
    - receiver: "null"
      matchers: ['alertname = "Watchdog"']
    - receiver: storage-team
      matchers: ['team="storage"']
receivers:
  - name: "null"
  - name: pager
  - name: storage-team
`);

/** The alerts to route: two that node-heal acts on, two it does not, and the Watchdog. */
const ALERTS: Record<string, string>[] = [
  { alertname: "NodeHighCPU", heal: "true", severity: "warning", namespace: "monitoring" },
  {
    alertname: "NodeFilesystemReadOnly",
    heal: "true",
    severity: "critical",
    namespace: "monitoring",
    team: "storage",
  },
  { alertname: "KubePodCrashLooping", severity: "warning", namespace: "monitoring" },
  { alertname: "DiskSlow", team: "storage", namespace: "monitoring" },
  { alertname: "Watchdog", severity: "none", namespace: "monitoring" },
];

/** The receivers amtool routes each alert to, sorted, after checking the configuration. */
async function routeAll(config: Config): Promise<string[][]> {
  await using tmp = await tempDir("node-heal-paging-");
  const file = `${tmp.dir}/alertmanager.yml`;
  await Deno.writeTextFile(file, stringify(config));
  const check = await runTool("amtool", ["check-config", file]);
  assert.ok(check?.ok, check?.out ?? "");
  const out: string[][] = [];
  for (const labels of ALERTS) {
    const args = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
    const r = await runTool("amtool", [
      "config",
      "routes",
      "test",
      `--config.file=${file}`,
      ...args,
    ]);
    assert.ok(r?.ok, r?.out ?? "");
    out.push(r!.stdout.trim().split(",").sort());
  }
  return out;
}

/**
 * After = before, plus node-heal's receiver for every heal="true" alert; and, so that this is not
 * true by accident, the pager gets the heal="true" alert no team route takes.
 */
async function assertKeepsPaging(before: Config, after: Config, nodeHeal: string) {
  const was = await routeAll(before);
  const is = await routeAll(after);
  ALERTS.forEach((labels, i) => {
    const expected = labels.heal === "true" ? [...was[i], nodeHeal].sort() : was[i];
    assert.deepEqual(is[i], expected, `${labels.alertname} goes where it went, and to node-heal`);
  });
  assert.deepEqual(is[0], [nodeHeal, "pager"].sort(), "the pager still hears of NodeHighCPU");
  assert.deepEqual(is[1], [nodeHeal, "storage-team"].sort(), "the storage team still does");
}

/** Without its last route, a form's configuration keeps heal="true" alerts from the pager. */
async function assertPagerLosesWithout(after: Config, nodeHeal: string) {
  const routes: Route[] = after.route.routes;
  const last = routes.at(-1)!;
  assert.deepEqual(last, { matchers: ['heal="true"'] }, "the last route is the one to the root");
  const cut = { ...after, route: { ...after.route, routes: routes.slice(0, -1) } };
  assert.deepEqual((await routeAll(cut))[0], [nodeHeal], "without it, nobody is paged");
}

/** node-heal's routes as a form ships them: the first (to node-heal) and the last (to the root). */
function nodeHealRoutes(routes: Route[]): { first: Route; last: Route } {
  const first = routes[0];
  const last = routes.at(-1)!;
  assert.equal(first.receiver, "node-heal");
  assert.equal(first.continue, true);
  assert.deepEqual(last, { matchers: ['heal="true"'] });
  return { first, last };
}

Deno.test({
  name:
    "kube-prometheus-stack's values: a team whose root receiver pages, copying node-heal's routes and receiver as the values file says, is paged as before",
  ignore: !AMTOOL,
  fn: async () => {
    const chart = parse(await read("fixtures/kube-prometheus-stack-alertmanager-config.yaml"));
    delete chart.templates;
    const shipped = parse(await read("../manifests/kube-prometheus-stack-values.yaml"))
      .alertmanager.config;
    const { first, last } = nodeHealRoutes(shipped.route.routes);
    const receiver = shipped.receivers.find((r: { name: string }) => r.name === "node-heal");
    // "copy these into your lists instead: node-heal's route first, the last route last,
    // node-heal's receiver anywhere"
    const mine = structuredClone(TEAM);
    mine.route.routes = [first, ...mine.route.routes, last];
    mine.receivers.push(receiver);
    const before = helmMerge(chart, TEAM);
    const after = helmMerge(chart, mine);
    await assertKeepsPaging(before, after, "node-heal");
    await assertPagerLosesWithout(after, "node-heal");
  },
});

Deno.test({
  name:
    "a plain alertmanager.yml whose root receiver pages, merged with manifests/alertmanager-route.yaml as its comment says, is paged as before",
  ignore: !AMTOOL,
  fn: async () => {
    const [fragment] = await manifest("alertmanager-route.yaml") as Config[];
    const { first, last } = nodeHealRoutes(fragment.route.routes);
    assert.equal(fragment.route.routes.length, 2, "the fragment has those two routes");
    const after = structuredClone(TEAM);
    after.route.routes = [first, ...after.route.routes, last];
    after.receivers.push(...fragment.receivers);
    await assertKeepsPaging(TEAM, after, "node-heal");
    await assertPagerLosesWithout(after, "node-heal");
  },
});

Deno.test({
  name:
    "the AlertmanagerConfig, as the operator renders it on a configuration whose root receiver pages, with the last route docs/install.md adds, is paged as before",
  ignore: !AMTOOL,
  fn: async () => {
    const [amc] = await manifest("alertmanager-config/alertmanager-config.yaml") as Config[];
    assert.equal(amc.metadata.namespace, ALERTS[0].namespace, "the alerts carry its namespace");
    // docs/install.md's snippet for this form: the route to add after yours.
    const guide = await Deno.readTextFile(new URL("docs/install.md", ROOT));
    const snippets = codeBlocks(guide).filter((b) =>
      b.lang === "yaml" && /^3\. /.test(b.section) && b.text.includes("alertmanager:")
    );
    assert.equal(snippets.length, 1, "step 3 shows the route to add");
    const added: Route[] = parse(snippets[0].text).alertmanager.config.route.routes;
    assert.equal(added.length, 1);
    const withLast = structuredClone(TEAM);
    withLast.route.routes.push(...added);
    const after = operatorConfig(withLast, amc, () => "a-token");
    const nodeHeal = `${amc.metadata.namespace}/${amc.metadata.name}/node-heal`;
    await assertKeepsPaging(TEAM, after, nodeHeal);
    await assertPagerLosesWithout(after, nodeHeal);
  },
});
