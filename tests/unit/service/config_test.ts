// Flags, environment variables and files into a Config: lib/service/config.ts and lib/service/flags.ts. Every
// parseConfig() call gets its own environment, so the process's never leaks in.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Config,
  FLAGS,
  parseClusterConfig,
  parseConfig,
  parseCount,
  parseDuration,
  parseListen,
  usage,
} from "../../../lib/service/config.ts";
import { flagsOf } from "../../../lib/service/flags.ts";

/** An environment of exactly `vars`. */
function envOf(vars: Record<string, string> = {}): (name: string) => string | undefined {
  return (name) => Object.hasOwn(vars, name) ? vars[name] : undefined;
}

/** A fresh temporary directory, removed when the returned value is disposed. */
async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "node-heal-config-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Writes `text` to `dir/name` and returns the path. */
async function write(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, text);
  return path;
}

Deno.test("parseConfig() gives serve's defaults, taken from FLAGS, with no flags and no environment", () => {
  const config = parseConfig([], "serve", envOf());
  assert.deepEqual(config.listen, { hostname: "0.0.0.0", port: 8000 });
  assert.equal(config.embedded, undefined);
  assert.equal(config.kubeconfig, undefined);
  assert.equal(config.dryRun, false);
  assert.equal(config.paused, false);
  assert.equal(config.help, false);
  assert.equal(config.insecureAllowUnauthenticated, false);
  assert.equal(config.eventNamespace, FLAGS["event-namespace"].serve);
  assert.equal(config.namespace, FLAGS.namespace.serve);
  assert.equal(config.holdTtlMs, 4 * 3_600_000);
  assert.equal(config.apiTimeoutMs, 10_000);
  assert.equal(config.requestTimeoutMs, 30_000);
  assert.equal(config.maxBodyBytes, Number(FLAGS["max-body-bytes"].serve));
  assert.equal(config.maxInFlight, Number(FLAGS["max-in-flight"].serve));
  assert.equal(config.maxConnections, Number(FLAGS["max-connections"].serve));
  assert.equal(config.policy, undefined);
  assert.equal(config.tls, undefined);
  assert.deepEqual(config.credentials, { bearerTokens: [], basicUsers: new Map() });
  assert.equal(config.instance, "node-heal");
  assert.equal(config.logFormat, "json");
  assert.equal(config.logLevel, "info");
});

Deno.test("parseConfig() gives dev's defaults: loopback, pretty logs, an embedded cluster", () => {
  const config = parseConfig([], "dev", envOf());
  assert.deepEqual(config.listen, { hostname: "127.0.0.1", port: 8000 });
  assert.equal(config.logFormat, "pretty");
  assert.deepEqual(config.embedded, {
    listen: { hostname: "127.0.0.1", port: 6443 },
    workers: 3,
    kubeconfigOut: ".dev/kubeconfig",
  });
});

Deno.test("parseConfig() reads every value flag and boolean flag given", () => {
  const config = parseConfig(
    [
      "--listen=[::1]:9000",
      "--kubeconfig",
      "/etc/kube/config",
      "--dry-run",
      "--paused",
      "--insecure-allow-unauthenticated",
      "--event-namespace",
      "kube-system",
      "--namespace",
      "ops",
      "--instance",
      "replica-1",
      "--hold-ttl",
      "90m",
      "--api-timeout",
      "2500ms",
      "--watch-timeout",
      "90s",
      "--request-timeout",
      "1.5s",
      "--header-timeout",
      "3s",
      "--idle-timeout",
      "2m",
      "--max-body-bytes",
      "2048",
      "--max-in-flight",
      "7",
      "--max-connections",
      "99",
      "--log-format",
      "pretty",
      "--log-level",
      "debug",
      "-h",
    ],
    "serve",
    envOf(),
  );
  assert.deepEqual(config.listen, { hostname: "::1", port: 9000 });
  assert.equal(config.kubeconfig, "/etc/kube/config");
  assert.equal(config.dryRun, true);
  assert.equal(config.paused, true);
  assert.equal(config.insecureAllowUnauthenticated, true);
  assert.equal(config.help, true);
  assert.equal(config.eventNamespace, "kube-system");
  assert.equal(config.namespace, "ops");
  assert.equal(config.instance, "replica-1");
  assert.equal(config.holdTtlMs, 90 * 60_000);
  assert.equal(config.apiTimeoutMs, 2500);
  assert.equal(config.watchTimeoutMs, 90_000);
  assert.equal(config.requestTimeoutMs, 1500);
  assert.equal(config.headerTimeoutMs, 3000);
  assert.equal(config.idleTimeoutMs, 120_000);
  assert.equal(config.maxBodyBytes, 2048);
  assert.equal(config.maxInFlight, 7);
  assert.equal(config.maxConnections, 99);
  assert.equal(config.logFormat, "pretty");
  assert.equal(config.logLevel, "debug");
});

