// What a hostile notification receiver costs `main.ts serve` (production heap flags), measured from
// outside the process: its RSS from ps, whether it still answers, the notification metrics.
//
//   deno run -A tests/bench/notify_hostile.ts answer 100   # a webhook sink answering 200 + 100 MB
//   deno run -A tests/bench/notify_hostile.ts hung 300     # a hung receiver, 300 cordon/release
//                                                          # cycles of alerts with 60 labels of 4,000
// Prints one JSON object. Not a test: tests/integration/report/notify_hostile_test.ts asserts the bounds.
import { rssMiB } from "../support/processes.ts";
import {
  hugeLabels,
  hungReceiver,
  policyWith,
  startNotifyingServe,
  streamingReceiver,
  workerAlert,
} from "../support/notify_process.ts";

const [scenario = "answer", arg = "100"] = Deno.args;
const result: Record<string, unknown> = { scenario, arg: Number(arg) };

async function alive(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
    await r.body?.cancel();
    return r.ok;
  } catch {
    return false;
  }
}

if (scenario === "answer") {
  await using receiver = streamingReceiver(Number(arg) * 1024 * 1024);
  const s = await startNotifyingServe(
    policyWith(`{ name: hook, type: webhook, url: "${receiver.url}" }`),
  );
  const before = await rssMiB(s.pid);
  let peak = before;
  const t0 = performance.now();
  result.firing = await s.post("firing", [workerAlert("firing", 1)]);
  // Until the receiver's answer ended (read whole, or cancelled) or the process died; 60 s at most.
  while (performance.now() - t0 < 60_000) {
    const rss = await rssMiB(s.pid);
    if (rss === 0) break; // gone
    peak = Math.max(peak, rss);
    const sent = await s.metric('nodeheal_notifications_total{sink="hook",result="sent"}').catch(
      () => -1,
    );
    if (sent >= 1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 500));
  peak = Math.max(peak, await rssMiB(s.pid));
  result.rss_before_mib = Number(before.toFixed(1));
  result.rss_peak_mib = Number(peak.toFixed(1));
  result.rss_growth_mib = Number((peak - before).toFixed(1));
  result.receiver_bytes_pulled = receiver.state.pulled;
  result.seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
  result.alive = await alive(s.url);
  result.sent = result.alive
    ? await s.metric('nodeheal_notifications_total{sink="hook",result="sent"}')
    : "n/a";
  const ended = await s.close().catch((e) => ({ code: -1, stderr: String(e) }));
  result.exit_code = ended.code;
  result.stderr_tail = ended.stderr.slice(-300);
} else if (scenario === "hung") {
  await using receiver = hungReceiver();
  const s = await startNotifyingServe(
    policyWith(`{ name: hook, type: webhook, url: "${receiver.url}" }`),
  );
  const before = await rssMiB(s.pid);
  const cycles = Number(arg);
  const statuses = new Map<number, number>();
  const t0 = performance.now();
  let peak = before;
  for (let i = 0; i < cycles; i++) {
    const labels = hugeLabels(60, 4000, i);
    for (const status of ["firing", "resolved"] as const) {
      let code: number;
      try {
        code = await s.post(status, [workerAlert(status, i, labels)]);
      } catch {
        code = 0; // the connection failed: the process is gone
      }
      statuses.set(code, (statuses.get(code) ?? 0) + 1);
      if (code === 0) break;
    }
    if (statuses.has(0)) {
      result.died_at_cycle = i;
      break;
    }
    if (i % 20 === 0) peak = Math.max(peak, await rssMiB(s.pid));
  }
  peak = Math.max(peak, await rssMiB(s.pid));
  result.rss_before_mib = Number(before.toFixed(1));
  result.rss_peak_mib = Number(peak.toFixed(1));
  result.rss_growth_mib = Number((peak - before).toFixed(1));
  result.answers = Object.fromEntries(statuses);
  result.seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
  result.alive = await alive(s.url);
  result.dropped = result.alive
    ? await s.metric('nodeheal_notifications_total{sink="hook",result="dropped"}')
    : "n/a";
  result.receiver_requests = receiver.state.requests;
  const ended = await s.close().catch((e) => ({ code: -1, stderr: String(e) }));
  result.exit_code = ended.code;
  result.stderr_tail = ended.stderr.slice(-300);
}
console.log(JSON.stringify(result));
