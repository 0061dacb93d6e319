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
  assert.equal(c.selfRecoveryWithinMs, 10 * 60_000);
});

Deno.test("parseBacktestArgs() takes --self-recovery-within up to 24h, and with --demo", () => {
  const within = (value: string, ...more: string[]) => {
    const c = parseBacktestArgs([...more, "--self-recovery-within", value], NOW);
    assert.ok(c !== "help");
    return c.selfRecoveryWithinMs;
  };
  const real = ["--prometheus", "http://p", "--from", "7d"];
  assert.equal(within("90s", ...real), 90_000);
  assert.equal(within("24h", ...real), 24 * 3_600_000);
  assert.equal(within("5m", "--demo"), 5 * 60_000);
  for (const bad of ["25h", "0s", "soon", "10"]) {
    assert.throws(
      () => within(bad, ...real),
      new RegExp(`--self-recovery-within: expected a duration .*\\(at most 24h\\), got "${bad}"`),
    );
  }
});

Deno.test("parseBacktestArgs() takes two --config to compare and --kubeconfig for the Nodes", () => {
  const kubeconfig = Deno.makeTempFileSync({ prefix: "node-heal-kubeconfig-" });
  const c = parseBacktestArgs([
    "--prometheus=http://prom:9090",
    "--from=2026-11-01T00:00:00Z",
    "--to=2026-11-08T00:00:00Z",
    "--config=a.yaml",
    "--config=b.yaml",
    `--kubeconfig=${kubeconfig}`,
    "--group-by=alertname",
    "--json",
  ], NOW);
  assert.ok(c !== "help");
  assert.deepEqual(c.configs, ["a.yaml", "b.yaml"]);
  assert.equal(c.nodes, "cluster");
  assert.equal(c.kubeconfig, kubeconfig);
  assert.deepEqual(c.route.groupBy, ["alertname"]);
  assert.equal(c.json, true);
  Deno.removeSync(kubeconfig);
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

Deno.test("parseBacktestArgs() refuses a --prometheus that is not an http URL as a bad flag", () => {
  for (const url of ["prom:9090", "ftp://prom", "http://prom:9090/?x=1"]) {
    assert.throws(
      () => parseBacktestArgs(["--prometheus", url, "--from", "7d"], NOW),
      new RegExp(`Cannot use --prometheus "${url.replace(/[?.]/g, "\\$&")}"`),
    );
  }
});

Deno.test("parseBacktestArgs() refuses a window it cannot read: no zone, in the future, too many steps", () => {
  const fails = (args: string[], message: RegExp) =>
    assert.throws(() => parseBacktestArgs(["--prometheus", "http://p", ...args], NOW), message);
  // A time without its zone would be read in the local zone of whoever runs it.
  fails(
    ["--from", "2026-11-01T00:00:00", "--to", "2026-11-02T00:00:00Z"],
    /--from: expected an RFC 3339 time with its zone .* got "2026-11-01T00:00:00"/,
  );
  // Alerts firing now would look resolved at the last sample.
  fails(
    ["--from", "1d", "--to", "2026-12-01T00:00:00Z"],
    /--to is later than now \(2026-11-29T12:00:00.000Z\)/,
  );
  // Out of the range of a date: refused, not read as "Invalid Date".
  fails(["--from", "999999999d"], /--from: expected an RFC 3339 time .* got "999999999d"/);
  // 1.4e7 range requests: refused at once rather than running out of memory.
  fails(["--from", "99999999d"], /Cannot read 143,999,998,561 steps of 1m .* at most 1,200,000/);
  fails(["--from", "30d", "--step", "1s"], /Cannot read 2,592,001 steps of 1s/);
  assert.ok(
    parseBacktestArgs([
      "--prometheus",
      "http://p",
      "--from",
      "365d",
      "--step",
      "30s",
      "--eval-interval",
      "30s",
    ], NOW),
  );
});

Deno.test("parseBacktestArgs() refuses a step over two evaluation intervals, naming both flags", () => {
  assert.throws(
    () => parseBacktestArgs(["--prometheus", "http://p", "--from", "7d", "--step", "5m"], NOW),
    /Cannot use --step 5m with --eval-interval 1m: .* give --step 2m or less/,
  );
  assert.throws(
    () =>
      parseBacktestArgs(
        ["--prometheus", "http://p", "--from", "7d", "--eval-interval", "15s"],
        NOW,
      ),
    /Cannot use --step 1m with --eval-interval 15s/,
  );
});

Deno.test("parseBacktestArgs() reads --timeout and refuses an empty --html and a --kubeconfig that is not there", () => {
  const base = ["--prometheus", "http://p", "--from", "7d"];
  const c = parseBacktestArgs([...base, "--timeout", "2m"], NOW);
  assert.ok(c !== "help");
  assert.equal(c.timeoutMs, 120_000);
  assert.throws(() => parseBacktestArgs([...base, "--timeout", "2d"], NOW), /--timeout/);
  assert.throws(
    () => parseBacktestArgs([...base, "--html", ""], NOW),
    /Cannot use --html "": give a file, or -/,
  );
  assert.throws(
    () => parseBacktestArgs([...base, "--kubeconfig", "/nonexistent/kubeconfig"], NOW),
    /Cannot read --kubeconfig \/nonexistent\/kubeconfig: /,
  );
});

Deno.test("parseBacktestArgs() refuses a token file whose token has a line break inside, without showing the token", () => {
  const file = Deno.makeTempFileSync({ prefix: "node-heal-token-" });
  try {
    Deno.writeTextFileSync(file, "s3cret-part-one\ns3cret-part-two\n");
    assert.throws(
      () =>
        parseBacktestArgs(
          ["--prometheus", "http://p", "--from", "7d", "--bearer-token-file", file],
          NOW,
        ),
      (err: Error) =>
        err.message ===
          `Cannot use --bearer-token-file ${file}: its token has a line break or a control character inside`,
    );
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("parseBacktestArgs() reads --max-answer-bytes, 64 MiB by default, and refuses what is not a count of bytes from 1 KiB to 1 GiB", () => {
  const base = ["--prometheus", "http://p", "--from", "7d"];
  const c = parseBacktestArgs(base, NOW);
  assert.ok(c !== "help");
  assert.equal(c.maxAnswerBytes, 64 * 2 ** 20);
  const d = parseBacktestArgs([...base, "--max-answer-bytes", "1048576"], NOW);
  assert.ok(d !== "help");
  assert.equal(d.maxAnswerBytes, 1_048_576);
  for (const bad of ["1023", "2000000000", "64MiB", "0x10000", ""]) {
    assert.throws(
      () => parseBacktestArgs([...base, "--max-answer-bytes", bad], NOW),
      new RegExp(
        `Cannot parse --max-answer-bytes: expected a number of bytes from 1024 to 1073741824, got "${bad}"`,
      ),
    );
  }
});