Deno.test("parseConfig() falls back to each flag's environment variable, and a flag wins over it", () => {
  const env = envOf({
    NODE_HEAL_LISTEN: "10.1.2.3:8443",
    NODE_HEAL_DRY_RUN: "yes",
    NODE_HEAL_PAUSED: "TRUE",
    NODE_HEAL_EVENT_NAMESPACE: "events",
    POD_NAMESPACE: "heal-ns",
    NODE_HEAL_HOLD_TTL: "30m",
    NODE_HEAL_MAX_IN_FLIGHT: "5",
    NODE_HEAL_LOG_FORMAT: "pretty",
    NODE_HEAL_LOG_LEVEL: "warning",
    NODE_HEAL_INSECURE_ALLOW_UNAUTHENTICATED: "1",
  });
  const fromEnv = parseConfig([], "serve", env);
  assert.deepEqual(fromEnv.listen, { hostname: "10.1.2.3", port: 8443 });
  assert.equal(fromEnv.dryRun, true);
  assert.equal(fromEnv.paused, true);
  assert.equal(fromEnv.insecureAllowUnauthenticated, true);
  assert.equal(fromEnv.eventNamespace, "events");
  assert.equal(fromEnv.namespace, "heal-ns");
  assert.equal(fromEnv.holdTtlMs, 30 * 60_000);
  assert.equal(fromEnv.maxInFlight, 5);
  assert.equal(fromEnv.logFormat, "pretty");
  assert.equal(fromEnv.logLevel, "warning");

  const flagged = parseConfig(
    ["--listen", "127.0.0.1:1", "--hold-ttl", "1h", "--max-in-flight", "9"],
    "serve",
    env,
  );
  assert.deepEqual(flagged.listen, { hostname: "127.0.0.1", port: 1 });
  assert.equal(flagged.holdTtlMs, 3_600_000);
  assert.equal(flagged.maxInFlight, 9);
  // What the flags leave unset still comes from the environment.
  assert.equal(flagged.eventNamespace, "events");

  for (const no of ["false", "0", "no", "", "FALSE"]) {
    assert.equal(parseConfig([], "serve", envOf({ NODE_HEAL_DRY_RUN: no })).dryRun, false, no);
  }
  // A boolean flag given wins over a false variable.
  assert.equal(
    parseConfig(["--dry-run"], "serve", envOf({ NODE_HEAL_DRY_RUN: "false" })).dryRun,
    true,
  );
});

