import assert from "node:assert/strict";
import { parseBacktestArgs, parseTime } from "../../../lib/backtest/cli_args.ts";

const NOW = new Date("2026-11-29T12:00:00Z");

Deno.test("parseBacktestArgs() reads a window as durations before now, with the node-heal route's defaults", () => {
  const c = parseBacktestArgs(["--prometheus", "http://prom:9090", "--from", "7d"], NOW);
  assert.ok(c !== "help");
  assert.equal(c.from.toISOString(), "2026-11-22T12:00:00.000Z");
  assert.equal(c.to.toISOString(), NOW.toISOString());
  assert.equal(c.stepMs, 60_000);
  assert.equal(c.selector, 'heal="true"');
  assert.deepEqual(c.route.groupBy, ["alertname", "instance"]);
  assert.equal(c.route.repeatIntervalMs, 3_600_000);
  assert.equal(c.nodes, "prometheus");
  assert.deepEqual(c.configs, []);
});

Deno.test("parseBacktestArgs() takes two --config to compare and --kubeconfig for the Nodes", () => {
  const c = parseBacktestArgs([
    "--prometheus=http://prom:9090",
    "--from=2026-11-01T00:00:00Z",
    "--to=2026-11-08T00:00:00Z",
    "--config=a.yaml",
    "--config=b.yaml",
    "--kubeconfig=/tmp/kc",
    "--group-by=alertname",
    "--json",
  ], NOW);
  assert.ok(c !== "help");
  assert.deepEqual(c.configs, ["a.yaml", "b.yaml"]);
  assert.equal(c.nodes, "cluster");
  assert.equal(c.kubeconfig, "/tmp/kc");
  assert.deepEqual(c.route.groupBy, ["alertname"]);
  assert.equal(c.json, true);
});

Deno.test("parseBacktestArgs() refuses what it cannot use, naming the flag and the value", () => {
  const fails = (args: string[], message: RegExp) =>
    assert.throws(() => parseBacktestArgs(args, NOW), message);
  fails(["--from", "7d"], /give --prometheus URL/);
  fails(["--prometheus", "http://p"], /give --from/);
  fails(
    ["--prometheus", "http://p", "--from", "yesterday"],
    /--from: expected an RFC 3339 time .* got "yesterday"/,
  );
  fails(
    ["--prometheus", "http://p", "--from", "2026-11-02T00:00:00Z", "--to", "2026-11-01T00:00:00Z"],
    /--from must be before --to/,
  );
  fails(
    ["--prometheus", "http://p", "--from", "7d", "--step", "fast"],
    /--step: expected a duration/,
  );
  fails(
    ["--prometheus", "http://p", "--from", "7d", "--nodes", "etcd"],
    /--nodes: expected prometheus or cluster, got "etcd"/,
  );
  fails(["--prometheus", "http://p", "--from", "7d", "--bogus"], /bogus/);
});

Deno.test("parseTime() reads RFC 3339 and durations in days or hours before a base", () => {
  assert.equal(parseTime("36h", "from", NOW).toISOString(), "2026-11-28T00:00:00.000Z");
  assert.equal(parseTime("2d", "from", NOW).toISOString(), "2026-11-27T12:00:00.000Z");
  assert.equal(
    parseTime("2026-11-01T00:00:00+01:00", "from", NOW).toISOString(),
    "2026-10-31T23:00:00.000Z",
  );
});
