// Issue 30: every usage error of every command (serve, backtest, dev, cluster) is one line on
// stderr that names what to change, and exit code 2; -v and --version print the version in each.
// Each case runs the real process, with the permissions of its `deno task`.
import assert from "node:assert/strict";
import { VERSION } from "../../../lib/base/version.ts";
import { backtestArgs, clusterModeArgs, serveArgs } from "../../support/processes.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;
const DEV = new URL("../../../lib/dev/dev_mode.ts", import.meta.url).pathname;

type Command = "main" | "serve" | "backtest" | "dev" | "cluster";

/** The `deno run` arguments of a command, with its task's permissions, writing only under `dir`. */
function argsOf(command: Command, dir: string, args: string[]): string[] {
  const net = "--allow-net=127.0.0.1,localhost";
  switch (command) {
    case "main":
      return ["run", "--allow-read", "--allow-env", MAIN, ...args];
    case "serve":
      return serveArgs(args);
    case "backtest":
      return backtestArgs(args, dir);
    case "dev":
      return ["run", net, "--allow-read", `--allow-write=${dir}`, "--allow-env", DEV, ...args];
    case "cluster":
      return clusterModeArgs(dir, args);
  }
}

async function run(command: Command, dir: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: argsOf(command, dir, args),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** One case: a command line, the one line it must print on stderr, and its exit code. */
interface Case {
  command: Command;
  args: string[];
  line: RegExp;
  code?: number;
}

function cases(dir: string, busy: number): Case[] {
  const at = `127.0.0.1:${busy}`;
  const port = (flag: string) =>
    new RegExp(`--${flag} 127\\.0\\.0\\.1:${busy} is in use .*give --${flag} a free address$`);
  const kube = `--embedded-kubeconfig-out=${dir}/kubeconfig`;
  return [
    // Unknown flags, in every command, named (clipped), with the nearest flag when one is near.
    {
      command: "serve",
      args: ["--lisen", "127.0.0.1:0"],
      line: /^node-heal: Cannot parse flags: Unknown option '--lisen'; did you mean --listen\?$/,
    },
    {
      command: "serve",
      args: ["--bogus"],
      line: /^node-heal: Cannot parse flags: Unknown option '--bogus'$/,
    },
    {
      command: "serve",
      args: [`--${"x".repeat(5000)}`],
      line: /^node-heal: Cannot parse flags: Unknown option '--x{57}…'$/,
    },
    {
      command: "serve",
      args: ["--embedded-workers=2"],
      line:
        /Unknown option '--embedded-workers': it is dev mode's, for its embedded cluster \(deno task dev\)$/,
    },
    {
      command: "backtest",
      args: ["--bogus"],
      line: /^node-heal backtest: Unknown option '--bogus'; see node-heal backtest --help$/,
    },
    {
      command: "dev",
      args: ["--embeded-workers=2"],
      line:
        /^node-heal: Cannot parse flags: Unknown option '--embeded-workers'; did you mean --embedded-workers\?$/,
    },
    {
      command: "cluster",
      args: ["--bogus"],
      line:
        /^node-heal cluster: Cannot parse flags: Unknown option '--bogus'; see deno task cluster --help$/,
    },
    {
      command: "cluster",
      args: ["--listen", "127.0.0.1:0"],
      line:
        /^node-heal cluster: Cannot parse flags: --listen is node-heal's, not the cluster's: .*; see deno task cluster --help$/,
    },
    // Malformed values.
    {
      command: "serve",
      args: ["--request-timeout", "soon"],
      line:
        /^node-heal: Cannot parse --request-timeout: expected a duration such as 90s, 5m or 4h \(at most 24h\), got "soon"$/,
    },
    {
      command: "dev",
      args: ["--log-format", "xml"],
      line: /^node-heal: Cannot parse --log-format: expected json or pretty, got "xml"$/,
    },
    // Commands.
    {
      command: "main",
      args: [],
      line: /^node-heal: Give a command, "serve" or "backtest"; see node-heal --help$/,
    },
    {
      command: "main",
      args: ["srve"],
      line:
        /^node-heal: Unknown command "srve"; expected "serve" or "backtest"; see node-heal --help$/,
    },
    // Policies: an unknown key with the nearest valid key; YAML with its line and a caret.
    {
      command: "serve",
      args: ["--config", `${dir}/macth.yaml`],
      line: new RegExp(
        `^node-heal: Cannot load policy ${dir}/macth\\.yaml: unknown key "macth" in rules\\[0\\]; did you mean "match"\\?$`,
      ),
    },
    {
      command: "dev",
      args: ["--config", `${dir}/indent.yaml`],
      line:
        /: not YAML at line 4, column 1: All mapping items must start at the same column: "\^ {2}actions: \[cordon\]"$/,
    },
    // Busy addresses: the address and its flag.
    { command: "serve", args: ["--listen", at], line: port("listen") },
    { command: "dev", args: ["--listen", at, kube], line: port("listen") },
    {
      command: "dev",
      args: ["--listen=127.0.0.1:0", "--embedded-api-listen", at, kube],
      line: port("embedded-api-listen"),
    },
    {
      command: "cluster",
      args: ["--embedded-api-listen", at, kube],
      line: port("embedded-api-listen"),
    },
  ];
}

Deno.test("every usage error of every command is one line on stderr naming what to change, and exit code 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-usage-" });
  await Deno.writeTextFile(
    `${dir}/macth.yaml`,
    `rules:\n  - name: heal\n    macth: ['heal="true"']\n    actions: [cordon]\n`,
  );
  await Deno.writeTextFile(
    `${dir}/indent.yaml`,
    `rules:\n  - name: heal\n    match: ['heal="true"']\n  actions: [cordon]\n`,
  );
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    for (const c of cases(dir, (listener.addr as Deno.NetAddr).port)) {
      const what = `${c.command} ${c.args.join(" ").slice(0, 100)}`;
      const { code, stdout, stderr } = await run(c.command, dir, c.args);
      const lines = stderr.split("\n").filter((l) => l.trim() !== "");
      assert.equal(lines.length, 1, `${what}: one line, got:\n${stderr.slice(0, 2000)}`);
      assert.match(lines[0], c.line, what);
      assert.ok(lines[0].length <= 1100, `${what}: a short line`);
      assert.equal(code, c.code ?? 2, `${what}: ${stderr}`);
      assert.equal(stdout, "", what);
    }
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "indent.yaml",
      "macth.yaml",
    ], "no kubeconfig written");
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-v and --version print node-heal's version in every command, and exit 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node-heal-version-" });
  const line = `node-heal ${VERSION} (deno ${Deno.version.deno})\n`;
  try {
    const runs: [Command, string[]][] = [
      ["main", ["-v"]],
      ["main", ["--version"]],
      ["serve", ["-v"]],
      ["serve", ["--listen", "127.0.0.1:0", "--version"]],
      ["backtest", ["-v"]],
      ["backtest", ["--version"]],
      ["dev", ["-v"]],
      ["dev", ["--version"]],
      ["cluster", ["-v"]],
      ["cluster", ["--version"]],
    ];
    for (const [command, args] of runs) {
      const { code, stdout, stderr } = await run(command, dir, args);
      assert.equal(code, 0, `${command} ${args.join(" ")}: ${stderr}`);
      assert.equal(stdout, line, `${command} ${args.join(" ")}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
