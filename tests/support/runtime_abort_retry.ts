// Runs a command (a `deno test` of one file) and runs it once more only if the Deno runtime
// itself died under it: SIGABRT (exit 134) or SIGSEGV (exit 139). Deno 2.9.6 aborts inside
// nghttp2 when an HTTP/2 session it holds receives a GOAWAY at the wrong moment
// (denoland/deno#36788, open), before any JavaScript runs: no test can catch it, and it is not
// node-heal's. A test that fails (exit 1) fails at once; a second runtime abort fails too.
const [command, ...args] = Deno.args;
if (!command) {
  console.error("usage: runtime_abort_retry.ts COMMAND [ARGS...]");
  Deno.exit(2);
}

/** Exit codes of a process killed by SIGABRT or SIGSEGV, as a shell reports them. */
const RUNTIME_DEATHS = new Set([134, 139]);

async function run(): Promise<number> {
  const { code, signal } = await new Deno.Command(command, { args }).spawn().status;
  if (signal === "SIGABRT") return 134;
  if (signal === "SIGSEGV") return 139;
  return code;
}

let code = await run();
if (RUNTIME_DEATHS.has(code)) {
  console.error(
    `runtime_abort_retry: the Deno runtime died under the test (exit ${code}; denoland/deno#36788); running it once more`,
  );
  code = await run();
}
Deno.exit(code);
