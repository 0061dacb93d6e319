// The reference tables of docs/ against the code: every flag, metric, annotation, Event reason
// and gate the code has is documented, so the docs cannot drift from it.
import assert from "node:assert/strict";
import { FLAGS } from "../../lib/service/flags.ts";
import { Metrics } from "../../lib/report/metrics.ts";
import { ANNOTATIONS, HISTORY } from "../../lib/decide/node_state.ts";
import { GATES } from "../../lib/decide/gates.ts";
import { SKIP_REASONS } from "../../lib/decide/decision.ts";
import { STEP_DOWN_REASONS } from "../../lib/act/elector.ts";
import { BACKGROUND_TASKS } from "../../lib/base/background.ts";

const read = (path: string) => Deno.readTextFile(new URL(`../../${path}`, import.meta.url));
const allDocs = (await Promise.all(
  [...Deno.readDirSync(new URL("../../docs/", import.meta.url))]
    .filter((e) => e.name.endsWith(".md"))
    .map((e) => read(`docs/${e.name}`)),
)).join("\n");
const configuration = await read("docs/configuration.md");
const decision = await read("lib/decide/decision.ts");

/** The table row of docs/configuration.md that starts with this flag. */
function flagRow(name: string): string | undefined {
  return configuration.split("\n").find((l) => l.startsWith("|") && l.includes(`\`--${name}\``));
}

/** The string members of a union type declared in a source file (decision.ts by default). */
function unionMembers(declaration: RegExp, source = decision): string[] {
  const body = declaration.exec(source)?.[1];
  assert.ok(body, `decision.ts declares ${declaration}`);
  return [...body.matchAll(/"([A-Za-z]+)"/g)].map((m) => m[1]);
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

Deno.test("docs/configuration.md names every reason a leader steps down, in its metric's row", () => {
  const row = configuration.split("\n").find((l) =>
    l.includes("`nodeheal_leader_stepdowns_total`")
  );
  assert.ok(row, "the metric has a row");
  for (const reason of STEP_DOWN_REASONS) assert.ok(row.includes(`\`${reason}\``), reason);
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
  const reasons = unionMembers(/reason:\s*([^;]+);/);
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
