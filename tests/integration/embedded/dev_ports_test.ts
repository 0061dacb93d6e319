// A second `deno task dev` on the ports of one already running fails naming the port and its
// flag, and leaves the first one's kubeconfig as it was (it binds before it writes). `dev --help`
// shows dev mode's defaults.
import assert from "node:assert/strict";
import { waitFor } from "../../support/wait.ts";
import { freePort, logLines } from "../../support/processes.ts";

const DEV = new URL("../../../lib/dev/dev_mode.ts", import.meta.url).pathname;

function dev(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "--allow-write", "--allow-env", DEV, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function second(args: string[]) {
  const child = dev(args);
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    child.stdout.cancel(),
  ]);
  return { code: status.code, stderr };
}

Deno.test("a second dev mode on busy ports names the port and the flag, and leaves the kubeconfig intact", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-dev-ports-" });
  const kubeconfig = `${dir}/kubeconfig`;
  const [web, api] = [freePort(), freePort()];
  const common = [
    "--embedded-workers=1",
    "--log-format=json",
    `--embedded-kubeconfig-out=${kubeconfig}`,
  ];
  const first = dev([
    `--listen=127.0.0.1:${web}`,
    `--embedded-api-listen=127.0.0.1:${api}`,
    ...common,
  ]);
  const out = logLines(first.stdout);
  try {
    await waitFor(
      "the first's start-up line",
      () => out.records.find((r) => String(r.message).includes("listening on")),
      15_000,
    );
    const before = await Deno.readTextFile(kubeconfig);
    assert.ok(before.includes(`127.0.0.1:${api}`));

    const same = await second([
      `--listen=127.0.0.1:${web}`,
      `--embedded-api-listen=127.0.0.1:${api}`,
      ...common,
    ]);
    assert.equal(same.code, 2, same.stderr);
    assert.match(same.stderr, new RegExp(`--listen 127\\.0\\.0\\.1:${web} is in use`));
    assert.equal(await Deno.readTextFile(kubeconfig), before, "the kubeconfig is unchanged");

    // Another webhook port, the same API server port: that flag is named instead.
    const api2 = await second([
      `--listen=127.0.0.1:${freePort()}`,
      `--embedded-api-listen=127.0.0.1:${api}`,
      ...common,
    ]);
    assert.equal(api2.code, 2, api2.stderr);
    assert.match(api2.stderr, new RegExp(`--embedded-api-listen 127\\.0\\.0\\.1:${api} is in use`));
    assert.equal(await Deno.readTextFile(kubeconfig), before, "the kubeconfig is unchanged");
  } finally {
    first.kill("SIGTERM");
    await first.status;
    await first.stderr.cancel();
    await out.done;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dev --help shows dev mode's defaults, not serve's", async () => {
  const child = dev(["--help"]);
  const [status, stdout] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    child.stderr.cancel(),
  ]);
  assert.equal(status.code, 0);
  assert.match(stdout, /--listen LISTEN\n.*\(default 127\.0\.0\.1:8000\)/);
  assert.match(stdout, /--log-format LOG_FORMAT\n.*\(default pretty\)/);
  assert.match(stdout, /--embedded-kubeconfig-out .*\n.*\(default \.dev\/kubeconfig\)/);
  assert.doesNotMatch(stdout, /0\.0\.0\.0:8000/);
});
