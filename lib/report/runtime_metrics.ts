// The process and runtime metrics Prometheus users expect beside node-heal's own: build info,
// memory, CPU, file descriptors, start time and event-loop lag. Read at scrape time from the
// runtime (no /proc: Deno asks for --allow-all to read /proc/self, which node-heal never has).
import process from "node:process";
import { Counter, Gauge, type Registry } from "prom-client";
import { VERSION } from "../base/version.ts";

/** How often the event loop's lag is sampled: often enough to see a stall, cheap enough to ignore. */
export const LAG_SAMPLE_MS = 500;

/** The process's start, in seconds since the epoch (the runtime's time origin). */
const START_SECONDS = performance.timeOrigin / 1000;

/** The runtime metrics of one registry; the lag sampler runs only between start() and stop(). */
export class RuntimeMetrics {
  /** The largest lag seen since the last scrape (seconds); reset by each scrape. */
  #lag = 0;
  #timer?: ReturnType<typeof setInterval>;

  constructor(registry: Registry) {
    const registers = [registry];
    new Gauge({
      name: "nodeheal_build_info",
      help: "Always 1: node-heal's version and the Deno version it runs on, as labels.",
      labelNames: ["version", "deno"] as const,
      registers,
    }).set({ version: VERSION, deno: Deno.version.deno }, 1);
    new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      registers,
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
    new Gauge({
      name: "nodeheal_heap_used_bytes",
      help: "V8 heap in use, in bytes (the Deployment's memory limit is sized on it).",
      registers,
      collect() {
        this.set(Deno.memoryUsage().heapUsed);
      },
    });
    let counted = 0;
    new Counter({
      name: "process_cpu_seconds_total",
      help: "User and system CPU time spent, in seconds.",
      registers,
      collect() {
        const { user, system } = process.cpuUsage();
        const total = (user + system) / 1e6;
        // A counter only goes up: add what was spent since the last scrape.
        if (total > counted) this.inc(total - counted);
        counted = Math.max(counted, total);
      },
    });
    new Gauge({
      name: "process_start_time_seconds",
      help: "Start time of the process since the Unix epoch, in seconds.",
      registers,
    }).set(START_SECONDS);
    if (openFds() !== undefined) {
      new Gauge({
        name: "process_open_fds",
        help: "Open file descriptors (listed only where /proc/self/fd can be read).",
        registers,
        collect() {
          const n = openFds();
          if (n !== undefined) this.set(n);
        },
      });
    }
    const lag = () => {
      const seen = this.#lag;
      this.#lag = 0;
      return seen;
    };
    new Gauge({
      name: "nodeheal_event_loop_lag_seconds",
      help:
        `The largest delay of a ${LAG_SAMPLE_MS} ms timer since the last scrape, in seconds: how long the event loop was kept from running callbacks.`,
      registers,
      collect() {
        this.set(lag());
      },
    });
  }

  /** Starts sampling the event loop's lag (a timer that does not keep the process alive). */
  start(): void {
    if (this.#timer !== undefined) return;
    let expected = performance.now() + LAG_SAMPLE_MS;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#lag = Math.max(this.#lag, Math.max(0, now - expected) / 1000);
      expected = now + LAG_SAMPLE_MS;
    }, LAG_SAMPLE_MS);
    Deno.unrefTimer(this.#timer);
  }

  /** Stops the lag sampler. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Open file descriptors, or undefined where /proc/self/fd cannot be read: Deno allows it only
 * with --allow-all. The permission is queried first so that reading never prompts.
 */
function openFds(): number | undefined {
  const path = "/proc/self/fd";
  try {
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return undefined;
    let n = 0;
    for (const _ of Deno.readDirSync(path)) n++;
    return n;
  } catch {
    return undefined;
  }
}
