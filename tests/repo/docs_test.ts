// The reference tables of docs/ against the code: every flag, metric, annotation, Event reason
// and gate the code has is documented, so the docs cannot drift from it.
import assert from "node:assert/strict";
import { FLAGS } from "../../lib/service/flags.ts";
import { Metrics } from "../../lib/report/metrics.ts";
import { ANNOTATIONS, HISTORY } from "../../lib/decide/node_state.ts";
import { GATES } from "../../lib/decide/gates.ts";
import { EVENT_REASONS, SKIP_REASONS } from "../../lib/decide/decision.ts";
import { STEP_DOWN_REASONS } from "../../lib/act/elector.ts";
import { BACKGROUND_TASKS } from "../../lib/base/background.ts";
import { METRIC_LABELS } from "./metric_labels.ts";

const read = (path: string) => Deno.readTextFile(new URL(`../../${path}`, import.meta.url));
const allDocs = (await Promise.all(
  [...Deno.readDirSync(new URL("../../docs/", import.meta.url))]
    .filter((e) => e.name.endsWith(".md"))
    .map((e) => read(`docs/${e.name}`)),
)).join("\n");
const configuration = await read("docs/configuration.md");

/** The table row of docs/configuration.md that starts with this flag. */
function flagRow(name: string): string | undefined {
  return configuration.split("\n").find((l) => l.startsWith("|") && l.includes(`\`--${name}\``));
}

Deno.test("docs/configuration.md has a row for every flag, with its variable and default", () => {
  for (const [name, flag] of Object.entries(FLAGS)) {
    if (name === "help") continue;
    const row = flagRow(name);
    assert.ok(row, `--${name} has a row`);
    if (flag.env) assert.ok(row.includes(flag.env), `--${name}'s row names ${flag.env}`);
    const def = flag.serve;
    if (typeof def === "string" && def !== "") {
      assert.ok(row.includes(`\`${def}\``), `--${name}'s row gives its default ${def}`);
    } else if (def === true || def === false) {
      assert.match(
        row,
        def ? /\bon\b/ : /\boff\b/,
        `--${name}'s row says it is ${def ? "on" : "off"}`,
      );
    }
  }
});

Deno.test("docs/configuration.md lists every metric node-heal exports", async () => {
  const names = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name);
  assert.ok(names.length > 10);
  for (const name of names) assert.ok(configuration.includes(`\`${name}\``), `${name} is listed`);
});

/** The table row of docs/configuration.md for this metric. */
function metricRow(name: string): string | undefined {
  return configuration.split("\n").find((l) => l.split("|")[1]?.trim() === `\`${name}\``);
}

Deno.test("every label of every metric has its values in tests/repo/metric_labels.ts", () => {
  for (const metric of new Metrics().registry.getMetricsAsArray()) {
    const { name, labelNames } = metric as unknown as { name: string; labelNames: string[] };
    const table = METRIC_LABELS[name] ?? {};
    assert.deepEqual(Object.keys(table).sort(), [...labelNames].sort(), `${name}'s labels`);
  }
});

Deno.test("docs/ names every value of every metric's labels, in its row or its own table", () => {
  assert.ok(metricRow("nodeheal_leader_stepdowns_total")?.includes(`\`${STEP_DOWN_REASONS[0]}\``));
  const missing: string[] = [];
  for (const [name, labels] of Object.entries(METRIC_LABELS)) {
    const row = metricRow(name);
    assert.ok(row, `${name} has a row`);
    for (const [label, spec] of Object.entries(labels)) {
      if ("free" in spec) continue;
      const where: string = spec.in === "row" ? row : allDocs;
      const absent = spec.values.filter((v) => v !== "" && !where.includes(`\`${v}\``));
      missing.push(...absent.map((v) => `${name}{${label}="${v}"}`));
    }
  }
  assert.deepEqual(missing, [], "every label value is documented");
});

Deno.test("docs/design.md names every background task, the label of nodeheal_background_errors_total", async () => {
  const design = await read("docs/design.md");
  const section = design.slice(design.indexOf("## Background tasks"));
  assert.ok(section.length > 100, "docs/design.md has a section on background tasks");
  for (const task of BACKGROUND_TASKS) assert.ok(section.includes(`\`${task}\``), task);
});

Deno.test("docs/ explains every annotation node-heal writes on a Node", () => {
  for (const key of [...Object.values(ANNOTATIONS), ...Object.values(HISTORY)]) {
    assert.ok(allDocs.includes(`\`${key}\``), `${key} is documented`);
  }
});

Deno.test("docs/ names every Event reason and every gate of a decision", () => {
  const reasons = [...EVENT_REASONS];
  assert.ok(reasons.includes("NodeHealCordoned"));
  const gates = [...GATES, ...SKIP_REASONS];
  assert.ok(gates.includes("stale") && gates.includes("cooldown") && gates.includes("excluded"));
  assert.ok(gates.includes("maxConcurrent") && gates.includes("ledger"));
  for (const name of [...reasons, ...gates]) {
    assert.ok(allDocs.includes(`\`${name}\``), `${name} is documented`);
  }
});

Deno.test("docs/backtest.md explains every flag of node-heal backtest", async () => {
  const { USAGE } = await import("../../lib/backtest/cli_args.ts");
  const doc = await read("docs/backtest.md");
  const flags = [...USAGE.matchAll(/^\s+(?:-h, )?(--[a-z-]+)/gm)].map((m) => m[1]);
  assert.ok(flags.length > 15);
  for (const flag of flags) assert.ok(doc.includes(`\`${flag}`), `${flag} is in docs/backtest.md`);
});

Deno.test('docs/development.md calls no dependency the code imports "tests only"', async () => {
  const doc = await read("docs/development.md");
  const testsOnly = [...doc.matchAll(/^- `npm:([^`]+)` \(tests only\)/gm)].map((m) => m[1]);
  const sources = [...walkTs(new URL("../../lib/", import.meta.url)), await read("main.ts")];
  for (const name of testsOnly) {
    const imported = sources.some((s) =>
      s.includes(`from "${name}"`) || s.includes(`from "${name}/`)
    );
    assert.ok(!imported, `${name} is imported by the production code, not by tests only`);
  }
});

/** The text of every TypeScript file under `dir`. */
function* walkTs(dir: URL): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walkTs(url);
    else if (entry.name.endsWith(".ts")) yield Deno.readTextFileSync(url);
  }
}