Deno.test("parseConfig() reads --cluster-name and NODE_HEAL_CLUSTER_NAME, and refuses a value no label has", () => {
  assert.equal(parseConfig([], "serve", envOf()).clusterName, undefined);
  assert.equal(parseConfig([], "dev", envOf()).clusterName, undefined, "dev mode's neither");
  assert.equal(parseConfig(["--cluster-name", "prod"], "serve", envOf()).clusterName, "prod");
  assert.equal(
    parseConfig([], "dev", envOf({ NODE_HEAL_CLUSTER_NAME: "prod-eu" })).clusterName,
    "prod-eu",
  );
  assert.equal(
    parseConfig(["--cluster-name=a"], "serve", envOf({ NODE_HEAL_CLUSTER_NAME: "b" })).clusterName,
    "a",
    "the flag wins",
  );
  assert.equal(
    parseConfig([], "serve", envOf({ NODE_HEAL_CLUSTER_NAME: "" })).clusterName,
    undefined,
  );
  for (const bad of ["prod\n", "x".repeat(254)]) {
    assert.throws(
      () => parseConfig(["--cluster-name", bad], "serve", envOf()),
      /^Error: Cannot parse --cluster-name: expected a label value of 1 to 253 printable characters, got "/,
    );
  }
});

Deno.test("parseConfig() names this replica by --instance, then NODE_HEAL_INSTANCE, POD_NAME, HOSTNAME", () => {
  const all = { NODE_HEAL_INSTANCE: "from-var", POD_NAME: "pod-7", HOSTNAME: "host-3" };
  assert.equal(parseConfig(["--instance", "flag"], "serve", envOf(all)).instance, "flag");
  assert.equal(parseConfig([], "serve", envOf(all)).instance, "from-var");
  assert.equal(
    parseConfig([], "serve", envOf({ POD_NAME: "pod-7", HOSTNAME: "host-3" })).instance,
    "pod-7",
  );
  assert.equal(parseConfig([], "serve", envOf({ HOSTNAME: "host-3" })).instance, "host-3");
  assert.equal(parseConfig([], "serve", envOf()).instance, "node-heal");
});

Deno.test("parseConfig() in serve refuses the dev-only --embedded-* flags and ignores their variables", () => {
  const devOnly = Object.entries(FLAGS).filter(([, f]) => f.devOnly).map(([name]) => name);
  assert.deepEqual(devOnly.sort(), [
    "embedded-api-listen",
    "embedded-cluster",
    "embedded-kubeconfig-out",
    "embedded-workers",
  ]);
  for (const name of devOnly) {
    const args = FLAGS[name].type === "boolean" ? [`--${name}`] : [`--${name}`, "x"];
    assert.throws(
      () => parseConfig(args, "serve", envOf()),
      (err: Error) => err.message.includes(`Unknown option '--${name}'`),
      name,
    );
    // The same flag is dev mode's to take.
    if (name !== "embedded-workers" && name !== "embedded-api-listen") {
      parseConfig(args, "dev", envOf());
    }
  }
  const env = envOf({
    NODE_HEAL_EMBEDDED_CLUSTER: "true",
    NODE_HEAL_EMBEDDED_WORKERS: "not a number",
    NODE_HEAL_EMBEDDED_API_LISTEN: "nowhere",
  });
  assert.equal(parseConfig([], "serve", env).embedded, undefined);
  // Dev mode does read them, and says which is wrong.
  assert.throws(() => parseConfig([], "dev", env), /Cannot parse --embedded-api-listen/);
});

Deno.test("parseConfig() in dev reads the embedded cluster's flags and variables", () => {
  const config = parseConfig(
    ["--embedded-workers", "5", "--embedded-api-listen", "127.0.0.1:0"],
    "dev",
    envOf({ NODE_HEAL_EMBEDDED_KUBECONFIG_OUT: "/tmp/kc" }),
  );
  assert.deepEqual(config.embedded, {
    listen: { hostname: "127.0.0.1", port: 0 },
    workers: 5,
    kubeconfigOut: "/tmp/kc",
  });
  // The variable turns the embedded cluster off; then --kubeconfig picks the cluster.
  const real = parseConfig(
    ["--kubeconfig", "/k"],
    "dev",
    envOf({ NODE_HEAL_EMBEDDED_CLUSTER: "false" }),
  );
  assert.equal(real.embedded, undefined);
  assert.equal(real.kubeconfig, "/k");
  assert.throws(
    () => parseConfig(["--kubeconfig", "/k"], "dev", envOf()),
    /Cannot use --kubeconfig with --embedded-cluster: choose one cluster/,
  );
  assert.throws(
    () => parseConfig(["--embedded-workers", "100001"], "dev", envOf()),
    /Cannot parse --embedded-workers: expected a whole number from 0 to 100000, got "100001"/,
  );
});

