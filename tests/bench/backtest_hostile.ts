// What hostile Prometheus answers cost `node-heal backtest` under the shipped binary's heap: for
// each answer of tests/fakes/hostile_prometheus.ts, the exit code, the time, the peak RSS (from
// `ps`) and the first line of stderr. A run still going at 60 s is killed and shown as a hang.
// Prints a table, or with --json one JSON array; no figure is asserted. Not part of the tests.
//
//   deno run --allow-net=127.0.0.1,localhost --allow-read --allow-write --allow-run --allow-env \
//     tests/bench/backtest_hostile.ts
import {
  HOSTILE_ANSWERS,
  hostilePrometheus,
  runBacktestProcess,
} from "../fakes/hostile_prometheus.ts";

const rows = [];
for (const answer of HOSTILE_ANSWERS) {
  await using prom = hostilePrometheus(answer);
  const run = await runBacktestProcess(prom.url, { deadlineMs: 60_000 });
  const lines = run.stderr.split("\n").filter((l) => l.trim());
  rows.push({
    answer: answer.name,
    exit: run.hung ? "hung (killed at 60 s)" : run.code ?? run.signal,
    ms: run.ms,
    peakRssMiB: run.peakRssMiB,
    stderrLines: lines.length,
    first: (lines[0] ?? "").slice(0, 160),
  });
}
if (Deno.args.includes("--json")) console.log(JSON.stringify(rows, null, 2));
else {
  for (const r of rows) {
    console.log(
      `${r.answer.padEnd(44)} exit ${String(r.exit).padEnd(21)} ${
        String(r.ms).padStart(6)
      } ms  peak RSS ${String(r.peakRssMiB).padStart(4)} MiB  ${r.stderrLines} line(s): ${r.first}`,
    );
  }
}
