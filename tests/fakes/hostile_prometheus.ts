// Hostile answers of a Prometheus to the backtest's queries, and `node-heal backtest` run against
// them as a process under the shipped binary's heap: its exit code, its stderr, how long it took and
// its peak RSS. Shared by tests/integration/backtest/backtest_hostile_test.ts and tests/bench/backtest_hostile.ts.
import { PRODUCTION_V8_FLAGS, rssMiB } from "../support/processes.ts";
import { type PrometheusRequest, startFakePrometheus, steps, success } from "./prometheus.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** The window every hostile run asks for: two hours, one range request at the default step. */
export const WINDOW = ["--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T02:00:00Z"];

const ALERT = { alertname: "NodeHighCPU", heal: "true", instance: "10.0.1.1:9100" };
const NODE = { node: "worker-1", internal_ip: "10.0.1.1" };
const HEAD = '{"status":"success","data":{"resultType":"matrix","result":[';
const TAIL = "]}}";

/** A body of `HEAD`, then `item(i)` joined by `separator` until `bytes`, then `TAIL`, made as it is sent. */
function streamed(bytes: number, item: (i: number) => string, separator = ","): Response {
  const encoder = new TextEncoder();
  let sent = 0, i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes) {
        controller.enqueue(encoder.encode(TAIL));
        controller.close();
        return;
      }
      let text = sent === 0 ? HEAD : "";
      while (text.length < 65_536) text += (i === 0 ? "" : separator) + item(i++);
      sent += text.length;
      controller.enqueue(encoder.encode(text));
    },
  });
  return new Response(body, { headers: { "content-type": "application/json" } });
}

/** One hostile answer to the ALERTS range query. */
export interface HostileAnswer {
  name: string;
  range(request: PrometheusRequest): Response;
}

/** The answers issue 27 names: 200 MB, 2 M empty series, a sample at t=1e15, values not numbers. */
export const HOSTILE_ANSWERS: HostileAnswer[] = [
  {
    name: "200 MB of series, streamed",
    range: ({ form }) => {
      const values = steps(form).map((t) => `[${t},"${t}"]`).join(",");
      return streamed(
        200e6,
        (i) => `{"metric":{"alertname":"Big","heal":"true","i":"${i}"},"values":[${values}]}`,
      );
    },
  },
  {
    name: "200 MB of white space in one answer",
    range: () => streamed(200e6, () => " ".repeat(65_536), ""),
  },
  {
    name: "2 M empty series",
    range: () =>
      streamed(78e6, (i) => `{"metric":{"i":"${String(i).padStart(7, "0")}"},"values":[]}`),
  },
  {
    name: "one sample at t=1e15",
    range: () => success("matrix", [{ metric: ALERT, values: [[1e15, "1000000000000000"]] }]),
  },
  {
    name: 'timestamp() "1e15" at a time in the window',
    range: ({ form }) =>
      success("matrix", [{ metric: ALERT, values: [[steps(form)[0], "1000000000000000"]] }]),
  },
  {
    name: 'a value "NaN"',
    range: ({ form }) => success("matrix", [{ metric: ALERT, values: [[steps(form)[0], "NaN"]] }]),
  },
  {
    name: 'a value "garbage"',
    range: ({ form }) =>
      success("matrix", [{ metric: ALERT, values: [[steps(form)[0], "garbage"]] }]),
  },
  {
    name: "a time that is a string",
    range: () => success("matrix", [{ metric: ALERT, values: [["1793491200", "1793491200"]] }]),
  },
];

/** A fake Prometheus answering the range query with `answer` and the instant ones with one Node. */
export function hostilePrometheus(answer: HostileAnswer) {
  return startFakePrometheus((r) => {
    if (r.path === "query_range") return answer.range(r);
    const info = r.form.get("query")!.includes("kube_node_info");
    return success("vector", info ? [{ metric: NODE, value: [0, "1"] }] : []);
  });
}

/** What a backtest process did: its exit code or the signal that ended it, stderr, time, peak RSS. */
export interface Run {
  code?: number;
  /** The signal that ended it: SIGKILL at the deadline (a hang), SIGABRT or SIGTRAP from V8 (out of heap). */
  signal?: string;
  /** It was still running at the deadline. */
  hung: boolean;
  stderr: string;
  ms: number;
  peakRssMiB: number;
}

/**
 * Runs `main.ts backtest` against `url` with the permissions of `deno task backtest` and the heap
 * of the shipped binary; kills it at `deadlineMs`. RSS is read from `ps` every 50 ms.
 */
export async function runBacktestProcess(
  url: string,
  options: { args?: string[]; deadlineMs?: number } = {},
): Promise<Run> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      PRODUCTION_V8_FLAGS,
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      MAIN,
      "backtest",
      "--prometheus",
      url,
      ...WINDOW,
      ...(options.args ?? []),
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let peak = 0, ended = false;
  const sampling = (async () => {
    while (!ended) {
      peak = Math.max(peak, await rssMiB(child.pid).catch(() => 0));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, options.deadlineMs ?? 60_000);
  const status = await child.status;
  ended = true;
  clearTimeout(timer);
  await sampling;
  return {
    ...(status.signal === null ? { code: status.code } : { signal: status.signal }),
    hung,
    stderr: await stderr,
    ms: Math.round(performance.now() - started),
    peakRssMiB: Math.round(peak),
  };
}