Deno.test("parseConfig() answers every kind of bad input with an error naming the flag, and keeps no state", () => {
  const before = structuredClone(FLAGS);
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--no-such-flag"], {}, /Cannot parse flags: Unknown option '--no-such-flag'/],
    [["--listen"], {}, /Cannot parse flags: Option '--listen <value>' argument missing/],
    [["--dry-run=yes"], {}, /Cannot parse flags: Option '--dry-run' does not take an argument/],
    [["serve"], {}, /Cannot parse flags: Unexpected argument 'serve'/],
    [["--listen", "8000"], {}, /Cannot parse --listen: expected HOST:PORT .*, got "8000"/],
    [["--listen", "a:65536"], {}, /Cannot parse --listen: .*got "a:65536"/],
    [[], { NODE_HEAL_LISTEN: "" }, /Cannot parse --listen: .*got ""/],
    [["--hold-ttl", "4"], {}, /Cannot parse --hold-ttl: expected a duration .*, got "4"/],
    [["--hold-ttl", "0s"], {}, /Cannot parse --hold-ttl: .*got "0s"/],
    [["--api-timeout", "1d"], {}, /Cannot parse --api-timeout: .*got "1d"/],
    [["--request-timeout=-1s"], {}, /Cannot parse --request-timeout: .*got "-1s"/],
    [["--header-timeout", "soon"], {}, /Cannot parse --header-timeout: .*got "soon"/],
    [[], { NODE_HEAL_IDLE_TIMEOUT: "5 m" }, /Cannot parse --idle-timeout: .*got "5 m"/],
    [
      ["--max-body-bytes", "1023"],
      {},
      /Cannot parse --max-body-bytes: expected a whole number from 1024 to 67108864, got "1023"/,
    ],
    [["--max-body-bytes", "1e6"], {}, /Cannot parse --max-body-bytes: .*got "1e6"/],
    [["--max-in-flight", "0"], {}, /Cannot parse --max-in-flight: .*from 1 to 10000, got "0"/],
    [["--max-in-flight", "2.5"], {}, /Cannot parse --max-in-flight: .*got "2.5"/],
    [
      ["--max-connections", "-3"],
      {},
      /Cannot parse flags: Option '--max-connections' argument is ambiguous/,
    ],
    [["--max-connections=-3"], {}, /Cannot parse --max-connections: .*got "-3"/],
    [["--log-format", "xml"], {}, /Cannot parse --log-format: expected json or pretty, got "xml"/],
    [[], { NODE_HEAL_PAUSED: "maybe" }, /Cannot parse NODE_HEAL_PAUSED: .*got "maybe"/],
    [["--tls-cert", "/c.pem"], {}, /Cannot serve TLS: give both --tls-cert and --tls-key/],
    [[], { NODE_HEAL_TLS_KEY: "/k.pem" }, /Cannot serve TLS: give both --tls-cert and --tls-key/],
  ];
  for (const [args, vars, expected] of cases) {
    assert.throws(() => parseConfig(args, "serve", envOf(vars)), expected, args.join(" "));
  }
  assert.deepEqual(FLAGS, before);
  // A good parse after all those bad ones gives the defaults again.
  assert.deepEqual(parseConfig([], "serve", envOf()).listen, { hostname: "0.0.0.0", port: 8000 });
});

