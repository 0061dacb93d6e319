// makeSinks (lib/report/notify/sinks.ts): each secret read at start-up from a file or the
// environment; a missing one fails naming the field, never quoting a secret.
import assert from "node:assert/strict";
import { makeSinks } from "../../../../lib/report/notify/sinks.ts";
import type { SinkConfig } from "../../../../lib/decide/notify_policy.ts";

const base = { match: [], queue: 10, blockedEveryMs: 600_000 };
const SLACK_URL = "https://hooks.slack.com/services/T0/B0/s3cr3tt0ken";
const files: Record<string, string> = {
  "/s/slack": `${SLACK_URL}\n`,
  "/s/pd": "0123456789abcdef0123456789abcdef\n",
  "/s/hook": "hmac-key",
  "/s/empty": "\n",
  "/s/http": "http://hooks.example.com/services/T0/B0/s3cr3tt0ken",
};
const deps = {
  env: (name: string) => name === "PD_KEY" ? "0123456789abcdef0123456789abcdef" : undefined,
  readTextFile: (path: string) =>
    path in files
      ? Promise.resolve(files[path])
      : Promise.reject(new Error(`No such file or directory (os error 2): readfile '${path}'`)),
};

Deno.test("makeSinks: one sink per config, in order, secrets from files and the environment", async () => {
  const configs: SinkConfig[] = [
    { ...base, name: "ops-slack", type: "slack", secret: { file: "/s/slack" } },
    {
      ...base,
      name: "pd",
      type: "pagerduty",
      secret: { env: "PD_KEY" },
      url: "https://events.pagerduty.com/v2/enqueue",
    },
    {
      ...base,
      name: "hook",
      type: "webhook",
      url: "https://x.example/h",
      secret: { file: "/s/hook" },
      headers: {},
    },
    { ...base, name: "dev", type: "log" },
  ];
  const sinks = await makeSinks(configs, deps);
  assert.deepEqual(sinks.map((s) => [s.name, s.type]), [
    ["ops-slack", "slack"],
    ["pd", "pagerduty"],
    ["hook", "webhook"],
    ["dev", "log"],
  ]);
  assert.ok(sinks[1].kinds && !sinks[1].kinds.has("drainStarted"));
  // A sink printed (a log's object, /status) shows no secret.
  for (const s of sinks) {
    assert.ok(
      !JSON.stringify(s).includes("s3cr3tt0ken") && !JSON.stringify(s).includes("0123456789abcdef"),
    );
  }
});

Deno.test("makeSinks: a missing or bad secret fails naming the field, never its value", async () => {
  const cases: [SinkConfig, RegExp][] = [
    [
      { ...base, name: "a", type: "slack", secret: { file: "/x" } },
      /^notify\[0\]\.urlFile: cannot read the file \/x: Error$/,
    ],
    [
      { ...base, name: "a", type: "slack", secret: { env: "SLACK_URL" } },
      /^notify\[0\]\.urlEnv: the environment variable it names is not set or empty$/,
    ],
    [
      { ...base, name: "a", type: "slack", secret: { file: "/s/empty" } },
      /^notify\[0\]\.urlFile: the file \/s\/empty is empty/,
    ],
    [
      { ...base, name: "a", type: "slack", secret: { file: "/s/http" } },
      /^notify\[0\]\.urlFile: must be an https:\/\/ URL/,
    ],
    [
      { ...base, name: "a", type: "slack", secret: { file: "/s/hook" } },
      /^notify\[0\]\.urlFile: not a URL/,
    ],
    [
      {
        ...base,
        name: "a",
        type: "pagerduty",
        secret: { file: "/s/hook" },
        url: "https://e/v2/enqueue",
      },
      /^notify\[0\]\.routingKeyFile: a routing key is 32 letters and digits \(got 8 characters\)/,
    ],
  ];
  for (const [config, expected] of cases) {
    const err = await makeSinks([config], deps).then(() => undefined, (e: Error) => e);
    assert.ok(err, `${config.secret} should fail`);
    assert.match(err.message, expected);
    assert.ok(
      !err.message.includes("s3cr3tt0ken") && !err.message.includes("hmac-key"),
      err.message,
    );
  }
});

Deno.test("makeSinks: a Slack URL over http is taken only to loopback", async () => {
  for (const host of ["127.0.0.1:8080", "localhost"]) {
    const sinks = await makeSinks([{ ...base, name: "a", type: "slack", secret: { env: "U" } }], {
      env: () => `http://${host}/services/x`,
    });
    assert.equal(sinks.length, 1);
  }
});