Deno.test("parseConfig() refuses a timeout longer than a timer can wait, naming the flag", () => {
  // A timer longer than 2^31-1 ms (24.8 days) fires at once: every request or call would time out.
  for (
    const flag of [
      "request-timeout",
      "header-timeout",
      "idle-timeout",
      "api-timeout",
      "watch-timeout",
    ]
  ) {
    for (const value of ["1000h", "2147483648ms", "25h"]) {
      assert.throws(
        () => parseConfig([`--${flag}`, value], "serve", envOf()),
        new Error(
          `Cannot parse --${flag}: expected a duration such as 90s, 5m or 4h (at most 24h), got "${value}"`,
        ),
        `--${flag} ${value}`,
      );
    }
  }
  const longest = parseConfig(
    ["--request-timeout", "24h", "--header-timeout", "24h", "--idle-timeout", "24h"],
    "serve",
    envOf({ NODE_HEAL_API_TIMEOUT: "24h" }),
  );
  assert.deepEqual(
    [
      longest.requestTimeoutMs,
      longest.headerTimeoutMs,
      longest.idleTimeoutMs,
      longest.apiTimeoutMs,
    ],
    [86_400_000, 86_400_000, 86_400_000, 86_400_000],
  );
  // The hold TTL is no timer: it is compared with timestamps, and may be long.
  assert.equal(parseConfig(["--hold-ttl", "1000h"], "serve", envOf()).holdTtlMs, 3_600_000_000);
});

Deno.test("parseConfig() reads leader election's durations with --leader-elect, and refuses ones that do not fit together", () => {
  assert.equal(parseConfig([], "serve", envOf()).election, undefined);
  assert.deepEqual(parseConfig(["--leader-elect"], "serve", envOf()).election, {
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2000,
    watchFailureTimeoutMs: 20_000,
  });
  const env = envOf({ NODE_HEAL_WATCH_FAILURE_TIMEOUT: "45s" });
  assert.equal(
    parseConfig(["--leader-elect"], "serve", env).election?.watchFailureTimeoutMs,
    45_000,
  );
  assert.equal(
    parseConfig(["--leader-elect", "--watch-failure-timeout=2s"], "dev", env).election
      ?.watchFailureTimeoutMs,
    2000,
    "as short as the retry period",
  );
  const cases: [string[], RegExp][] = [
    [
      ["--renew-deadline=15s"],
      /Cannot use --renew-deadline: it must be shorter than --lease-duration/,
    ],
    [["--retry-period=10s"], /Cannot use --retry-period: it must be shorter than --renew-deadline/],
    [
      ["--watch-failure-timeout=1999ms"],
      /Cannot use --watch-failure-timeout: it must be at least --retry-period/,
    ],
    [["--watch-failure-timeout=soon"], /Cannot parse --watch-failure-timeout: .*got "soon"/],
  ];
  for (const [args, expected] of cases) {
    assert.throws(() => parseConfig(["--leader-elect", ...args], "serve", envOf()), expected);
  }
});

Deno.test("parseListen() takes HOST:PORT and [IPv6]:PORT with ports 0 to 65535", () => {
  assert.deepEqual(parseListen("127.0.0.1:8000", "listen"), { hostname: "127.0.0.1", port: 8000 });
  assert.deepEqual(parseListen("localhost:0", "listen"), { hostname: "localhost", port: 0 });
  assert.deepEqual(parseListen("[::]:65535", "listen"), { hostname: "::", port: 65535 });
  assert.deepEqual(parseListen("[fe80::1]:80", "x"), { hostname: "fe80::1", port: 80 });
  for (const bad of ["", ":8000", "host", "host:", "host:65536", "::1:80", "a b:80", "h:-1"]) {
    assert.throws(
      () => parseListen(bad, "some-flag"),
      new Error(
        `Cannot parse --some-flag: expected HOST:PORT such as 127.0.0.1:8000, got "${bad}"`,
      ),
      bad,
    );
  }
});

Deno.test("parseDuration() takes positive durations in ms, s, m and h", () => {
  const good: [string, number][] = [
    ["500ms", 500],
    ["1.5s", 1500],
    ["90s", 90_000],
    ["5m", 300_000],
    ["4h", 14_400_000],
  ];
  for (const [text, ms] of good) assert.equal(parseDuration(text, "hold-ttl"), ms, text);
  for (const bad of ["", "0s", "0ms", "10", "1d", "-5s", "s", "five minutes"]) {
    assert.throws(
      () => parseDuration(bad, "hold-ttl"),
      new Error(`Cannot parse --hold-ttl: expected a duration such as 90s, 5m or 4h, got "${bad}"`),
      bad,
    );
  }
});

Deno.test("parseCount() takes whole numbers within the range, bounds included", () => {
  const range = { min: 2, max: 10 };
  assert.equal(parseCount("2", "n", range), 2);
  assert.equal(parseCount("10", "n", range), 10);
  assert.equal(parseCount("007", "n", range), 7);
  for (const bad of ["1", "11", "", " 5", "5 ", "-3", "3.0", "0x5", "1e1", "five"]) {
    assert.throws(
      () => parseCount(bad, "n", range),
      new Error(`Cannot parse --n: expected a whole number from 2 to 10, got "${bad}"`),
      JSON.stringify(bad),
    );
  }
});

Deno.test("parseConfig() reads the bearer token from --auth-token-file and NODE_HEAL_AUTH_TOKEN", async () => {
  await using dir = await tempDir();
  const file = await write(dir.path, "token", "  s3cret-token\n");
  const fromFile = parseConfig(["--auth-token-file", file], "serve", envOf());
  assert.deepEqual(fromFile.credentials?.bearerTokens, ["s3cret-token"]);
  const both = parseConfig(
    [],
    "serve",
    envOf({ NODE_HEAL_AUTH_TOKEN_FILE: file, NODE_HEAL_AUTH_TOKEN: " second\n" }),
  );
  assert.deepEqual(both.credentials?.bearerTokens, ["s3cret-token", "second"]);
  // A blank token in the environment is no token.
  const blank = parseConfig([], "serve", envOf({ NODE_HEAL_AUTH_TOKEN: "  " }));
  assert.deepEqual(blank.credentials?.bearerTokens, []);

  const empty = await write(dir.path, "empty", " \n\n");
  assert.throws(
    () => parseConfig(["--auth-token-file", empty], "serve", envOf()),
    new Error(`Cannot use --auth-token-file ${empty}: it is empty`),
  );
  const missing = join(dir.path, "missing");
  assert.throws(
    () => parseConfig(["--auth-token-file", missing], "serve", envOf()),
    (err: Error) => err.message.startsWith(`Cannot read --auth-token-file ${missing}: `),
  );
});

Deno.test("parseConfig() reads --basic-auth-file and both TLS files", async () => {
  await using dir = await tempDir();
  const users = await write(dir.path, "users", "# operators\nalice:pa:ss\n\n  bob:hunter2  \n");
  const config = parseConfig(["--basic-auth-file", users], "serve", envOf());
  assert.deepEqual(
    config.credentials?.basicUsers,
    new Map([["alice", "pa:ss"], ["bob", "hunter2"]]),
  );
  const bad = await write(dir.path, "bad-users", "alice:pw\nbob\n");
  assert.throws(
    () => parseConfig(["--basic-auth-file", bad], "serve", envOf()),
    new Error(`Cannot read --basic-auth-file ${bad}: line 2 must be user:password`),
  );

  const cert = await write(dir.path, "tls.crt", "CERT PEM");
  const key = await write(dir.path, "tls.key", "KEY PEM");
  const tls = parseConfig([], "serve", envOf({ NODE_HEAL_TLS_CERT: cert, NODE_HEAL_TLS_KEY: key }));
  assert.deepEqual(tls.tls, { cert: "CERT PEM", key: "KEY PEM" });
  const noKey = join(dir.path, "no.key");
  assert.throws(
    () => parseConfig(["--tls-cert", cert, "--tls-key", noKey], "serve", envOf()),
    (err: Error) => err.message.startsWith(`Cannot read --tls-key ${noKey}: `),
  );
});

Deno.test("parseConfig() loads the policy of --config, and refuses a bad one naming file and field", async () => {
  await using dir = await tempDir();
  const good = await write(
    dir.path,
    "policy.yaml",
    `rules:
  - name: disk
    match: ['alertname="NodeDiskPressure"']
    actions: [cordon]
acknowledge: [noHealOptIn]
gates:
  maxConcurrent: 2
`,
  );
  const config: Config = parseConfig(["--config", good], "serve", envOf());
  assert.deepEqual(config.policy?.rules.map((r) => [r.name, r.actions]), [["disk", ["cordon"]]]);
  assert.equal(config.policy?.gates.maxConcurrent, 2);
  // NODE_HEAL_CONFIG names the file too.
  const viaEnv = parseConfig([], "serve", envOf({ NODE_HEAL_CONFIG: good }));
  assert.equal(viaEnv.policy?.rules[0].name, "disk");

  const unknown = await write(dir.path, "unknown.yaml", "gates:\n  maxConcurent: 2\n");
  assert.throws(
    () => parseConfig(["--config", unknown], "serve", envOf()),
    (err: Error) =>
      err.message ===
        `Cannot load policy ${unknown}: unknown key "maxConcurent" in gates; did you mean "maxConcurrent"?`,
  );
  const wrongType = await write(dir.path, "type.yaml", "gates:\n  maxConcurrent: many\n");
  assert.throws(
    () => parseConfig(["--config", wrongType], "serve", envOf()),
    (err: Error) =>
      err.message.startsWith(`Cannot load policy ${wrongType}: field "gates.maxConcurrent"`) &&
      err.message.endsWith('got "many"'),
  );
  const notYaml = await write(dir.path, "broken.yaml", "rules: [\n");
  assert.throws(
    () => parseConfig(["--config", notYaml], "serve", envOf()),
    (err: Error) => err.message.startsWith(`Cannot load policy ${notYaml}: not YAML`),
  );
  const missing = join(dir.path, "nope.yaml");
  assert.throws(
    () => parseConfig(["--config", missing], "serve", envOf()),
    (err: Error) => err.message.startsWith(`Cannot load policy ${missing}: `),
  );
});

Deno.test("flagsOf() gives serve every flag but the dev-only ones, and dev all, in FLAGS order", () => {
  const all = Object.keys(FLAGS);
  assert.deepEqual(flagsOf("dev").map(([name]) => name), all);
  const serve = flagsOf("serve").map(([name]) => name);
  assert.deepEqual(serve, all.filter((name) => !FLAGS[name].devOnly));
  assert.ok(serve.includes("listen") && serve.includes("help"));
  assert.ok(serve.every((name) => !name.startsWith("embedded-")));
});

Deno.test("usage() lists each flag of its mode with its value, that mode's default and its variable", () => {
  for (const mode of ["serve", "dev", "cluster"] as const) {
    const text = usage(mode);
    for (const [name, flag] of flagsOf(mode)) {
      const line = text.split("\n").find((l) =>
        l.startsWith(`  --${name}`) && !l.startsWith(`  --${name}-`)
      );
      assert.ok(line, `${mode} usage lists --${name}`);
      if (flag.type === "string") {
        assert.equal(line, `  --${name} ${name.toUpperCase().replaceAll("-", "_")}`);
      } else {
        assert.equal(line, `  --${name}`);
      }
      assert.ok(text.includes(flag.help), `${mode} usage explains --${name}`);
      if (flag.env) assert.ok(text.includes(`; env ${flag.env}`), `${mode} names ${flag.env}`);
    }
  }
  assert.ok(!usage("serve").includes("embedded"));
  assert.match(usage("serve"), /\(default 0\.0\.0\.0:8000\); env NODE_HEAL_LISTEN/);
  assert.match(usage("dev"), /\(default 127\.0\.0\.1:8000\); env NODE_HEAL_LISTEN/);
  assert.match(
    usage("dev"),
    /--embedded-cluster\n.*\(default true\); env NODE_HEAL_EMBEDDED_CLUSTER/,
  );
  // An empty or false default is not shown.
  assert.doesNotMatch(usage("serve"), /\(default \)|\(default false\)/);
});

Deno.test("flagsOf() gives cluster mode the embedded cluster's size and address, logging and help, no webhook flag", () => {
  assert.deepEqual(flagsOf("cluster").map(([name]) => name), [
    "embedded-workers",
    "embedded-api-listen",
    "embedded-kubeconfig-out",
    "log-format",
    "log-level",
    "help",
  ]);
  // Its defaults are dev mode's.
  for (const [name, flag] of flagsOf("cluster")) assert.equal(flag.cluster, flag.dev, name);
  assert.match(
    usage("cluster"),
    /\(default 127\.0\.0\.1:6443\); env NODE_HEAL_EMBEDDED_API_LISTEN/,
  );
  assert.doesNotMatch(usage("cluster"), /--listen|--embedded-cluster|--kubeconfig /);
});

Deno.test("parseClusterConfig() reads the embedded cluster's flags and variables, dev's defaults", () => {
  assert.deepEqual(parseClusterConfig([], envOf()), {
    help: false,
    embedded: {
      listen: { hostname: "127.0.0.1", port: 6443 },
      workers: 3,
      kubeconfigOut: ".dev/kubeconfig",
    },
    logFormat: "pretty",
    logLevel: "info",
  });
  const config = parseClusterConfig(
    ["--embedded-workers", "7", "--embedded-api-listen=127.0.0.1:0", "--log-format", "json"],
    envOf({ NODE_HEAL_EMBEDDED_KUBECONFIG_OUT: "/tmp/kc", NODE_HEAL_LISTEN: "nowhere" }),
  );
  assert.deepEqual(config.embedded, {
    listen: { hostname: "127.0.0.1", port: 0 },
    workers: 7,
    kubeconfigOut: "/tmp/kc",
  });
  assert.equal(config.logFormat, "json");
  assert.equal(parseClusterConfig(["-h"], envOf()).help, true);
  // An empty path writes no kubeconfig.
  assert.equal(
    parseClusterConfig(["--embedded-kubeconfig-out="], envOf()).embedded.kubeconfigOut,
    undefined,
  );
});

Deno.test("parseClusterConfig() refuses node-heal's flags, naming where they go, and unknown ones", () => {
  for (const name of ["listen", "kubeconfig", "instance", "auth-token-file", "dry-run"]) {
    const args = FLAGS[name].type === "boolean" ? [`--${name}`] : [`--${name}=x`];
    assert.throws(
      () => parseClusterConfig(args, envOf()),
      new Error(
        `Cannot parse flags: --${name} is node-heal's, not the cluster's: deno task cluster runs ` +
          `the embedded API server alone; give --${name} to deno task serve --kubeconfig ` +
          `.dev/kubeconfig (or deno task dev)`,
      ),
      name,
    );
  }
  assert.throws(
    () => parseClusterConfig(["--embedded-cluster"], envOf()),
    /--embedded-cluster is node-heal's, .*give --embedded-cluster to deno task dev$/,
  );
  assert.throws(
    () => parseClusterConfig(["--bogus"], envOf()),
    /^Error: Cannot parse flags: Unknown option '--bogus'/,
  );
  assert.throws(
    () => parseClusterConfig(["--embedded-workers", "many"], envOf()),
    /Cannot parse --embedded-workers: expected a whole number from 0 to 100000, got "many"/,
  );
  assert.throws(
    () => parseClusterConfig([], envOf({ NODE_HEAL_EMBEDDED_API_LISTEN: "nowhere" })),
    /Cannot parse --embedded-api-listen: expected HOST:PORT/,
  );
});
